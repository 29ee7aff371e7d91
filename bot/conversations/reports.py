"""Admin reports in chat: /laporan (summary and charts) and /ekspor (agenda book, trail files).

What they show is read and drawn after the turn, off the event loop (`Outcome.later`): in a
worker process when one is configured (bot/offload.py), else in a thread. `read_report` and
`read_export` therefore take only plain arguments and return plain data (texts and bytes),
which `_report_messages` and `_export_messages` make into messages here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from bot import clean
from bot import export as exports
from bot.charts import render_sop_chart
from bot.conversations.later import Job
from bot.conversations.output import Message, Outcome, OutFile, clip
from bot.conversations.render import roles_text, span_text, waktu_text
from bot.conversations.turn import Turn
from bot.errors import BadInput, NotAllowed
from bot.export import zone_abbr
from bot.i18n import Translator
from bot.offload import Pieces
from bot.reports import (
    THIS_MONTH,
    THIS_WEEK,
    THIS_YEAR,
    PeriodReport,
    office_today,
    parse_period,
    period_report,
)

MAX_LINES = 15  # per list in the summary; the rest is counted
FREE_SLICE = 10_000  # export rows let go at a time
TABLES = {exports.AGENDA: exports.agenda_table, exports.TRAIL: exports.trail_table}
WRITERS: dict[str, Callable[[exports.Table], bytes]] = {"xlsx": exports.to_xlsx,
                                                        "csv": exports.to_csv}


@dataclass(frozen=True)
class Reader:
    """What a report's text needs of a turn: the catalog and the reader's language."""

    tr: Translator
    lang: str

    def t(self, key: str, **params: Any) -> str:
        return self.tr.text(self.lang, key, **params)


@dataclass(frozen=True)
class Drawn:
    """A file made off the loop: its name, caption and bytes."""

    name: str
    caption: str
    data: bytes


def _reader(t: Turn | Reader) -> Reader:
    return t if isinstance(t, Reader) else Reader(t.svc.tr, t.lang)


# -- which office (the one place that decides) -------------------------------------------


def _pick_office(t: Turn, given: list[str], usage: str) -> str:
    """The office named (one of the admin's), else the person's own, else their first."""
    allowed = t.admin_offices()
    offices = t.svc.registry.offices
    if len(given) > 1:
        raise BadInput(usage, offices=", ".join(allowed))
    if given:
        if given[0] not in offices:
            raise BadInput("report.unknown_office", office=given[0], offices=", ".join(allowed))
        if given[0] not in allowed:
            raise NotAllowed("report.office_not_allowed", office=offices[given[0]].name)
        return given[0]
    if t.user.office in allowed:
        return str(t.user.office)
    return allowed[0]


def _is_period(word: str) -> bool:
    return word[:1].isdigit() or word in THIS_WEEK | THIS_MONTH | THIS_YEAR


# -- /laporan ----------------------------------------------------------------------------


def _share(share: float | None) -> str:
    return "–" if share is None else f"{round(share * 100)}%"


def _span(t: Reader, seconds: float) -> str:
    """Office time: '45 detik', '2 menit 30 detik' under an hour, else '1 jam 5 menit'."""
    whole = round(seconds)
    if whole < 60:
        return t.t("report.seconds", s=whole)
    if whole < 3600 and whole % 60:
        return t.t("report.minutes_seconds", m=whole // 60, s=whole % 60)
    minutes = (whole + 30) // 60  # to the nearest minute
    return span_text(t.tr, t.lang, timedelta(minutes=minutes))


def _limited(t: Reader, lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], t.t("report.more", count=len(lines) - MAX_LINES)]


def summary_text(turn: Turn | Reader, report: PeriodReport) -> str:
    """The report as a chat message, in the reader's language."""
    t = _reader(turn)
    parts = [t.t("report.header", office=report.office_name,
                 period=report.period.label(t.lang), zone=zone_abbr(report.timezone),
                 received=report.received, finished=report.finished, open=report.open)]
    for sop in report.sops:
        if not sop.has_activity:
            continue
        lines = [t.t("report.sop", name=sop.name, received=sop.received,
                     finished=sop.finished, open=sop.open),
                 t.t("report.steps_header")]
        for step in sop.steps:
            standard = waktu_text(t.tr, t.lang, step.standard_text)
            if step.stays:
                over = (step.median_s or 0) > step.standard_s
                lines.append(t.t("report.step_line", step_no=step.step_no,
                                 median=_span(t, step.median_s or 0),
                                 mean=_span(t, step.mean_s or 0), standard=standard,
                                 share=_share(step.on_time_share), on_time=step.on_time,
                                 stays=step.stays) + (" ⚠️" if over else ""))
            else:
                lines.append(t.t("report.step_none", step_no=step.step_no, standard=standard))
        parts.append("\n".join(lines))
    if not any(s.has_activity for s in report.sops):
        parts.append(t.t("report.nothing"))
    late = [t.t("report.late_line", agenda=s.agenda, step_no=s.step_no,
                roles=roles_text(t.tr, t.lang, s.roles), names=", ".join(s.holders) or "-",
                late=_span(t, s.late_s))
            for s in report.late_now]
    parts.append("\n".join([t.t("report.late_header", count=len(late)), *_limited(t, late)])
                 if late else t.t("report.late_none"))
    officials = [t.t("report.official_line", name=o.name,
                     roles=roles_text(t.tr, t.lang, o.roles), late=o.late, stays=o.stays)
                 for o in report.late_by_official]
    parts.append("\n".join([t.t("report.officials_header"), *_limited(t, officials)])
                 if officials else t.t("report.officials_none"))
    c = report.complaints
    parts.append(t.t("report.complaints", received=c.received, answered=c.answered,
                     on_time=c.on_time, overdue=c.overdue_open))
    return clip("\n\n".join(parts))


def read_report(p: Pieces, office: str, first: date, last: date, kind: str, now: datetime,
                lang: str) -> tuple[str, list[Drawn]]:
    """The summary and a chart per SOP that saw any work in the period (off the loop)."""
    with p.db.session() as session:
        report = period_report(session, p.registry, office, first, last, now=now, kind=kind)
    t = Reader(p.tr, lang)
    period = report.period.label(lang)
    charts = [Drawn(f"laporan-{sop.code}.png",
                    t.t("report.chart_caption", sop=sop.name, period=period),
                    render_sop_chart(report, sop, p.tr, lang))
              for sop in report.sops if sop.has_activity and sop.steps]
    return summary_text(t, report), charts


def _report_messages(read: tuple[str, list[Drawn]]) -> list[Message]:
    text, drawn = read
    charts = [OutFile(kind="photo", name=d.name, caption=d.caption, busy="upload_photo",
                      make=partial(bytes, d.data)) for d in drawn]
    return [Message(text), *([Message(files=charts)] if charts else [])]


def laporan(t: Turn, args: tuple[str, ...]) -> Outcome:
    """A period's summary and a chart per SOP (/laporan [OFFICE] [PERIOD])."""
    words = [a.lower() for a in args]
    periods = [a for a in words if _is_period(a)]
    if len(periods) > 1:
        raise BadInput("report.usage", offices=", ".join(t.admin_offices()))
    office = _pick_office(t, [a for a in words if not _is_period(a)], "report.usage")
    now = t.svc.clock.now()
    period = parse_period(periods[0] if periods else None,
                          office_today(t.svc.registry, office, now))
    return Outcome(later=Job(t.svc, read_report,
                             (office, period.first, period.last, period.kind, now, t.lang),
                             _report_messages))


# -- /ekspor -----------------------------------------------------------------------------


def ekspor(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Send the agenda book or the trail of a year as a file (/ekspor agenda|jejak xlsx|csv
    [OFFICE] [YEAR])."""
    words = [a.lower() for a in args]
    years = [a for a in words[2:] if clean.is_number(a)]  # ASCII only: not "²⁰²⁶"
    if (len(words) < 2 or words[0] not in exports.KINDS or words[1] not in WRITERS
            or len(years) > 1 or (years and not 2000 <= int(years[0]) <= 2999)):
        raise BadInput("export.usage", offices=", ".join(t.admin_offices()))
    office = _pick_office(t, [a for a in words[2:] if not clean.is_number(a)], "export.usage")
    year = int(years[0]) if years else office_today(t.svc.registry, office,
                                                    t.svc.clock.now()).year
    kind, fmt = exports.KINDS[words[0]], words[1]
    return Outcome(later=Job(t.svc, read_export, (kind, fmt, office, year, t.lang),
                             _export_messages))


def read_export(p: Pieces, kind: str, fmt: str, office: str, year: int, lang: str) -> Drawn:
    """The year's file and its caption (off the loop)."""
    with p.db.session() as session:
        table = TABLES[kind](session, p.registry, p.tr, office, year, lang)
    data, rows = WRITERS[fmt](table), len(table.rows)
    # On the thread path, rows are let go a slice at a time (freeing a large year at once
    # would hold the GIL, and the event loop with it).
    while table.rows:
        del table.rows[-FREE_SLICE:]
    caption = p.tr.text(lang, f"export.caption.{kind}", office=p.registry.offices[office].name,
                        year=year, rows=rows)
    return Drawn(exports.file_name(kind, fmt, office, year), caption, data)


def _export_messages(drawn: Drawn) -> list[Message]:
    return [Message(files=[OutFile(kind="document", name=drawn.name, caption=drawn.caption,
                                   make=partial(bytes, drawn.data), busy="upload_document")])]
