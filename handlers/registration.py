"""Member registration: name, KIM group, desa/kelurahan, kecamatan, phone (contact button)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.dialogs import clear_dialog, set_dialog
from bot.errors import KimError
from bot.models import Dialog
from bot.people import Profile, clean_phone, clean_text, register_member
from handlers import callbacks
from handlers.common import Reply, contact_keyboard, remove_keyboard, send_replies
from handlers.context import Turn, turn
from handlers.render import keyboard

FIELDS = ("full_name", "kim_group", "village", "district", "phone")


def begin(t: Turn) -> list[Reply]:
    """Start (or restart) registration at the first question."""
    assert t.user.id is not None
    set_dialog(t.session, t.svc.clock, t.user.id, "reg_full_name", {})
    return [Reply(t.t("reg.welcome")), Reply(t.t("reg.ask_full_name"))]


def resume(t: Turn) -> list[Reply]:
    """Repeat the current registration question, or start registration."""
    assert t.user.id is not None
    dialog = t.session.get(Dialog, t.user.id)
    if dialog is None or not dialog.state.startswith("reg_"):
        return begin(t)
    field = dialog.state.removeprefix("reg_")
    if field == "office":
        return [Reply(t.t("reg.ask_office"), _office_keyboard(t))]
    return [_ask(t, field)]


def _ask(t: Turn, field: str) -> Reply:
    if field == "phone":
        return Reply(t.t("reg.ask_phone"), contact_keyboard(t.t("button.share_contact")))
    return Reply(t.t(f"reg.ask_{field}"))


def on_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """Take the answer to the current registration question."""
    message = update.effective_message
    assert message is not None
    assert t.user.id is not None
    field = dialog.state.removeprefix("reg_")
    data = dict(dialog.data)
    if field == "office":
        return [Reply(t.t("reg.ask_office"), _office_keyboard(t))]
    if field == "phone":
        if message.contact is not None:
            # The contact button always carries the sender's own user id; a contact picked
            # from the address book carries another id, or none at all.
            sender = message.from_user.id if message.from_user else None
            if message.contact.user_id is None or message.contact.user_id != sender:
                return [Reply(t.t("error.contact_not_yours"))]
            value = clean_phone(message.contact.phone_number)
        elif message.text:
            value = clean_phone(message.text)
        else:
            return [_ask(t, field)]
    else:
        if not message.text:
            return [Reply(t.t("error.expect_text")), _ask(t, field)]
        value = clean_text(message.text)
    data[field] = value
    index = FIELDS.index(field)
    if index + 1 < len(FIELDS):
        set_dialog(t.session, t.svc.clock, t.user.id, f"reg_{FIELDS[index + 1]}", data)
        return [_ask(t, FIELDS[index + 1])]
    offices = list(t.svc.registry.offices)
    if len(offices) > 1:
        set_dialog(t.session, t.svc.clock, t.user.id, "reg_office", data)
        return [Reply(t.t("reg.phone_ok"), remove_keyboard()),
                Reply(t.t("reg.ask_office"), _office_keyboard(t))]
    return [Reply(_finish(t, data, offices[0]), remove_keyboard())]


def _office_keyboard(t: Turn) -> object:
    return keyboard([[(o.name, callbacks.office(o.code))]
                     for o in t.svc.registry.offices.values()])


def _finish(t: Turn, data: dict[str, str], office: str) -> str:
    assert t.user.id is not None
    register_member(t.session, t.svc.clock, t.user, Profile(office=office, **data))
    clear_dialog(t.session, t.user.id)
    return t.t("reg.done", name=t.user.full_name or "",
               office=t.svc.registry.offices[office].name)


async def on_office(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Record the office a member belongs to and finish registration."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.OFFICE, query.data)
    replies: list[Reply] = []
    with turn(update, context) as t:
        dialog = t.session.get(Dialog, t.user.id)
        if groups is None or groups[0] not in t.svc.registry.offices:
            answer, replies = t.t("error.forged"), []
        elif dialog is None or dialog.state != "reg_office":
            answer, replies = t.t("error.stale_button"), []
        else:
            try:
                answer, replies = "", [Reply(_finish(t, dict(dialog.data), groups[0]))]
            except KimError as exc:
                answer, replies = t.t(exc.key, **exc.params), []
    await query.answer(answer or None, show_alert=bool(answer))
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(on_office, pattern=callbacks.OFFICE))
