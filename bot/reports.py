"""Period reports: requests per SOP, office time per step against its standard, who is late.

Pure and Telegram-free: plain dataclasses out, for the chat summary, the chart and tests.

Definitions (all in the office's own time zone: a period is a range of local dates):

- received: cases created in the period;
- finished: cases finished in the period (whenever they were received);
- open: cases received before the period's end and not finished by then (the backlog at the
  end of the period; for a period still running, the backlog now);
- a *stay* is one case's time at one step, from entering it until an official moved it on
  (forward, return, finish). Time the case spent with the member for a correction is not
  counted: the stay before and the stay after the member's answer make one stay. A stay
  belongs to the period in which it ended; its office time is `StepVisit.actual_s`, its
  standard the office time the SOP's Waktu allowed, on time when it ended by the due time;
- late now: open cases whose current step is past its due time at `now` (how late in office
  time, never zero once late), with the role and the people who hold it (a Plt included);
- late per official: stays that ended late in the period, counted for the official whose
  action ended them (the audit trail says who), beside all the stays they ended.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import ColumnElement, func
from sqlalchemy import case as sql_case
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot import clean
from bot.calendar import WorkCalendar
from bot.clock import from_db, to_db
from bot.complaints import ComplaintStats, complaint_stats
from bot.errors import BadInput
from bot.models import AuditEntry, Case, StepVisit, User
from bot.sla import Sla
from bot.sop import SopRegistry
from bot.sop.model import REQUESTER
from bot.sop.waktu import TimeUnit

MONTH, RANGE, WEEK, YEAR, DAY = "month", "range", "week", "year", "day"
THIS_WEEK = frozenset({"minggu", "pekan", "week"})
THIS_MONTH = frozenset({"bulan", "month"})
THIS_YEAR = frozenset({"tahun", "year"})
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
MAX_DAYS = 366 * 5
_MEMBER = "member"  # a step visit that ended when the case went to the member


# -- periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local dates `first`..`last` (both included) of one office."""

    first: date
    last: date
    kind: str = RANGE

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of `first` to local midnight after `last`."""
        zone = ZoneInfo(timezone)
        start = datetime.combine(self.first, time(0), zone).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(0), zone).astimezone(UTC)
        return start, end

    def label(self, language: str) -> str:
        """'November 2026', '23–29 Nov 2026' style text in the language."""
        if self.kind == MONTH:
            return format_date(self.first, "LLLL y", locale=language)
        if self.kind == YEAR:
            return str(self.first.year)
        if self.first == self.last:
            return format_date(self.first, "d MMM y", locale=language)
        return (f"{format_date(self.first, 'd MMM y', locale=language)} – "
                f"{format_date(self.last, 'd MMM y', locale=language)}")


def month_period(year: int, month: int) -> Period:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(first, following - timedelta(days=1), MONTH)


def _date(text: str) -> date:
    match = _DAY.match(text)
    if match is None:
        raise ValueError(text)
    return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


def parse_period(text: str | None, today: date) -> Period:
    """A period from what an admin types; `today` is the office's local date.

    `2026-11` a month, `2026` a year, `2026-11-01..2026-11-30` a range (both days included),
    `2026-11-05` one day, `minggu`/`week` this week (Monday to Sunday), `bulan`/`month` this
    month (also the default), `tahun`/`year` this year. Raises BadInput("report.bad_period").
    """
    raw = (text or "").strip().lower()
    try:
        if not raw or raw in THIS_MONTH:
            return month_period(today.year, today.month)
        if raw in THIS_WEEK:
            monday = today - timedelta(days=today.weekday())
            return Period(monday, monday + timedelta(days=6), WEEK)
        if raw in THIS_YEAR:
            return Period(date(today.year, 1, 1), date(today.year, 12, 31), YEAR)
        if (match := _YEAR.match(raw)) is not None:
            year = int(match.group(1))
            return _sensible(Period(date(year, 1, 1), date(year, 12, 31), YEAR))
        if (match := _MONTH.match(raw)) is not None:
            return _sensible(month_period(int(match.group(1)), int(match.group(2))))
        if ".." in raw:
            left, right = (part.strip() for part in raw.split("..", 1))
            first, last = _date(left), _date(right)
            if first > last or (last - first).days >= MAX_DAYS:
                raise ValueError(raw)
            return _sensible(Period(first, last, RANGE))
        day = _date(raw)
        return _sensible(Period(day, day, DAY))
    except (ValueError, OverflowError):  # 9999-12 overflows the month after it
        raise BadInput("report.bad_period", period=text or "") from None


def _sensible(period: Period) -> Period:
    """Refuse a period outside the dates the bot can have seen (0001-01-01, 9999)."""
    if period.first < clean.FIRST_DAY or period.last > clean.LAST_DAY:
        raise ValueError(period)
    return period


def office_today(registry: SopRegistry, office: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(registry.office(office).timezone)).date()


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class StepStats:
    """One SOP step over the stays that ended in the period."""

    step_no: int
    activity: str
    standard_text: str  # the SOP's Waktu, "5 menit"
    standard_s: int  # office seconds it allows (median over the stays; else the nominal)
    stays: int
    on_time: int
    median_s: float | None  # office seconds; None without stays
    mean_s: float | None

    @property
    def late(self) -> int:
        return self.stays - self.on_time

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.stays if self.stays else None


@dataclass(frozen=True)
class SopReport:
    code: str
    name: str
    received: int
    finished: int
    open: int
    steps: tuple[StepStats, ...]

    @property
    def stays(self) -> int:
        return sum(s.stays for s in self.steps)

    @property
    def has_activity(self) -> bool:
        return bool(self.received or self.finished or self.open or self.stays)


@dataclass(frozen=True)
class LateStep:
    """An open case whose current step is past its due time."""

    case_id: int
    agenda: str
    subject: str
    sop_code: str
    step_no: int
    activity: str
    roles: tuple[str, ...]
    holders: tuple[str, ...]  # names of who should act now (Plt included)
    due_at: datetime
    late_s: int  # office seconds past the due time (at least 60 once late)


@dataclass(frozen=True)
class OfficialLateness:
    user_id: int
    name: str
    roles: tuple[str, ...]  # roles they acted in
    late: int  # stays they ended late in the period
    stays: int  # all stays they ended in the period


@dataclass(frozen=True)
class PeriodReport:
    office: str
    office_name: str
    timezone: str
    period: Period
    start: datetime  # UTC, included
    end: datetime  # UTC, excluded
    now: datetime
    sops: tuple[SopReport, ...]
    late_now: tuple[LateStep, ...]
    late_by_official: tuple[OfficialLateness, ...]
    complaints: ComplaintStats = field(default_factory=ComplaintStats)

    @property
    def received(self) -> int:
        return sum(s.received for s in self.sops)

    @property
    def finished(self) -> int:
        return sum(s.finished for s in self.sops)

    @property
    def open(self) -> int:
        return sum(s.open for s in self.sops)

    def sop(self, code: str) -> SopReport:
        return next(s for s in self.sops if s.code == code)


@dataclass
class _Stay:
    case_id: int
    sop_code: str
    step_no: int
    standard_s: int
    actual_s: int = 0
    on_time: bool = False
    left_at: datetime | None = None
    closed: bool = False
    visits: list[int] = field(default_factory=list)


class _At:
    """A clock stopped at one instant (the report's `now`)."""

    def __init__(self, moment: datetime) -> None:
        self._moment = moment

    def now(self) -> datetime:
        return self._moment


def period_report(session: Session, registry: SopRegistry, office: str, start: date,
                  end: date, *, now: datetime | None = None, kind: str = RANGE) -> PeriodReport:
    """The report of `office` for its local dates `start`..`end` (both included).

    `now` (aware; default the system time) is when "late now" is judged; `kind` (month, week
    …) only changes how the period is labelled.
    """
    where = registry.office(office)
    period = Period(start, end, kind)
    begin, finish = period.bounds(where.timezone)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    sla = Sla(registry, _At(now))
    calendar = WorkCalendar.for_office(where)

    counts = _case_counts(session, office, begin, finish)
    by_step = _stays(session, office, begin, finish)  # those that ended in the period

    codes = [s.code for s in registry.sops.values() if s.office == office]
    codes += sorted({c for c, _ in counts} - set(codes))
    codes += sorted({c for c, _ in by_step} - set(codes))
    sops: list[SopReport] = []
    for code in codes:
        sop = registry.get(code)
        numbers = [s.number for s in sop.steps] if sop else []
        numbers += sorted({n for c, n in by_step if c == code} - set(numbers))
        steps: list[StepStats] = []
        for number in numbers:
            step = next((s for s in sop.steps if s.number == number), None) if sop else None
            found = by_step.get((code, number), [])
            actual = [s[1] for s in found]
            if found:
                standard = int(statistics.median(s[0] for s in found))
            elif step is None:
                standard = 0
            elif step.waktu.unit is TimeUnit.WORKING_DAY:
                opening = calendar.next_open(begin)
                standard = int(calendar.office_span(opening, step.waktu).total_seconds())
            else:
                standard = step.waktu.minutes * 60
            steps.append(StepStats(
                step_no=number, activity=step.activity if step else "",
                standard_text=step.waktu.text if step else "", standard_s=standard,
                stays=len(found), on_time=sum(1 for s in found if s[2]),
                median_s=float(statistics.median(actual)) if actual else None,
                mean_s=statistics.fmean(actual) if actual else None))
        sops.append(SopReport(
            code=code, name=sop.name if sop else code,
            received=counts.get((code, "received"), 0),
            finished=counts.get((code, "finished"), 0), open=counts.get((code, "open"), 0),
            steps=tuple(steps)))

    return PeriodReport(
        office=office, office_name=where.name, timezone=where.timezone, period=period,
        start=begin, end=finish, now=now, sops=tuple(sops),
        late_now=tuple(_late_now(session, registry, sla, office, now)),
        late_by_official=tuple(_by_official(session, office, begin, finish)),
        complaints=complaint_stats(session, office, begin, finish, now))


def _case_counts(session: Session, office: str, begin: datetime,
                 finish: datetime) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    lo, hi = to_db(begin), to_db(finish)
    queries = {
        "received": [col(Case.created_at) >= lo, col(Case.created_at) < hi],
        "finished": [col(Case.finished_at) >= lo, col(Case.finished_at) < hi],
        "open": [col(Case.created_at) < hi,
                 col(Case.finished_at).is_(None) | (col(Case.finished_at) >= hi)],
    }
    for name, conditions in queries.items():
        statement = (select(Case.sop_code, func.count()).where(Case.office == office)
                     .where(*conditions).group_by(col(Case.sop_code)))
        for code, number in session.exec(statement):
            out[(code, name)] = int(number)
    return out


Stays = dict[tuple[str, int], list[tuple[int, int, bool]]]  # (standard, actual, on time)


def _stays(session: Session, office: str, begin: datetime, finish: datetime) -> Stays:
    """Stays of the cases that left a step in the period, the member's time taken out.

    Plain rows, not ORM objects (a large office's year is hundreds of thousands of visits):
    a visit an official ended is a stay by itself, except where the case was with the member
    for a correction (rare): those cases' visits are joined up one by one.
    """
    ended: list[ColumnElement[bool]] = [
        col(StepVisit.office) == office, col(StepVisit.left_at) >= to_db(begin),
        col(StepVisit.left_at) < to_db(finish)]
    corrected = (select(StepVisit.case_id).where(StepVisit.office == office)
                 .where(StepVisit.outcome == _MEMBER).distinct().correlate(None))
    stays: Stays = defaultdict(list)
    for sop_code, step_no, standard_s, actual_s, on_time in session.connection().execute(
            sa_select(col(StepVisit.sop_code), col(StepVisit.step_no),
                      col(StepVisit.standard_s), col(StepVisit.actual_s),
                      col(StepVisit.on_time))
            .where(*ended).where(col(StepVisit.outcome) != _MEMBER)
            .where(col(StepVisit.case_id).not_in(corrected))):
        stays[(sop_code, step_no)].append((standard_s, actual_s or 0, bool(on_time)))
    touched = (select(StepVisit.case_id).where(*ended)
               .where(col(StepVisit.case_id).in_(corrected)).correlate(None))
    visits = session.exec(
        select(StepVisit).where(col(StepVisit.case_id).in_(touched))
        .order_by(col(StepVisit.case_id), col(StepVisit.id)))
    joined: list[_Stay] = []
    current: _Stay | None = None
    for visit in visits:
        assert visit.id is not None
        joins = (current is not None and not current.closed
                 and current.case_id == visit.case_id and current.step_no == visit.step_no)
        if not joins:
            current = _Stay(case_id=visit.case_id, sop_code=visit.sop_code,
                            step_no=visit.step_no, standard_s=visit.standard_s)
            joined.append(current)
        assert current is not None
        current.visits.append(visit.id)
        current.actual_s += visit.actual_s or 0
        current.on_time = bool(visit.on_time)
        current.left_at = from_db(visit.left_at) if visit.left_at else None
        # A stay handed to the member goes on when they answer; any other end closes it.
        current.closed = visit.left_at is None or visit.outcome != _MEMBER
        if visit.left_at is not None and visit.outcome == _MEMBER:
            current.left_at = None  # not ended by an official (yet)
    for stay in joined:
        if stay.closed and stay.left_at is not None and begin <= stay.left_at < finish:
            stays[(stay.sop_code, stay.step_no)].append(
                (stay.standard_s, stay.actual_s, stay.on_time))
    return stays


def _by_official(session: Session, office: str, begin: datetime,
                 finish: datetime) -> list[OfficialLateness]:
    """Who ended each stay (the last official's entry at that step, at or before it ended).

    Counted in SQL: the stay that ended is the visit an official ended, whose end is the
    stay's end (a stay joined over a correction ends with its last visit).
    """
    entry = aliased(AuditEntry)
    ender = (select(func.max(entry.id)).where(entry.case_id == StepVisit.case_id)
             .where(entry.step_no == StepVisit.step_no).where(entry.actor_role != REQUESTER)
             .where(entry.at <= StepVisit.left_at)  # type: ignore[operator]
             .correlate(StepVisit).scalar_subquery())
    late = sql_case((col(StepVisit.on_time) == True, 0), else_=1)  # noqa: E712
    rows = session.exec(
        select(AuditEntry.actor_id, AuditEntry.actor_role, func.sum(late), func.count())
        .select_from(StepVisit).join(AuditEntry, col(AuditEntry.id) == ender)
        .where(StepVisit.office == office).where(col(StepVisit.left_at) >= to_db(begin))
        .where(col(StepVisit.left_at) < to_db(finish)).where(StepVisit.outcome != _MEMBER)
        .group_by(col(AuditEntry.actor_id), col(AuditEntry.actor_role)))
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    roles: dict[int, set[str]] = defaultdict(set)
    for actor_id, actor_role, late_count, count in rows:
        totals[actor_id][0] += int(late_count or 0)
        totals[actor_id][1] += int(count)
        roles[actor_id].add(actor_role)
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(list(totals))))}
    out = [OfficialLateness(user_id=uid, name=_name(users.get(uid)),
                            roles=tuple(sorted(roles[uid])), late=late, stays=count)
           for uid, (late, count) in totals.items() if late]
    return sorted(out, key=lambda o: (-o.late, o.name, o.user_id))


def _late_now(session: Session, registry: SopRegistry, sla: Sla, office: str,
              now: datetime) -> list[LateStep]:
    cases = session.connection().execute(
        sa_select(col(Case.id), col(Case.agenda_number), col(Case.subject),
                  col(Case.sop_code), col(Case.step_no), col(Case.due_at))
        .where(col(Case.office) == office).where(col(Case.status) == "open")
        .where(col(Case.due_at).is_not(None)).where(col(Case.due_at) < to_db(now))
        .order_by(col(Case.due_at), col(Case.id)))
    lateness = _Lateness(sla.calendar(office), now)
    names: dict[tuple[str, ...], tuple[str, ...]] = {}  # who holds these roles now
    out: list[LateStep] = []
    for case_id, agenda, subject, sop_code, step_no, due_at in cases:
        assert case_id is not None
        assert due_at is not None
        sop = registry.get(sop_code)
        step = next((s for s in sop.steps if s.number == step_no), None) if sop else None
        roles = step.roles if step else ()
        if roles not in names:
            names[roles] = tuple(_name(u) for u in sla.holders(session, office, roles, now)
                                 ) if roles else ()
        due = from_db(due_at)
        out.append(LateStep(
            case_id=case_id, agenda=agenda, subject=subject, sop_code=sop_code,
            step_no=step_no, activity=step.activity if step else "", roles=tuple(roles),
            holders=names[roles], due_at=due, late_s=lateness.seconds(due)))
    return sorted(out, key=lambda s: (-s.late_s, s.agenda))


class _Lateness:
    """Office time from a due time to `now`, as `Sla.remaining` counts it (never zero once
    late), in constant time per case: the office time from each day to `now` is summed once.
    """

    def __init__(self, calendar: WorkCalendar, now: datetime) -> None:
        self._calendar = calendar
        self._now = now
        self._today = now.astimezone(calendar.tz).date()
        self._after: dict[date, timedelta] = {self._today: timedelta(0)}  # from the next day

    def _open(self, day: date, start: datetime | None) -> timedelta:
        """Office time on local `day` from `start` (None: its opening) until `now`."""
        total = timedelta(0)
        for opening, closing in self._calendar.open_intervals(day):
            low, high = max(start or opening, opening), min(self._now, closing)
            if high > low:
                total += high - low
        return total

    def _after_day(self, day: date) -> timedelta:
        """Office time from the start of the day after `day` until `now`."""
        missing = []
        while day not in self._after:
            missing.append(day)
            day += timedelta(days=1)
        for earlier in reversed(missing):
            following = earlier + timedelta(days=1)
            self._after[earlier] = self._after[following] + self._open(following, None)
        return self._after[missing[0] if missing else day]

    def seconds(self, due: datetime) -> int:
        day = due.astimezone(self._calendar.tz).date()
        office = self._open(day, due) + self._after_day(min(day, self._today))
        if office <= timedelta(0):
            return int(max(self._now - due, timedelta(minutes=1)).total_seconds())
        return int(office.total_seconds())


def _name(user: User | None) -> str:
    if user is None:
        return "-"
    return user.full_name or user.display_name or "-"
