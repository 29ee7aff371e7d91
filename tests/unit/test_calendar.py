"""The office clock: due times in office hours and working days, per office and time zone."""

from __future__ import annotations

import random
import time as perf
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from bot.calendar import WorkCalendar, national_holidays
from bot.sop import Duration, SopError, TimeUnit
from bot.sop.loader import load_offices
from bot.sop.model import Office
from tests.conftest import SOP_DIR

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")

# Dates used below (2026): Thu 19 Nov, Fri 20 Nov, Mon 23 Nov are plain working days;
# Mon 17 Aug (Independence Day) and Fri 25 Dec (Christmas) are national holidays;
# Thu 14 May (Ascension) is national, Fri 15 May and Thu 24 Dec are cuti bersama.
CUTI_BERSAMA = frozenset({date(2026, 5, 15), date(2026, 12, 24)})


def minutes(n: int) -> Duration:
    return Duration(n, TimeUnit.MINUTE)


def hours(n: int) -> Duration:
    return Duration(n, TimeUnit.HOUR)


def days(n: int) -> Duration:
    return Duration(n, TimeUnit.WORKING_DAY)


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=WIB)


@pytest.fixture
def cal() -> WorkCalendar:
    """Lumajang-like: WIB, default hours, two cuti bersama days."""
    return WorkCalendar("Asia/Jakarta", closed_days=CUTI_BERSAMA)


@pytest.fixture
def offices() -> dict[str, Office]:
    return load_offices(SOP_DIR / "offices.yaml")


# -- the holidays package knows the dates we rely on ----------------------------------------


def test_the_holidays_package_lists_the_2026_dates_used_here() -> None:
    national = national_holidays(2026)
    assert {date(2026, 8, 17), date(2026, 12, 25), date(2026, 5, 14)} <= national
    assert date(2026, 8, 17).weekday() == 0  # Monday
    assert not CUTI_BERSAMA & national  # cuti bersama is not a public holiday in the package


# -- minutes and hours -----------------------------------------------------------------------


def test_friday_evening_request_with_a_5_minute_step_is_due_monday_0735(
    cal: WorkCalendar,
) -> None:
    due = cal.add(wib(2026, 11, 20, 18, 0), minutes(5))
    assert due == wib(2026, 11, 23, 7, 35)
    assert due.tzinfo is UTC


def test_two_hours_from_thursday_1500_end_friday_0830(cal: WorkCalendar) -> None:
    assert cal.add(wib(2026, 11, 19, 15, 0), hours(2)) == wib(2026, 11, 20, 8, 30)


def test_hours_cross_the_weekend(cal: WorkCalendar) -> None:
    # 30 minutes left on Friday (closes 16:30), 90 on Monday.
    assert cal.add(wib(2026, 11, 20, 16, 0), hours(2)) == wib(2026, 11, 23, 9, 0)


def test_fridays_longer_hours(cal: WorkCalendar) -> None:
    assert cal.add(wib(2026, 11, 20, 15, 30), hours(1)) == wib(2026, 11, 20, 16, 30)
    assert cal.add(wib(2026, 11, 19, 15, 30), hours(1)) == wib(2026, 11, 20, 8, 0)


def test_a_step_ending_exactly_at_closing_is_due_at_closing(cal: WorkCalendar) -> None:
    assert cal.add(wib(2026, 11, 23, 14, 0), hours(2)) == wib(2026, 11, 23, 16, 0)


def test_before_opening_counts_from_opening(cal: WorkCalendar) -> None:
    assert cal.add(wib(2026, 11, 23, 6, 0), minutes(10)) == wib(2026, 11, 23, 7, 40)


def test_independence_day_monday_is_skipped(cal: WorkCalendar) -> None:
    # Fri 14 Aug 16:00 + 1 Jam: 30 min on Friday, Sat/Sun/Mon 17 Aug closed, 30 min Tuesday.
    assert cal.add(wib(2026, 8, 14, 16, 0), hours(1)) == wib(2026, 8, 18, 8, 0)
    assert not cal.is_working_day(date(2026, 8, 17))
    assert cal.open_intervals(date(2026, 8, 17)) == []


def test_christmas_and_the_cuti_bersama_before_it_are_skipped(cal: WorkCalendar) -> None:
    # Wed 23 Dec 15:30 + 1 Jam: Thu 24 (cuti bersama) and Fri 25 (Christmas) closed.
    assert cal.add(wib(2026, 12, 23, 15, 30), hours(1)) == wib(2026, 12, 28, 8, 0)
    without_cuti = WorkCalendar("Asia/Jakarta")
    assert without_cuti.add(wib(2026, 12, 23, 15, 30), hours(1)) == wib(2026, 12, 24, 8, 0)


def test_office_declared_cuti_bersama_is_skipped(cal: WorkCalendar) -> None:
    # Wed 13 May 15:00 + 2 Jam: Thu 14 May national holiday, Fri 15 May cuti bersama.
    assert cal.add(wib(2026, 5, 13, 15, 0), hours(2)) == wib(2026, 5, 18, 8, 30)
    assert not cal.is_working_day(date(2026, 5, 15))
    assert WorkCalendar("Asia/Jakarta").is_working_day(date(2026, 5, 15))


def test_start_during_lunch_is_office_time_no_break_is_modelled(cal: WorkCalendar) -> None:
    start = wib(2026, 11, 23, 12, 0)
    assert cal.is_open(start)
    assert cal.add(start, minutes(30)) == wib(2026, 11, 23, 12, 30)


# -- three time zones ------------------------------------------------------------------------


def test_the_same_instant_is_open_in_wit_but_before_opening_in_wita_and_wib() -> None:
    instant = datetime(2026, 11, 23, 22, 45, tzinfo=UTC)  # Tue 07:45 WIT, 06:45 WITA, 05:45 WIB
    wit, wita, wib_ = (WorkCalendar(z) for z in ("Asia/Jayapura", "Asia/Makassar", "Asia/Jakarta"))
    assert wit.is_open(instant)
    assert not wita.is_open(instant)
    assert not wib_.is_open(instant)
    assert wit.add(instant, minutes(5)) == datetime(2026, 11, 24, 7, 50, tzinfo=WIT)
    assert wita.add(instant, minutes(5)) == datetime(2026, 11, 24, 7, 35, tzinfo=WITA)
    assert wib_.add(instant, minutes(5)) == datetime(2026, 11, 24, 7, 35, tzinfo=WIB)


def test_any_input_zone_gives_the_same_utc_result(cal: WorkCalendar) -> None:
    start = wib(2026, 11, 19, 15, 0)
    results = {cal.add(start.astimezone(z), hours(2)) for z in (UTC, WIB, WITA, WIT)}
    assert results == {datetime(2026, 11, 20, 1, 30, tzinfo=UTC)}


def test_offices_yaml_clocks(offices: dict[str, Office]) -> None:
    lumajang = WorkCalendar.for_office(offices["lumajang"])
    kolaka = WorkCalendar.for_office(offices["kolaka"])
    assert WorkCalendar.for_office(offices["lumajang"]) is lumajang  # cached
    start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 07:00 WIB, 08:00 WITA
    assert lumajang.add(start, minutes(5)) == wib(2026, 11, 23, 7, 35)
    assert kolaka.add(start, minutes(5)) == datetime(2026, 11, 23, 8, 5, tzinfo=WITA)
    assert not lumajang.is_working_day(date(2026, 12, 24))
    assert not kolaka.is_working_day(date(2026, 3, 20))


def test_offices_yaml_cuti_bersama_matches_the_government_list(
    offices: dict[str, Office],
) -> None:
    joint = set(holidays.country_holidays("ID", years=2026, categories=("government",)))
    for office in offices.values():
        assert office.closed_days
        assert office.closed_days <= joint, office.code


# -- working days (Hari) ---------------------------------------------------------------------


def test_one_and_two_days_across_a_weekend(cal: WorkCalendar) -> None:
    start = wib(2026, 11, 19, 10, 0)  # Thursday
    assert cal.add(start, days(1)) == wib(2026, 11, 20, 10, 0)
    assert cal.add(start, days(2)) == wib(2026, 11, 23, 10, 0)


def test_one_and_two_days_across_a_weekend_and_a_holiday(cal: WorkCalendar) -> None:
    start = wib(2026, 8, 14, 10, 0)  # Friday before Independence Day Monday
    assert cal.add(start, days(1)) == wib(2026, 8, 18, 10, 0)
    assert cal.add(start, days(2)) == wib(2026, 8, 19, 10, 0)


def test_a_day_started_after_closing_starts_at_the_next_opening(cal: WorkCalendar) -> None:
    assert cal.add(wib(2026, 11, 20, 20, 0), days(1)) == wib(2026, 11, 24, 7, 30)


def test_a_day_started_at_closing_is_due_next_day_at_closing(cal: WorkCalendar) -> None:
    assert cal.add(wib(2026, 11, 23, 16, 0), days(1)) == wib(2026, 11, 24, 16, 0)


def test_friday_late_time_of_day_is_clamped_to_mondays_closing(cal: WorkCalendar) -> None:
    start = wib(2026, 11, 20, 16, 15)
    assert cal.add(start, days(1)) == wib(2026, 11, 23, 16, 0)
    # Office time given to the step: 15 min on Friday plus Monday's 8.5 h.
    assert cal.office_span(start, days(1)) == timedelta(hours=8, minutes=45)


def test_reminder_at_75_percent_of_a_working_day_step(cal: WorkCalendar) -> None:
    start = wib(2026, 11, 19, 10, 0)  # Thu 10:00 + 1 Hari = Fri 10:00: 8.5 h of office time
    span = cal.office_span(start, days(1))
    assert span == timedelta(hours=8, minutes=30)
    remind = cal.add_office_time(start, span * 0.75)  # 6 h 22.5 min
    assert remind == wib(2026, 11, 20, 7, 52, 30)
    assert cal.office_span(start, hours(2)) == timedelta(hours=2)


# -- elapsed ---------------------------------------------------------------------------------


def test_elapsed_across_a_weekend_counts_only_office_time(cal: WorkCalendar) -> None:
    friday, monday = wib(2026, 11, 20, 15, 0), wib(2026, 11, 23, 9, 0)
    assert cal.elapsed(friday, monday) == timedelta(hours=3)
    assert cal.elapsed(monday, friday) == -timedelta(hours=3)  # late: negative time left
    assert cal.elapsed(wib(2026, 11, 21, 9, 0), wib(2026, 11, 22, 18, 0)) == timedelta(0)


def test_elapsed_of_a_whole_week_with_a_holiday(cal: WorkCalendar) -> None:
    # Mon 17 Aug (holiday) .. Sun 23 Aug: Tue-Thu 8.5 h each, Fri 9 h.
    week = cal.elapsed(wib(2026, 8, 17, 0, 0), wib(2026, 8, 24, 0, 0))
    assert week == timedelta(hours=3 * 8.5 + 9)


# -- argument checks ---------------------------------------------------------------------------


def test_naive_datetimes_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.add(datetime(2026, 11, 23, 9, 0), minutes(5))


def test_zero_and_negative_office_time(cal: WorkCalendar) -> None:
    start = wib(2026, 11, 21, 9, 0)  # Saturday
    assert cal.add_office_time(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="negative"):
        cal.add_office_time(start, timedelta(minutes=-1))


def test_a_calendar_must_open_some_day() -> None:
    with pytest.raises(ValueError, match="at least one"):
        WorkCalendar("Asia/Jakarta", hours=(None,) * 7)
    with pytest.raises(ValueError, match="7 entries"):
        WorkCalendar("Asia/Jakarta", hours=((time(8), time(9)),))


# -- offices.yaml: jam_kerja and hari_libur_kantor ---------------------------------------------


def write_offices(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "offices.yaml"
    path.write_text(
        "kantor:\n"
        "  - kode: lumajang\n"
        "    nama: Diskominfo Lumajang\n"
        "    zona_waktu: Asia/Jakarta\n" + extra,
        encoding="utf-8",
    )
    return path


def test_loader_defaults_and_partial_jam_kerja(tmp_path: Path) -> None:
    plain = load_offices(write_offices(tmp_path, ""))["lumajang"]
    assert plain.hours == Office.hours
    assert plain.closed_days == frozenset()
    extra = (
        "    jam_kerja:\n"
        "      Jum'at: '07.30-11.30'\n"
        "      sabtu: '08:00-12:00'\n"
        "    hari_libur_kantor:\n"
        "      - 2026-12-24\n"
        "      - '2026-12-31'\n"
    )
    office = load_offices(write_offices(tmp_path, extra))["lumajang"]
    assert office.hours[0] == (time(7, 30), time(16, 0))  # not named: default kept
    assert office.hours[4] == (time(7, 30), time(11, 30))
    assert office.hours[5] == (time(8, 0), time(12, 0))
    assert office.hours[6] is None
    assert office.closed_days == {date(2026, 12, 24), date(2026, 12, 31)}
    saturday = WorkCalendar.for_office(office)
    assert saturday.add(wib(2026, 11, 21, 11, 0), hours(2)) == wib(2026, 11, 23, 8, 30)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("    jam_kerja:\n      senin: '7:30 - 4pm'\n", ["senin", "JJ:MM-JJ:MM"]),
        ("    jam_kerja:\n      senin: '25:00-26:00'\n", ["senin", "tidak sah"]),
        ("    jam_kerja:\n      selasa: '16:00-07:30'\n", ["selasa", "harus setelah"]),
        ("    jam_kerja:\n      selasa: '08:00-08:00'\n", ["selasa", "harus setelah"]),
        ("    jam_kerja:\n      funday: '08:00-12:00'\n", ["funday", "tidak dikenal"]),
        ("    jam_kerja:\n      jumat: libur\n      jum'at: libur\n", ["sudah ditulis"]),
        ("    jam_kerja:\n      senin:\n", ["senin", "tidak sah"]),
        ("    jam_kerja: '07:30-16:00'\n", ["jam_kerja harus pemetaan"]),
        (
            "    jam_kerja:\n"
            + "".join(
                f"      {d}: libur\n"
                for d in ("senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu")
            ),
            ["semua hari libur"],
        ),
        ("    hari_libur_kantor:\n      - '2026-02-30'\n", ["2026-02-30", "bukan tanggal"]),
        ("    hari_libur_kantor:\n      - 2026-12-24 10:00:00\n", ["bukan tanggal"]),
        ("    hari_libur_kantor: 2026-12-24\n", ["hari_libur_kantor harus daftar"]),
    ],
)
def test_loader_refuses_bad_office_clock_naming_file_and_office(
    tmp_path: Path, extra: str, words: list[str]
) -> None:
    with pytest.raises(SopError) as caught:
        load_offices(write_offices(tmp_path, extra))
    message = str(caught.value)
    assert message.startswith("offices.yaml: kantor lumajang: ")
    for word in words:
        assert word in message


def test_loader_refuses_an_impossible_unquoted_date_naming_the_file(tmp_path: Path) -> None:
    # PyYAML turns 2026-13-01 into a date itself and fails before the office is known.
    with pytest.raises(SopError, match=r"^offices\.yaml: ada tanggal yang tidak sah .*TTTT-BB-HH"):
        load_offices(write_offices(tmp_path, "    hari_libur_kantor:\n      - 2026-13-01\n"))


# -- properties over many random starts -------------------------------------------------------


def random_start(rng: random.Random) -> datetime:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return base + timedelta(minutes=rng.randrange(366 * 24 * 60), seconds=rng.randrange(60))


def test_property_minutes_and_hours(cal: WorkCalendar) -> None:
    rng = random.Random(20261123)
    for _ in range(3000):
        start = random_start(rng)
        duration = (
            minutes(rng.randint(1, 3000)) if rng.random() < 0.7 else hours(rng.randint(1, 40))
        )
        due = cal.add(start, duration)
        assert due >= start
        assert due.tzinfo is UTC
        spans = cal.open_intervals(due.astimezone(WIB).date())
        assert spans, (start, duration, due)
        assert spans[0][0] < due <= spans[0][1], (start, duration, due)
        assert cal.elapsed(start, due) == timedelta(minutes=duration.minutes)
        # Nothing earlier would do: one second less of office time is not yet enough.
        assert cal.elapsed(start, due - timedelta(seconds=1)) < timedelta(minutes=duration.minutes)


def test_property_working_days(cal: WorkCalendar) -> None:
    rng = random.Random(17081945)
    for _ in range(2000):
        start = random_start(rng)
        n = rng.randint(1, 15)
        due = cal.add(start, days(n))
        assert due > start
        local_due = due.astimezone(WIB)
        spans = cal.open_intervals(local_due.date())
        assert spans
        assert spans[0][0] <= due <= spans[0][1]
        # Exactly n working days after the (moved) start day.
        begin = cal.next_open(start).astimezone(WIB).date()
        counted = sum(
            cal.is_working_day(begin + timedelta(days=i))
            for i in range(1, (local_due.date() - begin).days + 1)
        )
        assert counted == n
        # Same time of day unless clamped at closing (or opening).
        moved = cal.next_open(start).astimezone(WIB).time()
        if local_due.time() != moved:
            assert due in (spans[0][0], spans[0][1])


def test_property_add_agrees_with_a_minute_by_minute_count(cal: WorkCalendar) -> None:
    """An independent oracle: walk minute by minute, counting the minutes the office is open."""
    rng = random.Random(7)
    for _ in range(150):
        start = random_start(rng).replace(second=0)
        n = rng.randint(1, 900)
        t, counted = start, 0
        while counted < n:
            if cal.is_open(t):
                counted += 1
            t += timedelta(minutes=1)
        assert cal.add(start, minutes(n)) == t


def test_many_due_times_are_fast(cal: WorkCalendar) -> None:
    """A loose guard (the 100,000-in-under-2-s figure is measured in bench, not here)."""
    rng = random.Random(1)
    starts = [random_start(rng) for _ in range(20_000)]
    durations = [minutes(5), minutes(30), hours(2), days(1), days(2)]
    began = perf.perf_counter()
    for i, start in enumerate(starts):
        cal.add(start, durations[i % len(durations)])
    assert perf.perf_counter() - began < 2.0
