"""Print a lembar disposisi: /cetak AGENDA sends the sheet as a PDF document."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from bot.conversations.cases import visible_case
from bot.conversations.output import Message, Outcome, OutFile, say
from bot.conversations.turn import Turn
from bot.services import Services


def file_name(agenda: str) -> str:
    """lembar-disposisi-001-SM-DISKOMINFO-LMJ-2026.pdf"""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in agenda)
    return f"lembar-disposisi-{safe}.pdf"


def _render(svc: Services, case_id: int, language: str) -> bytes:
    """Draw the sheet in a session of its own (this runs off the event loop)."""
    with svc.db.session() as session:
        from bot.pdf import render_disposition_pdf  # reportlab only when printing

        return render_disposition_pdf(session, svc.registry, svc.tr, case_id, language,
                                      now=svc.clock.now())


def cetak(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Send the disposition sheet of an agenda number to someone allowed to see it."""
    agenda = " ".join(args).strip()
    if not agenda:
        return say(t.t("print.usage"))
    case = visible_case(t, agenda)
    assert case.id is not None
    make: Callable[[], bytes] = partial(_render, t.svc, case.id, t.lang)
    sheet = OutFile(kind="document", name=file_name(case.agenda_number),
                    caption=t.t("print.caption", agenda=case.agenda_number), make=make,
                    busy="upload_document")
    return Outcome([Message(files=[sheet])])
