"""The lembar disposisi as a printable PDF, laid out like the paper form (reportlab).

Built-in Type1 fonts only (no font files to ship): they cover WinAnsi (cp1252), which has
Indonesian letters and the dashes and quotes people type; anything else is mapped or dropped.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from functools import partial
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from babel.dates import format_date
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    HRFlowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlmodel import Session, col, select

from bot.clock import from_db
from bot.errors import NotFound
from bot.i18n import Translator
from bot.models import Case, DocumentVersion, TeamMember, User
from bot.queries import attachments, trail
from bot.sop import Sop, SopRegistry

FONT, BOLD = "Helvetica", "Helvetica-Bold"
_REPLACE = {"→": "->", "←": "<-", "≤": "<=", "≥": ">=", "≠": "!=", "✓": "v", "✔": "v",
            "✗": "x", "′": "'", "″": '"', "‐": "-", "‑": "-", "−": "-", "\u2028": "\n"}
_REGION = re.compile(r"\b(Kabupaten|Kota|Provinsi)\b", re.IGNORECASE)


def winansi(text: str) -> str:
    """Text the built-in fonts can draw: WinAnsi kept, accents folded, emojis dropped."""
    out: list[str] = []
    for char in text:
        if char in "\n\t" or (char.isprintable() and _encodes(char)):
            out.append(" " if char == "\t" else char)
        elif char in _REPLACE:
            out.append(_REPLACE[char])
        elif unicodedata.category(char) == "Zs":
            out.append(" ")
        else:  # fold accents (ő → o); symbols, emojis and joiners fold to nothing
            folded = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in folded if not unicodedata.combining(c)
                               and c.isprintable() and _encodes(c)))
    return "".join(out)


def _encodes(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _markup(text: str) -> str:
    lines = [" ".join(line.split()) for line in winansi(text).strip().splitlines()]
    return "<br/>".join(escape(line) for line in lines)


def letterhead(office_name: str) -> tuple[str, str]:
    """'Dinas Komunikasi dan Informatika Kabupaten Lumajang' → the two heading lines."""
    match = _REGION.search(office_name)
    if match is None:
        return "", office_name.upper()
    agency = office_name[: match.start()].strip(" ,-") or "Dinas"
    return f"PEMERINTAH {office_name[match.start():].strip().upper()}", agency.upper()


class _NumberedCanvas(Canvas):
    """Keeps every page until the end so the footer can say 'page 2 of 5'."""

    def __init__(self, *args: Any, footer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._footer(self, number, len(self._pages))
            super().showPage()
        super().save()


def render_disposition_pdf(
    session: Session, registry: SopRegistry, translator: Translator, case_id: int,
    language: str = "id", *, now: datetime | None = None,
) -> bytes:
    """The case's lembar disposisi as PDF bytes, with labels in `language`."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound()
    office = registry.offices[case.office]
    sop = registry.get(case.sop_code)
    zone = office.timezone

    def t(key: str, **params: Any) -> str:
        return translator.text(language, key, **params)

    def when(moment: datetime) -> str:
        return translator.when(language, from_db(moment), zone)

    styles = {
        "head": ParagraphStyle("head", fontName=BOLD, fontSize=13, leading=16, alignment=1),
        "sub": ParagraphStyle("sub", fontName=BOLD, fontSize=11, leading=14, alignment=1),
        "title": ParagraphStyle("title", fontName=BOLD, fontSize=14, leading=18, alignment=1,
                                spaceBefore=6, spaceAfter=8),
        "label": ParagraphStyle("label", fontName=BOLD, fontSize=9, leading=11),
        "value": ParagraphStyle("value", fontName=FONT, fontSize=9, leading=11),
        "th": ParagraphStyle("th", fontName=BOLD, fontSize=7.5, leading=9),
        "td": ParagraphStyle("td", fontName=FONT, fontSize=7.5, leading=9),
        "h2": ParagraphStyle("h2", fontName=BOLD, fontSize=10, leading=13, spaceBefore=8,
                             spaceAfter=4),
    }

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(_markup(text) or "-", styles[style])

    lines = trail(session, case_id)
    government, agency = letterhead(office.name)
    story: list[Any] = [para(text, style) for text, style in ((government, "head"),
                                                             (agency, "sub")) if text]
    story.append(HRFlowable(width="100%", thickness=1.5, color=colors.black, spaceBefore=3))
    story.append(para(t("pdf.title"), "title"))

    sender = _sender(session, case, lines[0].role if lines else "", translator, language)
    status_key = f"pdf.status.{case.status}"
    if not translator.has(translator.default, status_key):
        status_key = f"status.{case.status}"
    status = t(status_key, step_no=case.step_no, activity=_activity(sop, case.step_no),
               when=when(case.finished_at) if case.finished_at else "-")
    sop_text = f"{sop.number} — {sop.name}" if sop else case.sop_code
    box = [(t("pdf.agenda"), case.agenda_number), (t("pdf.received"), when(case.created_at)),
           (t("pdf.from"), sender), (t("pdf.subject"), case.subject),
           (t("pdf.purpose"), case.purpose), (t("pdf.sop"), sop_text), (t("pdf.status"), status)]
    story.append(Table([[para(k, "label"), para(v, "value")] for k, v in box],
                       colWidths=[38 * mm, 142 * mm], style=TableStyle([
                           ("BOX", (0, 0), (-1, -1), 1, colors.black),
                           ("LINEBELOW", (0, 0), (-1, -2), 0.25, colors.grey),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")])))

    story.append(para(t("pdf.trail"), "h2"))
    header = [para(t(f"pdf.col.{c}"), "th")
              for c in ("no", "step", "when", "role", "name", "action", "note")]
    rows: list[list[Any]] = [header]
    for number, line in enumerate(lines, start=1):
        activity = _activity(sop, line.step_no)
        action = translator.text(language, f"kind.{line.kind}")
        if line.kind == "kembalikan":
            action += " " + (t("pdf.to_step", step_no=line.to_step) if line.to_step
                             else t("pdf.to_requester"))
        rows.append([para(str(number), "td"),
                     para(f"{line.step_no}. {_short(activity)}".rstrip(". "), "td"),
                     para(translator.when(language, line.at, zone), "td"),
                     para(translator.role(language, line.role), "td"),
                     para(line.actor, "td"), para(action, "td"), para(line.note, "td")])
    story.append(Table(rows, colWidths=[w * mm for w in (7, 31, 23, 22, 25, 24, 48)],
                       repeatRows=1, splitInRow=1, style=TableStyle([
                           ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                           ("LEFTPADDING", (0, 0), (-1, -1), 3),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")])))

    files = attachments(session, case_id)
    latest = session.exec(select(DocumentVersion).where(DocumentVersion.case_id == case_id)
                          .order_by(col(DocumentVersion.version).desc())).first()
    story.append(para(t("pdf.documents"), "h2"))
    story.append(para(t("pdf.documents_count", count=len(files)), "value"))
    if latest is not None:
        story.append(para(t("pdf.latest_version", version=latest.version,
                            title=latest.title or latest.file_name or "-",
                            when=when(latest.created_at)), "value"))
    team = session.exec(
        select(TeamMember, User).join(User, TeamMember.user_id == User.id)  # type: ignore[arg-type]
        .where(TeamMember.case_id == case_id).where(col(TeamMember.removed_at).is_(None))
        .order_by(col(TeamMember.duty_date), col(TeamMember.id))).all()
    if team:
        story.append(para(t("pdf.team"), "h2"))
        for member, user in team:
            story.append(para(t("pdf.team_line", name=user.full_name or user.display_name,
                                date=format_date(member.duty_date, "d MMM y", locale=language)),
                              "value"))
    story.append(Spacer(1, 4 * mm))

    printed = t("pdf.printed", when=translator.when(language, now or datetime.now(UTC), zone))

    def footer(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(15 * mm, 10 * mm, winansi(f"{case.agenda_number} — {printed}"))
        canvas.drawRightString(195 * mm, 10 * mm, winansi(t("pdf.page", page=page, pages=pages)))
        canvas.restoreState()

    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm,
                            title=winansi(f"{t('pdf.title')} {case.agenda_number}"),
                            author=winansi(office.name), creator="KIM-Bot")
    doc.build(story, canvasmaker=partial(_NumberedCanvas, footer=footer))
    return buffer.getvalue()


def _sender(session: Session, case: Case, first_role: str, translator: Translator,
            language: str) -> str:
    """Dari: the requester and their KIM group, or the official who started the case."""
    if case.requester_id is not None:
        person = session.get(User, case.requester_id)
        if person is not None:
            name = person.full_name or person.display_name or "-"
            return f"{name} — {person.kim_group}" if person.kim_group else name
    official = session.get(User, case.started_by_id)
    name = (official.full_name or official.display_name) if official else "-"
    return f"{name} ({translator.role(language, first_role)})" if first_role else name


def _activity(sop: Sop | None, step_no: int) -> str:
    return next((s.activity for s in sop.steps if s.number == step_no), "") if sop else ""


def _short(text: str, limit: int = 60) -> str:
    """The step's activity, cut at a word so the row stays readable."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"
