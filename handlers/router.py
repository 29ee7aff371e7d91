"""Route plain messages (text, files, contacts) by the dialog state kept in the database."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.dialogs import clear_dialog, get_dialog
from bot.errors import KimError
from handlers import broadcast, casework, internal, officials, registration, request
from handlers.common import Reply, remove_keyboard, send_replies
from handlers.context import Turn, turn


def _idle(t: Turn) -> list[Reply]:
    if t.user.registered_at is None:
        return [Reply(t.t("idle.unregistered"))]
    return [Reply(t.t("idle.registered"))]


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Hand a message to whichever guided conversation the sender is in."""
    with turn(update, context) as t:
        assert t.user.id is not None
        dialog = get_dialog(t.session, t.user.id)
        try:
            # A savepoint: a refused answer leaves the dialog exactly as it was.
            with t.session.begin_nested():
                if dialog is None:
                    replies = _idle(t)
                elif dialog.state.startswith("reg_"):
                    replies = registration.on_message(update, t, dialog)
                elif dialog.state.startswith("req_"):
                    replies = request.on_message(update, t, dialog)
                elif dialog.state.startswith("bc_"):
                    replies = broadcast.on_message(update, t, dialog)
                elif dialog.state == "note":
                    replies = officials.on_note_message(update, t, dialog)
                elif dialog.state == "fix":
                    replies = officials.on_fix_message(update, t, dialog)
                elif dialog.state.startswith("sop_"):
                    replies = internal.on_message(update, t, dialog)
                elif dialog.state == casework.DOC:
                    replies = casework.on_doc_message(update, t, dialog)
                elif dialog.state.startswith("team_"):
                    replies = casework.on_team_message(update, t, dialog)
                else:
                    clear_dialog(t.session, t.user.id)
                    replies = _idle(t)
        except KimError as exc:
            replies = [Reply(t.t(exc.key, **exc.params))]
            if exc.key.startswith(("error.stale", "error.case_closed", "error.not_allowed")):
                clear_dialog(t.session, t.user.id)
    await send_replies(update, replies)


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Abandon whatever guided conversation is running (/batal)."""
    with turn(update, context) as t:
        assert t.user.id is not None
        had = clear_dialog(t.session, t.user.id)
        replies = [Reply(t.t("cancel.done" if had else "cancel.nothing"), remove_keyboard())]
    await send_replies(update, replies)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["batal", "cancel"], cancel))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, on_message))
