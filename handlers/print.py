"""Print a lembar disposisi: /cetak AGENDA sends the sheet as a PDF document."""

from __future__ import annotations

import asyncio

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.queries import find_case_by_agenda
from handlers.common import Reply, send_replies
from handlers.context import Services, services, turn


def file_name(agenda: str) -> str:
    """lembar-disposisi-001-SM-DISKOMINFO-LMJ-2026.pdf"""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in agenda)
    return f"lembar-disposisi-{safe}.pdf"


def _render(svc: Services, case_id: int, language: str) -> bytes:
    with svc.db.session() as session:
        from bot.pdf import render_disposition_pdf  # reportlab only when printing

        return render_disposition_pdf(session, svc.registry, svc.tr, case_id, language,
                                      now=svc.clock.now())


async def cetak(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the disposition sheet of an agenda number to someone allowed to see it."""
    args = context.args or []
    agenda = " ".join(args).strip()
    case_id: int | None = None
    caption = ""
    replies: list[Reply] = []
    with turn(update, context) as t:
        lang = t.lang
        if not agenda:
            replies = [Reply(t.t("print.usage"))]
        else:
            case = find_case_by_agenda(t.session, agenda)
            if case is None or case.id is None:
                replies = [Reply(t.t("print.not_found", agenda=agenda))]
            elif not t.svc.workflow.may_view(t.session, case, t.user):
                replies = [Reply(t.t("error.not_allowed"))]
            else:
                case_id, agenda = case.id, case.agenda_number
                caption = t.t("print.caption", agenda=agenda)
    chat = update.effective_chat
    if case_id is None or chat is None:
        await send_replies(update, replies)
        return
    await chat.send_chat_action(ChatAction.UPLOAD_DOCUMENT)
    # Drawing a long sheet takes a moment: keep the event loop free for other people.
    data = await asyncio.to_thread(_render, services(context), case_id, lang)
    await chat.send_document(InputFile(data, filename=file_name(agenda)),
                             filename=file_name(agenda), caption=caption)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["cetak", "print"], cetak))
