"""Period reports: counts, office time per step against the standard, who is late; the chart.

Cases are played through the core with a ManualClock, so every duration is known to the
second. Lumajang keeps WIB; its office opens 07:30, so every step below runs in office hours.
"""

from __future__ import annotations

import dataclasses
import struct
import warnings
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.charts import HEIGHT, WIDTH, render_charts, render_sop_chart
from bot.clock import ManualClock
from bot.conversations.events import Sender
from bot.conversations.reports import summary_text
from bot.conversations.turn import Turn
from bot.db import Database
from bot.errors import BadInput
from bot.i18n import Translator
from bot.models import Case, User
from bot.reports import (
    DAY,
    MONTH,
    RANGE,
    WEEK,
    YEAR,
    Period,
    PeriodReport,
    StepStats,
    month_period,
    parse_period,
    period_report,
)
from bot.settings import ROOT
from bot.sop import SopRegistry
from bot.workflow import FileIn, Workflow
from tests.support.factories import make_acting, make_member, make_official

SOP = "lmj-layanan-kim"
WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
NOV = month_period(2026, 11)
SURAT = FileIn(kind="document", file_ref="file-1", file_name="surat_tugas.pdf",
               mime="application/pdf", size=1234, label="Surat Tugas")


def wib(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


@dataclass
class People:
    member: User
    staf_a: User
    staf_b: User
    kadis: User
    sekdis: User
    kabid: User
    kasi: User


@pytest.fixture
def people(db: Database) -> People:
    with db.session() as s:
        return People(
            member=make_member(s, "Siti Aminah"),
            staf_a=make_official(s, "staf", name="Staf A"),
            staf_b=make_official(s, "staf", name="Staf B"),
            kadis=make_official(s, "kadis", name="Kadin"),
            sekdis=make_official(s, "sekdis", name="Sekdin"),
            kabid=make_official(s, "kabid", name="Kabid"),
            kasi=make_official(s, "kasi", name="Kasi"),
        )


@pytest.fixture
def tr() -> Translator:
    return Translator(ROOT / "locales")


class Play:
    """Drive cases through the core at set local times."""

    def __init__(self, db: Database, wf: Workflow, clock: ManualClock, p: People) -> None:
        self.db, self.wf, self.clock, self.p = db, wf, clock, p
        self._keys = 0

    def submit(self, at: datetime) -> int:
        self.clock.set(at)
        self._keys += 1
        with self.db.session() as s:
            case, _ = self.wf.submit_request(
                s, self.p.member, SOP, subject=f"Permohonan {self._keys}",
                purpose="Mohon peliputan kegiatan KIM", files=[SURAT],
                request_key=f"r-{self._keys}-{at.isoformat()}")
        assert case.id is not None
        return case.id

    def press(self, case_id: int, at: datetime, user: User, code: str, note: str = "") -> None:
        self.clock.set(at)
        with self.db.session() as s:
            case = s.get(Case, case_id)
            assert case is not None
            self.wf.act(s, case_id, user, version=case.version, action_code=code, note=note)

    def resubmit(self, case_id: int, at: datetime) -> None:
        self.clock.set(at)
        with self.db.session() as s:
            case = s.get(Case, case_id)
            assert case is not None
            self.wf.resubmit(s, case_id, self.p.member, version=case.version,
                             note="Sudah dilengkapi", files=[])


def report(db: Database, registry: SopRegistry, period: Period, now: datetime,
           office: str = "lumajang") -> PeriodReport:
    with db.session() as s:
        return period_report(s, registry, office, period.first, period.last, now=now,
                             kind=period.kind)


def three_requests(play: Play) -> tuple[int, int, int]:
    """Monday 23 Nov 2026: two requests go all the way, the third waits late at step 2.

    Standards (lmj-layanan-kim): 3, 5, 5, 1, 3, 1, 15, 1 minutes.
    """
    p = play.p
    one = play.submit(wib(23, 9))
    for minute, user, code, note in [
        (2, p.staf_a, "terima", ""),  # step 1: 2 min
        (6, p.staf_b, "agenda", ""),  # step 2: 4 min
        (16, p.kadis, "dispo", "Kabid mohon ditindaklanjuti"),  # step 3: 10 min, late
        (17, p.staf_a, "catat", ""),  # step 4: 1 min (due exactly then: on time)
        (20, p.staf_a, "sampai", ""),  # step 5: 3 min
        (21, p.kabid, "lanjut", "Jadwalkan"),  # step 6: 1 min
        (31, p.staf_a, "layani", ""),  # step 7: 10 min
        (32, p.kasi, "arsip", ""),  # step 8: 1 min
    ]:
        play.press(one, wib(23, 9, minute), user, code, note)
    two = play.submit(wib(23, 10))
    for minute, user, code, note in [
        (1, p.staf_b, "terima", ""),  # 1 min
        (5, p.staf_b, "agenda", ""),  # 4 min
        (9, p.kadis, "dispo", "Segera"),  # 4 min
        (10, p.staf_b, "catat", ""),  # 1 min
        (12, p.staf_b, "sampai", ""),  # 2 min
        (13, p.sekdis, "lanjut", "Lanjutkan"),  # 1 min
        (28, p.staf_a, "layani", ""),  # 15 min: on time to the second
        (29, p.kasi, "arsip", ""),  # 1 min
    ]:
        play.press(two, wib(23, 10, minute), user, code, note)
    three = play.submit(wib(23, 11))
    # 2 minutes at step 1, then 28 minutes with the member (not counted), then 2 more:
    # one stay of 4 minutes against 3, late.
    play.press(three, wib(23, 11, 2), p.staf_a, "kembali", "Surat tugas belum ditandatangani")
    play.resubmit(three, wib(23, 11, 30))
    play.press(three, wib(23, 11, 32), p.staf_a, "terima")  # step 2 from 11:32, due 11:37
    return one, two, three


def stats(step: StepStats) -> tuple[object, ...]:
    return (step.step_no, step.stays, step.on_time, step.median_s, step.mean_s,
            step.standard_s)


def test_counts_step_times_and_who_is_late(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People,
) -> None:
    _, _, three = three_requests(Play(db, workflow, clock, people))
    result = report(db, registry, NOV, now=wib(23, 12))

    assert (result.received, result.finished, result.open) == (3, 2, 1)
    assert [s.code for s in result.sops] == [SOP]
    sop = result.sop(SOP)
    assert (sop.received, sop.finished, sop.open) == (3, 2, 1)
    assert [stats(s) for s in sop.steps] == [
        (1, 3, 2, 120.0, 140.0, 180),
        (2, 2, 2, 240.0, 240.0, 300),
        (3, 2, 1, 420.0, 420.0, 300),
        (4, 2, 2, 60.0, 60.0, 60),
        (5, 2, 2, 150.0, 150.0, 180),
        (6, 2, 2, 60.0, 60.0, 60),
        (7, 2, 2, 750.0, 750.0, 900),
        (8, 2, 2, 60.0, 60.0, 60),
    ]
    shares = [s.on_time_share for s in sop.steps]
    assert shares == [pytest.approx(2 / 3), 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert [s.standard_text for s in sop.steps[:3]] == ["3 menit", "5 menit", "5 menit"]
    assert sop.steps[2].activity.startswith("Pengecekan surat")

    [late] = result.late_now
    assert (late.case_id, late.agenda, late.step_no, late.roles, late.holders, late.late_s) == (
        three, "003/SM/DISKOMINFO-LMJ/2026", 2, ("staf",), ("Staf A", "Staf B"), 23 * 60)
    assert late.due_at == wib(23, 11, 37)

    by_official = [(o.name, o.roles, o.late, o.stays) for o in result.late_by_official]
    # Staf A ended six stays (case 1: 1, 4, 5, 7; case 2: 7; case 3: 1), one of them late.
    assert by_official == [("Kadin", ("kadis",), 1, 2), ("Staf A", ("staf",), 1, 6)]


def test_late_now_is_judged_at_now_and_names_the_plt(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People,
) -> None:
    play = Play(db, workflow, clock, people)
    case_id = play.submit(wib(23, 9))
    play.press(case_id, wib(23, 9, 2), people.staf_a, "terima")
    play.press(case_id, wib(23, 9, 4), people.staf_b, "agenda")  # step 3 (Kadin), due 09:09
    with db.session() as s:
        plt = make_official(s, "kabid", name="Plt Kadin")
        make_acting(s, plt, "kadis", wib(23, 0), wib(24, 0))
    assert report(db, registry, NOV, now=wib(23, 9, 9)).late_now == ()  # due, not late yet
    [late] = report(db, registry, NOV, now=wib(23, 9, 30)).late_now
    assert (late.step_no, late.roles, late.holders, late.late_s) == (
        3, ("kadis",), ("Plt Kadin",), 21 * 60)
    # Lateness is office time: at 20:00 it is 09:09 to the 16:00 closing, 6 h 51 min ...
    assert report(db, registry, NOV, now=wib(23, 20)).late_now[0].late_s == 7 * 3600 - 9 * 60
    # ... and a case waiting on the member is not late for the office.
    other = play.submit(wib(23, 9, 40))
    play.press(other, wib(23, 9, 45), people.staf_a, "kembali", "Lengkapi surat tugas")
    assert [s.case_id for s in report(db, registry, NOV, now=wib(23, 12)).late_now] == [
        case_id]


def test_a_stay_belongs_to_the_period_it_ended_in(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People,
) -> None:
    play = Play(db, workflow, clock, people)
    case_id = play.submit(wib(30, 15, 55))
    # Monday 30 Nov 15:55, office closes 16:00; accepted Tuesday 1 Dec 07:32:
    # 5 + 2 = 7 office minutes, late, a December stay of a November request.
    play.press(case_id, wib(1, 7, 32, month=12), people.staf_a, "terima")
    now = wib(1, 12, month=12)
    november = report(db, registry, NOV, now=now)
    december = report(db, registry, month_period(2026, 12), now=now)
    assert (november.received, november.finished, november.open) == (1, 0, 1)
    assert november.sop(SOP).steps[0].stays == 0
    assert november.late_by_official == ()
    assert (december.received, december.finished, december.open) == (0, 0, 1)
    first = december.sop(SOP).steps[0]
    assert (first.stays, first.on_time, first.median_s) == (1, 0, 420.0)
    assert [(o.name, o.late, o.stays) for o in december.late_by_official] == [("Staf A", 1, 1)]


def test_periods_are_local_dates_of_the_office(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People,
) -> None:
    play = Play(db, workflow, clock, people)
    play.submit(wib(1, 0, 10))  # 1 Nov 00:10 WIB is still 31 Oct in UTC
    play.submit(wib(30, 23, 30))  # 30 Nov 23:30 WIB: November
    play.submit(wib(1, 0, 30, month=12))  # 1 Dec 00:30 WIB is 30 Nov 17:30 UTC: December
    now = wib(2, 12, month=12)
    assert report(db, registry, month_period(2026, 10), now=now).received == 0
    assert report(db, registry, NOV, now=now).received == 2
    assert report(db, registry, month_period(2026, 12), now=now).received == 1
    assert report(db, registry, Period(date(2026, 11, 30), date(2026, 11, 30)),
                  now=now).received == 1
    # Open at the end of each period: the backlog then, not now.
    assert report(db, registry, month_period(2026, 10), now=now).open == 0
    assert report(db, registry, NOV, now=now).open == 2
    assert report(db, registry, month_period(2026, 12), now=now).open == 3


def test_a_finished_case_leaves_the_backlog_in_the_period_it_finished(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People,
) -> None:
    three_requests(Play(db, workflow, clock, people))
    before = Period(date(2026, 11, 1), date(2026, 11, 22))
    assert (report(db, registry, before, now=wib(23, 12)).received,
            report(db, registry, before, now=wib(23, 12)).open) == (0, 0)
    monday = report(db, registry, Period(date(2026, 11, 23), date(2026, 11, 23)),
                    now=wib(23, 12))
    assert (monday.received, monday.finished, monday.open) == (3, 2, 1)
    later = report(db, registry, Period(date(2026, 11, 24), date(2026, 11, 30)),
                   now=wib(25, 12))
    assert (later.received, later.finished, later.open) == (0, 0, 1)
    assert all(s.stays == 0 for s in later.sop(SOP).steps)
    assert later.late_by_official == ()


def test_kolaka_counts_in_wita(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People,
) -> None:
    # Nothing from Lumajang shows in Kolaka's report; its periods are WITA dates.
    three_requests(Play(db, workflow, clock, people))
    kolaka = report(db, registry, NOV, now=wib(23, 12), office="kolaka")
    assert (kolaka.received, kolaka.finished, kolaka.open, kolaka.late_now) == (0, 0, 0, ())
    assert {s.code for s in kolaka.sops} == {"klk-bentuk-kim"}
    start, end = NOV.bounds("Asia/Makassar")
    assert (start, end) == (datetime(2026, 10, 31, 16, tzinfo=UTC),
                            datetime(2026, 11, 30, 16, tzinfo=UTC))
    assert (kolaka.start, kolaka.end) == (start, end)
    assert Period(date(2026, 11, 30), date(2026, 11, 30)).bounds("Asia/Jakarta") == (
        datetime(2026, 11, 29, 17, tzinfo=UTC), datetime(2026, 11, 30, 17, tzinfo=UTC))


# -- periods ----------------------------------------------------------------------------

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, Period(date(2026, 11, 1), date(2026, 11, 30), MONTH)),
        ("", Period(date(2026, 11, 1), date(2026, 11, 30), MONTH)),
        ("bulan", Period(date(2026, 11, 1), date(2026, 11, 30), MONTH)),
        ("2026-02", Period(date(2026, 2, 1), date(2026, 2, 28), MONTH)),
        ("2028-02", Period(date(2028, 2, 1), date(2028, 2, 29), MONTH)),
        ("2026-12", Period(date(2026, 12, 1), date(2026, 12, 31), MONTH)),
        ("2026-11-01..2026-11-30", Period(date(2026, 11, 1), date(2026, 11, 30), RANGE)),
        (" 2026-11-05 .. 2026-11-05 ", Period(date(2026, 11, 5), date(2026, 11, 5), RANGE)),
        ("2026-11-05", Period(date(2026, 11, 5), date(2026, 11, 5), DAY)),
        ("minggu", Period(date(2026, 11, 23), date(2026, 11, 29), WEEK)),
        ("Week", Period(date(2026, 11, 23), date(2026, 11, 29), WEEK)),
        ("2025", Period(date(2025, 1, 1), date(2025, 12, 31), YEAR)),
        ("tahun", Period(date(2026, 1, 1), date(2026, 12, 31), YEAR)),
    ],
)
def test_periods_people_type(text: str | None, expected: Period) -> None:
    assert parse_period(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-11-31", "2026-11-30..2026-11-01", "kemarin", "2026-11-01..",
     "11-2026", "2026-11-01..2040-01-01", "20261"],
)
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_period(text, TODAY)
    assert info.value.key == "report.bad_period"
    assert info.value.params == {"period": text}


def test_period_labels() -> None:
    assert NOV.label("id") == "November 2026"
    assert month_period(2026, 8).label("id") == "Agustus 2026"
    assert month_period(2026, 8).label("en") == "August 2026"
    assert Period(date(2026, 11, 23), date(2026, 11, 29), WEEK).label("id") == (
        "23 Nov 2026 – 29 Nov 2026")
    assert Period(date(2026, 1, 1), date(2026, 12, 31), YEAR).label("en") == "2026"


# -- the chart --------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR, after checking the signature and its CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(kind + body)
    width, height = struct.unpack(">II", body[:8])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_chart_is_a_png_of_the_stated_size(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People, tr: Translator, language: str,
) -> None:
    three_requests(Play(db, workflow, clock, people))
    result = report(db, registry, NOV, now=wib(23, 12))
    [(code, png)] = render_charts(result, tr, language)
    assert code == SOP
    assert png_size(png) == (WIDTH, HEIGHT) == (1200, 700)
    # The same report draws the same picture.
    assert render_charts(result, tr, language)[0][1] == png


def test_a_chart_without_stays_or_with_odd_names_still_draws(
    db: Database, registry: SopRegistry, tr: Translator,
) -> None:
    empty = report(db, registry, NOV, now=wib(23, 12))
    assert render_charts(empty, tr, "id") == []  # nothing happened: no chart
    sop = empty.sop(SOP)
    odd = dataclasses.replace(sop, name="Layanan 📣 KIM $x^2$ 100%")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert png_size(render_sop_chart(empty, odd, tr, "id")) == (WIDTH, HEIGHT)


# -- the chat summary -------------------------------------------------------------------


def test_the_summary_text_has_the_numbers(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock,
    people: People, tr: Translator,
) -> None:
    three_requests(Play(db, workflow, clock, people))
    result = report(db, registry, NOV, now=wib(23, 12))
    turn = Turn(svc=SimpleNamespace(tr=tr), session=None, user=None,  # type: ignore[arg-type]
                lang="id", sender=Sender("telegram", "1", "1"))
    lines = summary_text(turn, result).splitlines()
    assert lines[:3] == [
        "📊 LAPORAN Dinas Komunikasi dan Informatika Kabupaten Lumajang",
        "Periode: November 2026 (WIB)",
        "Diterima: 3 · Selesai: 2 · Masih berjalan di akhir periode: 1",
    ]
    start = lines.index(tr.text("id", "report.steps_header"))
    assert lines[start + 1:start + 9] == [
        "1. 2 menit (2 menit 20 detik) / 3 menit kerja · 67% (2/3)",
        "2. 4 menit (4 menit) / 5 menit kerja · 100% (2/2)",
        "3. 7 menit (7 menit) / 5 menit kerja · 50% (1/2) ⚠️",
        "4. 1 menit (1 menit) / 1 menit kerja · 100% (2/2)",
        "5. 2 menit 30 detik (2 menit 30 detik) / 3 menit kerja · 100% (2/2)",
        "6. 1 menit (1 menit) / 1 menit kerja · 100% (2/2)",
        "7. 12 menit 30 detik (12 menit 30 detik) / 15 menit kerja · 100% (2/2)",
        "8. 1 menit (1 menit) / 1 menit kerja · 100% (2/2)",
    ]
    assert lines[-8:] == [
        "⏰ Terlambat sekarang (1):",
        "• 003/SM/DISKOMINFO-LMJ/2026 langkah 2 — Staf Administrasi: Staf A, Staf B — "
        "terlambat 23 menit",
        "",
        "Langkah yang selesai terlambat dalam periode, per pejabat:",
        "• Kadin (Kepala Dinas): 1 dari 2 langkah",
        "• Staf A (Staf Administrasi): 1 dari 6 langkah",
        "",
        "📣 Pengaduan: 0 masuk, 0 dijawab (0 tepat waktu); 0 masih terbuka melewati batas.",
    ]
