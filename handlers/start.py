"""/start (with invitation codes), /bahasa, /bantuan and unknown commands."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.errors import KimError
from bot.people import accept_invitation, bindings_of, set_language
from handlers import callbacks, render
from handlers.common import Reply, send_replies
from handlers.context import Turn, turn
from handlers.registration import begin as begin_registration

INVITE_CODE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


def _help(t: Turn) -> Reply:
    assert t.user.id is not None
    lines = [t.t("help.member")]
    if bindings_of(t.session, t.user.id):
        lines.append(t.t("help.official") + "\n" + t.t("help.casework"))
    if t.svc.is_admin(t.user.external_id):
        lines.append(t.t("help.admin"))
    return Reply("\n\n".join(lines))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, accept an invitation code, or begin registration."""
    args = context.args or []
    with turn(update, context) as t:
        assert t.user.id is not None
        if args:
            replies = _invitation(t, args[0])
        elif t.user.registered_at is None and not bindings_of(t.session, t.user.id):
            replies = begin_registration(t)
        else:
            name = t.user.full_name or t.user.display_name
            replies = [Reply(t.t("start.back", name=name)), _help(t)]
    await send_replies(update, replies)


def _invitation(t: Turn, code: str) -> list[Reply]:
    if not INVITE_CODE.match(code):
        return [Reply(t.t("error.invitation_unknown"))]
    try:
        with t.session.begin_nested():
            binding = accept_invitation(t.session, t.svc.clock, t.user, code)
    except KimError as exc:
        return [Reply(t.t(exc.key, **exc.params))]
    office = t.svc.registry.offices.get(binding.office)
    return [Reply(t.t("invite.accepted", role=t.svc.tr.role(t.lang, binding.role),
                      office=office.name if office else binding.office)), _help(t)]


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands this person can use."""
    with turn(update, context) as t:
        replies = [_help(t)]
    await send_replies(update, replies)


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer the languages (/bahasa)."""
    with turn(update, context) as t:
        rows = [[("Bahasa Indonesia", callbacks.lang("id")), ("English", callbacks.lang("en"))]]
        replies = [Reply(t.t("lang.choose"), render.keyboard(rows))]
    await send_replies(update, replies)


async def on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Switch the person's language."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.LANG, query.data)
    with turn(update, context) as t:
        if groups is None:
            answer, text = t.t("error.forged"), ""
        else:
            set_language(t.session, t.user, groups[0])
            t.lang = groups[0]
            answer, text = "", t.t("lang.set")
    await query.answer(answer or None, show_alert=bool(answer))
    if text:
        await query.edit_message_text(text)


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a command we do not know."""
    with turn(update, context) as t:
        replies = [Reply(t.t("error.unknown_command"))]
    await send_replies(update, replies)


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press no handler recognised (forged or garbled data) with an alert."""
    query = update.callback_query
    assert query is not None
    with turn(update, context) as t:
        answer = t.t("error.forged")
    await query.answer(answer, show_alert=True)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler(["bantuan", "help"], help_command))
    app.add_handler(CommandHandler(["bahasa", "language"], language))
    app.add_handler(CallbackQueryHandler(on_language, pattern=callbacks.LANG))


def register_fallbacks(app: Application) -> None:
    """Must come after every other module's commands and buttons."""
    app.add_handler(MessageHandler(filters.COMMAND, unknown))
    app.add_handler(CallbackQueryHandler(unknown_button))
