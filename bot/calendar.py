"""The office clock: SLA due times counted in office hours and working days.

Pure and Telegram-free. Every instant in and out is timezone-aware; results are UTC.

Rules (one office, its own time zone):

- An office is open on a *working day* between its opening and closing time for that weekday
  (`Office.hours`, Monday..Sunday). A working day is a weekday with hours that is neither an
  Indonesian national public holiday (the `holidays` package, category "public") nor an
  office-declared closed day (`Office.closed_days`: cuti bersama and the like).
- No lunch break is modelled: the SOP time standards ("30 menit", "2 Jam") are counted straight
  through the office day, as the offices themselves read them.
- Menit / Jam (MINUTE, HOUR): office minutes are consumed from the start; outside office hours the
  clock stands still, so a start outside hours begins counting at the next opening. The due time is
  the first instant at which the whole duration has been consumed, so it may be exactly a closing
  time (a 2-hour step started at 14:00 on a 16:00 day is due at 16:00 the same day, not at 07:30
  the next morning).
- Hari (WORKING_DAY n): the start is first moved to the next office moment (unchanged if the
  office is open, its closing instant included); the due time is the same local time of day n
  working days later, clamped into that day's hours (a Friday 16:15 start plus 1 Hari is due
  Monday 16:00 when Monday closes at 16:00). "Same time n days later" is how an office reads
  "1 hari", and it gives every step one full working day whatever its start hour.
- The office day never crosses local midnight. Indonesian zones have no daylight saving; other
  zones are accepted and handled through UTC arithmetic.

Cost: each computation walks the days it spans (O(days)); national holidays are looked up once
per year and per-day office intervals are cached per calendar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from bot.sop.model import Office
from bot.sop.waktu import Duration, TimeUnit

DayHours = tuple[time, time] | None
OfficeHours = tuple[DayHours, ...]
Interval = tuple[datetime, datetime]

DEFAULT_HOURS: OfficeHours = Office.hours
# Monday..Sunday as written in offices.yaml, with the spellings clerks use.
WEEKDAYS: tuple[str, ...] = ("senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu")
_WEEKDAY_ALIASES: dict[str, int] = {
    **{name: i for i, name in enumerate(WEEKDAYS)},
    "jum'at": 4,
    "jum`at": 4,
    "jum’at": 4,
    "ahad": 6,
}
_CLOSED_WORDS = frozenset({"libur", "tutup"})
_HOURS = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–—]\s*(\d{1,2})[:.](\d{2})\s*$")
_ONE_DAY = timedelta(days=1)
_MAX_CLOSED_RUN = 400  # days in a row without a working day before we give up
_DAY_CACHE_LIMIT = 20_000


# -- offices.yaml values ------------------------------------------------------------------


def _clock(hour: str, minute: str) -> time | None:
    h, m = int(hour), int(minute)
    return time(h, m) if h < 24 and m < 60 else None


def parse_day_hours(day: str, value: object) -> DayHours:
    """Parse one `jam_kerja` value: "07:30-16:00" (or "07.30-16.00") or "libur"/"tutup"."""
    text = str(value).strip() if isinstance(value, str) else ""
    if text.lower() in _CLOSED_WORDS:
        return None
    match = _HOURS.match(text)
    opening = _clock(match.group(1), match.group(2)) if match else None
    closing = _clock(match.group(3), match.group(4)) if match else None
    if opening is None or closing is None:
        raise ValueError(
            f"jam_kerja {day}: {value!r} tidak sah; tulis 'JJ:MM-JJ:MM' "
            "(mis. '07:30-16:00') atau 'libur'"
        )
    if closing <= opening:
        raise ValueError(
            f"jam_kerja {day}: jam tutup {closing:%H:%M} harus setelah jam buka {opening:%H:%M}"
        )
    return (opening, closing)


def parse_office_hours(raw: object, base: OfficeHours = DEFAULT_HOURS) -> OfficeHours:
    """Parse the `jam_kerja` mapping; days not named keep `base` (the default week).

    Raises ValueError with an Indonesian message naming the day and the fix.
    """
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise ValueError(
            "jam_kerja harus pemetaan hari ke jam, mis. senin: '07:30-16:00', sabtu: libur"
        )
    hours = list(base)
    seen: dict[int, str] = {}
    for key, value in raw.items():
        name = str(key).strip().lower()
        index = _WEEKDAY_ALIASES.get(name)
        if index is None:
            raise ValueError(f"jam_kerja: hari {key!r} tidak dikenal; pakai {', '.join(WEEKDAYS)}")
        if index in seen:
            raise ValueError(f"jam_kerja: hari {key!r} sudah ditulis sebagai {seen[index]!r}")
        seen[index] = str(key)
        hours[index] = parse_day_hours(name, value)
    if all(day is None for day in hours):
        raise ValueError("jam_kerja: semua hari libur; sedikitnya satu hari harus buka")
    return tuple(hours)


def parse_closed_days(raw: object) -> frozenset[date]:
    """Parse `hari_libur_kantor`: a list of dates (YYYY-MM-DD)."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise ValueError("hari_libur_kantor harus daftar tanggal TTTT-BB-HH, mis. - 2026-12-24")
    days: set[date] = set()
    for value in raw:
        day: date | None = None
        if isinstance(value, date) and not isinstance(value, datetime):
            day = value
        elif isinstance(value, str):
            try:
                day = date.fromisoformat(value.strip())
            except ValueError:
                day = None
        if day is None:
            raise ValueError(
                f"hari_libur_kantor: {value!r} bukan tanggal yang sah; "
                "tulis TTTT-BB-HH, mis. 2026-12-24"
            )
        days.add(day)
    return frozenset(days)


# -- national holidays --------------------------------------------------------------------


@lru_cache(maxsize=256)
def national_holidays(year: int) -> frozenset[date]:
    """Indonesian national public holidays of one year (cached per year)."""
    return frozenset(holidays.country_holidays("ID", years=year).keys())


# -- the calendar -------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware one")
    return moment.astimezone(UTC)


class WorkCalendar:
    """One office's clock: its zone, weekly hours and closed days."""

    def __init__(
        self,
        timezone: str | tzinfo,
        hours: Sequence[DayHours] = DEFAULT_HOURS,
        closed_days: Iterable[date] = (),
        *,
        national: Callable[[int], Iterable[date]] = national_holidays,
    ) -> None:
        """`national(year)` gives the public holidays (default: the `holidays` package)."""
        self.tz: tzinfo = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        if len(hours) != 7:
            raise ValueError("hours needs 7 entries, Monday..Sunday")
        for day in hours:
            if day is not None and not day[0] < day[1]:
                raise ValueError(f"closing must be after opening: {day}")
        if all(day is None for day in hours):
            raise ValueError("the office must be open on at least one weekday")
        self.hours: OfficeHours = tuple(hours)
        self.closed_days: frozenset[date] = frozenset(closed_days)
        self._national = national
        self._years: dict[int, frozenset[date]] = {}
        self._days: dict[date, Interval | None] = {}

    @classmethod
    def for_office(cls, office: Office) -> WorkCalendar:
        """The (shared, cached) calendar of an office."""
        return _calendar_for(office)

    # -- days ------------------------------------------------------------------------------

    def _holidays(self, year: int) -> frozenset[date]:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = frozenset(self._national(year))
        return found

    def is_working_day(self, d: date) -> bool:
        """Open that weekday, and neither a national holiday nor an office closed day."""
        return (
            self.hours[d.weekday()] is not None
            and d not in self.closed_days
            and d not in self._holidays(d.year)
        )

    def _day(self, d: date) -> Interval | None:
        """The office interval of a local date in UTC, or None; cached."""
        try:
            return self._days[d]
        except KeyError:
            pass
        span: Interval | None = None
        day_hours = self.hours[d.weekday()]
        if day_hours is not None and self.is_working_day(d):
            opening, closing = day_hours
            span = (
                datetime.combine(d, opening, self.tz).astimezone(UTC),
                datetime.combine(d, closing, self.tz).astimezone(UTC),
            )
        if len(self._days) >= _DAY_CACHE_LIMIT:
            self._days.clear()
        self._days[d] = span
        return span

    def open_intervals(self, d: date) -> list[Interval]:
        """The office's open intervals on a local date, as UTC (start, end); [] if closed."""
        span = self._day(d)
        return [span] if span else []

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def _days_from(self, d: date) -> Iterator[tuple[date, Interval]]:
        """Working days from `d` on, with their UTC intervals (endless; ValueError after
        `_MAX_CLOSED_RUN` closed days in a row, so a bad calendar cannot hang the bot)."""
        closed_run = 0
        while True:
            span = self._day(d)
            if span is None:
                closed_run += 1
                if closed_run > _MAX_CLOSED_RUN:
                    raise ValueError(f"no working day in {_MAX_CLOSED_RUN} days after {d}")
            else:
                closed_run = 0
                yield d, span
            d += _ONE_DAY

    # -- instants --------------------------------------------------------------------------

    def is_open(self, moment: datetime) -> bool:
        """True if the office is open at this instant (opening included, closing excluded)."""
        t = _utc(moment)
        span = self._day(self._local_date(t))
        return span is not None and span[0] <= t < span[1]

    def next_open(self, moment: datetime) -> datetime:
        """`moment` (UTC) if the office is open then, closing instant included; else the next
        opening."""
        t = _utc(moment)
        for _, (opening, closing) in self._days_from(self._local_date(t)):
            if t <= closing:
                return max(t, opening)
        raise AssertionError("unreachable")  # pragma: no cover

    def add_office_time(self, start: datetime, delta: timedelta) -> datetime:
        """The first instant at which `delta` of office time has passed since `start`."""
        if delta < timedelta(0):
            raise ValueError("delta must not be negative")
        t = _utc(start)
        if not delta:
            return t
        remaining = delta
        for _, (opening, closing) in self._days_from(self._local_date(t)):
            begin = max(t, opening)
            if begin < closing:
                available = closing - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover

    def add(self, start: datetime, duration: Duration) -> datetime:
        """The due time of a step with time standard `duration` started at `start` (UTC).

        Menit/Jam: `add_office_time` (counting starts at the next opening if closed).
        Hari n: move to the next office moment, then the same local time of day n working days
        later, clamped into that day's opening..closing.
        """
        if duration.unit is not TimeUnit.WORKING_DAY:
            return self.add_office_time(start, timedelta(minutes=duration.minutes))
        if duration.amount < 0:
            raise ValueError("duration must not be negative")
        begin = self.next_open(start)
        if duration.amount == 0:
            return begin
        local = begin.astimezone(self.tz)
        time_of_day = local.time()
        days = self._days_from(local.date() + _ONE_DAY)
        for count, (d, (opening, closing)) in enumerate(days, start=1):
            if count == duration.amount:
                due = datetime.combine(d, time_of_day, self.tz).astimezone(UTC)
                return min(max(due, opening), closing)
        raise AssertionError("unreachable")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Office time between two instants; negative if `end` is before `start`."""
        a, b = _utc(start), _utc(end)
        if b < a:
            return -self.elapsed(b, a)
        total = timedelta(0)
        d, last = self._local_date(a), self._local_date(b)
        while d <= last:
            span = self._day(d)
            if span is not None:
                low, high = max(a, span[0]), min(b, span[1])
                if high > low:
                    total += high - low
            d += _ONE_DAY
        return total

    def office_span(self, start: datetime, duration: Duration) -> timedelta:
        """Office time a step of `duration` gets from `start`: elapsed(start, add(start, d)).

        For Menit/Jam this is the duration itself; for Hari it depends on the start (take a
        share of it, e.g. 75 %, and pass it to `add_office_time` for a reminder).
        """
        if duration.unit is not TimeUnit.WORKING_DAY:
            return timedelta(minutes=duration.minutes)
        return self.elapsed(start, self.add(start, duration))


@lru_cache(maxsize=64)
def _calendar_for(office: Office) -> WorkCalendar:
    return WorkCalendar(office.timezone, office.hours, office.closed_days)


__all__ = [
    "DEFAULT_HOURS",
    "WEEKDAYS",
    "WorkCalendar",
    "national_holidays",
    "parse_closed_days",
    "parse_day_hours",
    "parse_office_hours",
]
