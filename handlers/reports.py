"""Admin reports in chat: /laporan (summary and chart) and /ekspor (agenda book, trail files)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import export as exports
from bot.charts import render_charts
from bot.errors import KimError
from bot.export import zone_abbr
from bot.reports import (
    THIS_MONTH,
    THIS_WEEK,
    THIS_YEAR,
    PeriodReport,
    office_today,
    parse_period,
    period_report,
)
from handlers.common import Reply, send_replies
from handlers.context import Services, Turn, services, turn
from handlers.render import clip, roles_text, span_text, waktu_text

MAX_LINES = 15  # per list in the summary; the rest is counted


# -- who may see which office (the one place that decides) ----------------------------


def report_offices(t: Turn) -> list[str]:
    """Offices whose reports and exports this person may have: those they are admin of."""
    return t.svc.admin_offices(t.user.external_id)


def _pick_office(t: Turn, allowed: list[str], given: str | None) -> str:
    """The office asked for (it must be one of `allowed`), else the person's own, else the first."""
    offices = t.svc.registry.offices
    if given is not None:
        if given not in offices:
            raise KimError("report.unknown_office", office=given, offices=", ".join(allowed))
        if given not in allowed:
            raise KimError("report.office_not_allowed", office=offices[given].name)
        return given
    if t.user.office in allowed:
        return str(t.user.office)
    return allowed[0]


def _is_period(word: str) -> bool:
    return word[:1].isdigit() or word in THIS_WEEK | THIS_MONTH | THIS_YEAR


# -- /laporan ----------------------------------------------------------------------------


def _share(share: float | None) -> str:
    return "–" if share is None else f"{round(share * 100)}%"


def _span(t: Turn, seconds: float) -> str:
    """Office time: '45 detik', '2 menit 30 detik' under an hour, else '1 jam 5 menit'."""
    whole = round(seconds)
    if whole < 60:
        return t.t("report.seconds", s=whole)
    if whole < 3600 and whole % 60:
        return t.t("report.minutes_seconds", m=whole // 60, s=whole % 60)
    minutes = (whole + 30) // 60  # to the nearest minute
    return span_text(t.svc.tr, t.lang, timedelta(minutes=minutes))


def _limited(t: Turn, lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], t.t("report.more", count=len(lines) - MAX_LINES)]


def summary_text(t: Turn, report: PeriodReport) -> str:
    """The report as a chat message, in the reader's language."""
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
            standard = waktu_text(t.svc.tr, t.lang, step.standard_text)
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
                roles=roles_text(t.svc.tr, t.lang, s.roles), names=", ".join(s.holders) or "-",
                late=_span(t, s.late_s))
            for s in report.late_now]
    parts.append("\n".join([t.t("report.late_header", count=len(late)), *_limited(t, late)])
                 if late else t.t("report.late_none"))
    officials = [t.t("report.official_line", name=o.name,
                     roles=roles_text(t.svc.tr, t.lang, o.roles), late=o.late, stays=o.stays)
                 for o in report.late_by_official]
    parts.append("\n".join([t.t("report.officials_header"), *_limited(t, officials)])
                 if officials else t.t("report.officials_none"))
    return clip("\n\n".join(parts))


@dataclass
class _Charts:
    report: PeriodReport
    language: str


async def laporan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A period's summary and a chart per SOP (/laporan [OFFICE] [PERIOD])."""
    args = [a.lower() for a in context.args or []]
    charts: _Charts | None = None
    with turn(update, context) as t:
        allowed = report_offices(t)
        given = [a for a in args if not _is_period(a)]
        periods = [a for a in args if _is_period(a)]
        if not allowed:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(given) > 1 or len(periods) > 1:
            replies = [Reply(t.t("report.usage", offices=", ".join(allowed)))]
        else:
            try:
                office = _pick_office(t, allowed, given[0] if given else None)
                now = t.svc.clock.now()
                period = parse_period(periods[0] if periods else None,
                                      office_today(t.svc.registry, office, now))
                report = period_report(t.session, t.svc.registry, office, period.first,
                                       period.last, now=now, kind=period.kind)
                replies = [Reply(summary_text(t, report))]
                charts = _Charts(report, t.lang)
            except KimError as exc:
                replies = [Reply(t.t(exc.key, **{"offices": ", ".join(allowed),
                                                 **exc.params}))]
    await send_replies(update, replies)
    chat = update.effective_chat
    if charts is None or chat is None:
        return
    svc = services(context)
    await chat.send_chat_action(ChatAction.UPLOAD_PHOTO)
    # Drawing takes a moment: keep the event loop free for other people.
    pictures = await asyncio.to_thread(render_charts, charts.report, svc.tr, charts.language)
    for code, png in pictures:
        sop = charts.report.sop(code)
        caption = svc.tr.text(charts.language, "report.chart_caption", sop=sop.name,
                              period=charts.report.period.label(charts.language))
        await chat.send_photo(InputFile(png, filename=f"laporan-{code}.png"), caption=caption)


# -- /ekspor -----------------------------------------------------------------------------


@dataclass
class _Export:
    kind: str
    fmt: str
    office: str
    year: int
    language: str


def _export_file(svc: Services, job: _Export) -> tuple[str, bytes, int]:
    with svc.db.session() as session:
        return exports.export(session, svc.registry, svc.tr, job.kind, job.fmt, job.office,
                              job.year, job.language)


async def ekspor(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the agenda book or the trail of a year as a file (/ekspor agenda|jejak xlsx|csv)."""
    args = [a.lower() for a in context.args or []]
    job: _Export | None = None
    with turn(update, context) as t:
        allowed = report_offices(t)
        usage = Reply(t.t("export.usage", offices=", ".join(allowed)))
        rest = args[2:]
        years = [a for a in rest if a.isdigit()]
        given = [a for a in rest if not a.isdigit()]
        if not allowed:
            replies = [Reply(t.t("error.admin_only"))]
        elif (len(args) < 2 or args[0] not in exports.KINDS or args[1] not in exports.FORMATS
              or len(years) > 1 or len(given) > 1
              or (years and not 2000 <= int(years[0]) <= 2999)):
            replies = [usage]
        else:
            try:
                office = _pick_office(t, allowed, given[0] if given else None)
                year = int(years[0]) if years else office_today(
                    t.svc.registry, office, t.svc.clock.now()).year
                job = _Export(exports.KINDS[args[0]], args[1], office, year, t.lang)
                replies = []
            except KimError as exc:
                replies = [Reply(t.t(exc.key, **{"offices": ", ".join(allowed),
                                                 **exc.params}))]
    chat = update.effective_chat
    if job is None or chat is None:
        await send_replies(update, replies)
        return
    svc = services(context)
    await chat.send_chat_action(ChatAction.UPLOAD_DOCUMENT)
    name, data, rows = await asyncio.to_thread(_export_file, svc, job)
    caption = svc.tr.text(job.language, f"export.caption.{job.kind}",
                          office=svc.registry.offices[job.office].name, year=job.year,
                          rows=rows)
    await chat.send_document(InputFile(data, filename=name), filename=name, caption=caption)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["laporan", "report"], laporan))
    app.add_handler(CommandHandler(["ekspor", "export"], ekspor))
