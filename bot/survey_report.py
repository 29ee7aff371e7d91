"""The SKM result of an office's period: NRR per element, IKM, grade, sample check; as a
chart (PNG), spreadsheets of the anonymised answers and the summary, and a printable PDF.

Computed as the appendix of PermenPAN-RB No. 14 Tahun 2017 says: NRR of an element = sum of
its scores / respondents; IKM = (sum of NRR x 1/9) x 25. Exact fractions throughout; shown
rounded half-up to 2 decimals (NRR) and the IKM graded after rounding to 2 decimals.
Respondents are the surveys whose nine elements were all answered in the period.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from functools import partial
from io import BytesIO
from typing import Any

from sqlmodel import Session, col, func, select

from bot import survey as skm
from bot.clock import from_db, to_db
from bot.export import Table
from bot.i18n import Translator
from bot.models import Case, RespondentProfile, Survey
from bot.reports import Period
from bot.sop import SopRegistry

_DRAWING = threading.Lock()


@dataclass(frozen=True)
class ElementResult:
    code: str
    name: str
    total: int  # sum of scores
    count: int  # answers
    nrr: Fraction

    @property
    def shown(self) -> Decimal:
        return skm.round2(self.nrr)

    @property
    def weighted(self) -> Decimal:
        """NRR x 1/9, as the regulation's table shows it (4 decimals)."""
        return (Decimal(self.nrr.numerator) / Decimal(self.nrr.denominator) / 9).quantize(
            Decimal("0.0001"))


@dataclass(frozen=True)
class SkmReport:
    office: str
    office_name: str
    timezone: str
    period: Period
    sop: str  # "" = every service
    sop_name: str
    respondents: int
    population: int  # requests finished in the period
    required: int  # Krejcie & Morgan sample for that population
    elements: tuple[ElementResult, ...]
    index: Decimal | None  # IKM on the 25-100 scale, 2 decimals; None without respondents
    grade: skm.Grade | None
    suggestions: tuple[str, ...]
    answers: tuple[tuple[datetime, str, dict[str, Any], dict[str, Any]], ...]  # anonymised

    @property
    def enough(self) -> bool:
        return self.respondents >= self.required

    def weakest(self, count: int = 3) -> list[ElementResult]:
        return sorted(self.elements, key=lambda e: (e.nrr, e.code))[:count]


def skm_report(session: Session, registry: SopRegistry, form: skm.SkmForm, office: str,
               period: Period, sop: str = "", language: str = "id") -> SkmReport:
    where = registry.office(office)
    begin, end = period.bounds(where.timezone)
    query = (select(Survey).where(Survey.office == office)
             .where(col(Survey.completed_at).is_not(None))
             .where(col(Survey.completed_at) >= to_db(begin))
             .where(col(Survey.completed_at) < to_db(end)).order_by(col(Survey.completed_at)))
    finished = (select(func.count()).select_from(Case).where(Case.office == office)
                .where(col(Case.requester_id).is_not(None))
                .where(col(Case.finished_at) >= to_db(begin))
                .where(col(Case.finished_at) < to_db(end)))
    if sop:
        query = query.where(Survey.sop_code == sop)
        finished = finished.where(Case.sop_code == sop)
    surveys = [s for s in session.exec(query)
               if all(e.code in s.answers for e in form.elements)]
    population = int(session.exec(finished).one())
    results: list[ElementResult] = []
    for element in form.elements:
        scores = [int(s.answers[element.code]) for s in surveys]
        results.append(ElementResult(
            element.code, skm.text_in(element.name, language), sum(scores), len(scores),
            skm.nrr(scores) if scores else Fraction(0)))
    index = skm.round2(skm.ikm([r.nrr for r in results])) if surveys else None
    profiles = {p.user_id: p.answers for p in session.exec(select(RespondentProfile).where(
        col(RespondentProfile.user_id).in_([s.user_id for s in surveys])))} if surveys else {}
    sop_row = registry.get(sop) if sop else None
    return SkmReport(
        office=office, office_name=where.name, timezone=where.timezone, period=period,
        sop=sop, sop_name=sop_row.name if sop_row else "", respondents=len(surveys),
        population=population, required=skm.required_sample(population),
        elements=tuple(results), index=index,
        grade=skm.grade(index) if index is not None else None,
        suggestions=tuple(s.suggestion for s in surveys if s.suggestion),
        answers=tuple((from_db(s.completed_at), s.sop_code, dict(s.answers),
                       dict(profiles.get(s.user_id, {})))
                      for s in surveys if s.completed_at is not None))


# -- spreadsheets ----------------------------------------------------------------------------


def answers_table(report: SkmReport, form: skm.SkmForm, translator: Translator,
                  language: str) -> Table:
    """One row per respondent: no name, no request number (anonymised), date only."""
    def t(key: str, **params: Any) -> str:
        return translator.text(language, key, **params)

    codes = [q.code for q in form.profile]
    header = [t("skm.col.no"), t("skm.col.date"), t("skm.col.service"),
              *[e.code.upper() for e in form.elements], *[t(f"skm.col.{c}") for c in codes]]
    table = Table(title=t("skm.sheet.answers"), header=header)
    for number, (when, sop, answers, profile) in enumerate(report.answers, 1):
        local = when.astimezone(_zone(report.timezone)).date().isoformat()
        table.rows.append([number, local, sop, *[answers.get(e.code) for e in form.elements],
                           *[_profile_value(form, c, profile.get(c), language) for c in codes]])
    return table


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _profile_value(form: skm.SkmForm, code: str, value: Any, language: str) -> str:
    if value is None:
        return ""
    question = form.question(code)
    choice = question.choice(str(value)) if question is not None else None
    return skm.text_in(choice.label if choice else form.prefer_not, language)


def summary_table(report: SkmReport, translator: Translator, language: str) -> Table:
    def t(key: str, **params: Any) -> str:
        return translator.text(language, key, **params)

    table = Table(title=t("skm.sheet.summary"),
                  header=[t("skm.col.element"), t("skm.col.name"), t("skm.col.total"),
                          t("skm.col.count"), "NRR", t("skm.col.weighted")])
    for row in report.elements:
        table.rows.append([row.code.upper(), row.name, row.total, row.count,
                           str(row.shown), str(row.weighted)])
    grade = f"{report.grade.letter} ({t(report.grade.key)})" if report.grade else "-"
    table.rows.append(["IKM", "", "", report.respondents,
                       str(report.index) if report.index is not None else "-", grade])
    return table


# -- chart -------------------------------------------------------------------------------------


def render_chart(report: SkmReport, translator: Translator, language: str = "id") -> bytes:
    """A PNG: NRR per element (1-4), the weakest in red, the IKM and grade in the title."""
    with _DRAWING:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(12, 7), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_axes((0.3, 0.1, 0.65, 0.78))
        names = [f"{e.code.upper()} {e.name}" for e in report.elements][::-1]
        values = [float(e.nrr) for e in report.elements][::-1]
        weakest = {e.code for e in report.weakest()}
        colours = ["#c0392b" if e.code in weakest else "#2f6db5"
                   for e in report.elements][::-1]
        axes.barh(names, values, color=colours)
        axes.set_xlim(1, 4)
        axes.set_xlabel("NRR (1–4)")
        for y, value in enumerate(values):
            axes.text(min(value, 3.8) + 0.03, y, f"{value:.2f}", va="center")
        grade = f"{report.grade.letter} — {translator.text(language, report.grade.key)}" \
            if report.grade else "-"
        figure.suptitle(translator.text(
            language, "skm.chart_title", office=report.office_name,
            period=report.period.label(language), index=report.index or "-", grade=grade,
            respondents=report.respondents))
        buffer = BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()


# -- PDF -----------------------------------------------------------------------------------------


def render_pdf(report: SkmReport, translator: Translator, language: str = "id", *,
               now: datetime | None = None) -> bytes:
    """The printable report: identity, the per-element table, IKM and grade, sample check,
    weakest elements and suggestions (the regulation's report layout)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    from bot.pdf import BOLD, FONT, _markup, letterhead, winansi

    def t(key: str, **params: Any) -> str:
        return translator.text(language, key, **params)

    styles = {
        "head": ParagraphStyle("head", fontName=BOLD, fontSize=13, leading=16, alignment=1),
        "sub": ParagraphStyle("sub", fontName=BOLD, fontSize=11, leading=14, alignment=1),
        "title": ParagraphStyle("title", fontName=BOLD, fontSize=13, leading=17, alignment=1,
                                spaceBefore=6, spaceAfter=8),
        "value": ParagraphStyle("value", fontName=FONT, fontSize=9.5, leading=12),
        "th": ParagraphStyle("th", fontName=BOLD, fontSize=9, leading=11),
        "td": ParagraphStyle("td", fontName=FONT, fontSize=9, leading=11),
        "h2": ParagraphStyle("h2", fontName=BOLD, fontSize=10.5, leading=13, spaceBefore=8,
                             spaceAfter=4),
    }

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(_markup(text) or "-", styles[style])

    government, agency = letterhead(report.office_name)
    story: list[Any] = [para(x, s) for x, s in ((government, "head"), (agency, "sub")) if x]
    story.append(HRFlowable(width="100%", thickness=1.5, color=colors.black, spaceBefore=3))
    story.append(para(t("skm.pdf.title"), "title"))
    for line in (t("skm.pdf.period", period=report.period.label(language)),
                 t("skm.pdf.service", service=report.sop_name or t("skm.all_services")),
                 t("skm.sample_line", respondents=report.respondents,
                   population=report.population, required=report.required),
                 t("skm.sample_ok" if report.enough else "skm.sample_short")):
        story.append(para(line, "value"))
    story.append(para(t("skm.pdf.table"), "h2"))
    rows: list[list[Any]] = [[para(x, "th") for x in (
        t("skm.col.element"), t("skm.col.name"), t("skm.col.total"), "NRR",
        t("skm.col.weighted"))]]
    for e in report.elements:
        rows.append([para(e.code.upper(), "td"), para(e.name, "td"), para(str(e.total), "td"),
                     para(str(e.shown), "td"), para(str(e.weighted), "td")])
    story.append(PdfTable(rows, colWidths=[w * mm for w in (14, 86, 22, 22, 30)],
                          repeatRows=1, style=TableStyle([
                              ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                              ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
                              ("VALIGN", (0, 0), (-1, -1), "TOP")])))
    story.append(Spacer(1, 4 * mm))
    if report.index is not None and report.grade is not None:
        story.append(para(t("skm.pdf.index", index=report.index, letter=report.grade.letter,
                            grade=t(report.grade.key)), "h2"))
    else:
        story.append(para(t("skm.no_respondents"), "h2"))
    story.append(para(t("skm.pdf.method"), "value"))
    if report.respondents:
        story.append(para(t("skm.weakest_header"), "h2"))
        for e in report.weakest():
            story.append(para(f"{e.code.upper()} {e.name}: {e.shown}", "value"))
    story.append(para(t("skm.suggestions_header", count=len(report.suggestions)), "h2"))
    for number, text in enumerate(report.suggestions, 1):
        story.append(para(f"{number}. {text}", "value"))
    printed = t("pdf.printed", when=translator.when(
        language, now or datetime.now().astimezone(), report.timezone))
    story.append(Spacer(1, 6 * mm))
    story.append(para(printed, "value"))
    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm,
                            title=winansi(t("skm.pdf.title")),
                            author=winansi(report.office_name), creator="KIM-Bot")
    doc.build(story)
    return buffer.getvalue()


def chart_maker(report: SkmReport, translator: Translator, language: str) -> Any:
    return partial(render_chart, report, translator, language)
