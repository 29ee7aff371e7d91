"""A member's own data (UU PDP): /dataku shows it, /hapus_data erases it after a confirmation."""

from __future__ import annotations

import secrets

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot import admin as admin_core
from bot.dialogs import clear_dialog, get_dialog, set_dialog
from bot.errors import KimError
from handlers import callbacks, render
from handlers.common import Reply, send_replies
from handlers.context import Turn, turn

LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}
ERASE_STATE = "erase"


def _data_text(t: Turn) -> str:
    data = admin_core.personal_data(t.session, t.svc.clock, t.user)
    offices = t.svc.registry.offices
    office = offices.get(data.office or "")
    zone = office.timezone if office else next(iter(offices.values())).timezone

    def place(code: str) -> str:
        return offices[code].short_name if code in offices else code

    roles = [f"{t.svc.tr.role(t.lang, role)} ({place(o)})" for o, role in data.roles]
    roles += [t.t("privacy.acting", role=t.svc.tr.role(t.lang, role), office=place(o))
              for o, role in data.acting]
    if data.language in LANGUAGE_NAMES:
        language = LANGUAGE_NAMES[data.language]
    else:
        language = t.t("privacy.lang_auto",
                       lang_name=LANGUAGE_NAMES.get(t.lang, t.lang))
    return t.t(
        "privacy.data", full_name=data.full_name or "-", display_name=data.display_name or "-",
        external_id=data.external_id, kim_group=data.kim_group or "-",
        village=data.village or "-", district=data.district or "-", phone=data.phone or "-",
        office=office.name if office else "-",
        registered=t.svc.tr.when(t.lang, data.registered_at, zone) if data.registered_at
        else "-",
        lang_name=language,
        subscribed=t.t("privacy.subscribed_yes" if data.subscribed else "privacy.subscribed_no"),
        roles=", ".join(roles) or "-", cases=data.cases, attachments=data.attachments)


async def my_data(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the personal data the bot holds about the sender (/dataku)."""
    with turn(update, context) as t:
        replies = [Reply(_data_text(t))]
    await send_replies(update, replies)


async def erase_data(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask for confirmation before erasing (/hapus_data)."""
    with turn(update, context) as t:
        assert t.user.id is not None
        if admin_core.holds_office_role(t.session, t.svc.clock, t.user):
            replies = [Reply(t.t("privacy.erase_official"))]
        else:
            nonce = secrets.token_urlsafe(6)[:8]
            set_dialog(t.session, t.svc.clock, t.user.id, ERASE_STATE, {"nonce": nonce})
            cases = admin_core.personal_data(t.session, t.svc.clock, t.user).cases
            rows = [[(t.t("button.erase_yes"), callbacks.erase("yes", nonce))],
                    [(t.t("button.erase_no"), callbacks.erase("no", nonce))]]
            replies = [Reply(t.t("privacy.erase_confirm", cases=cases), render.keyboard(rows))]
    await send_replies(update, replies)


async def on_erase(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The answer to the /hapus_data question (only the question asked last counts)."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.ERASE, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        assert t.user.id is not None
        dialog = get_dialog(t.session, t.user.id)
        if groups is None:
            answer = t.t("error.forged")
        elif (dialog is None or dialog.state != ERASE_STATE
              or dialog.data.get("nonce") != groups[1]):
            answer = t.t("error.stale_button")
        elif groups[0] == "no":
            clear_dialog(t.session, t.user.id)
            replies = [Reply(t.t("privacy.erase_cancelled"))]
        else:
            try:
                with t.session.begin_nested():
                    done = admin_core.erase_personal_data(t.session, t.svc.clock, t.user)
                replies = [Reply(t.t("privacy.erased", cases=done.cases_kept))]
            except KimError as exc:
                clear_dialog(t.session, t.user.id)
                answer = t.t(exc.key, **exc.params)
    await query.answer(answer or None, show_alert=bool(answer))
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["dataku", "mydata"], my_data))
    app.add_handler(CommandHandler(["hapus_data", "erase_data"], erase_data))
    app.add_handler(CallbackQueryHandler(on_erase, pattern=callbacks.ERASE))
