"""SLA: due times in office time, then reminder, overdue notice and escalation, each once.

The clock is a ManualClock: tests move it to the instants that matter and call `run_due`, the
scheduler's whole job. They look at what people would receive (outbox rows: key, recipient,
params) and at the case's stored SLA fields and step visits.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlmodel import col, select

from bot.admin import admin_accounts_of_office
from bot.clock import ManualClock, from_db
from bot.db import Database
from bot.errors import NotAllowed
from bot.models import AuditEntry, Case, Notification, StepVisit, User
from bot.settings import Settings
from bot.sla import ESCALATED, OVERDUE, REMINDED, Sla, SlaRun
from bot.sop import SopRegistry
from bot.workflow import FileIn, Workflow
from tests.conftest import SOP_DIR
from tests.support.factories import (
    LumajangPeople,
    lumajang_people,
    make_acting,
    make_official,
    make_user,
    revoke_roles,
)

SOP = "lmj-layanan-kim"
WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")
SURAT = FileIn(kind="document", file_ref="file-1", file_name="surat_tugas.pdf",
               mime="application/pdf", size=1234, label="Surat Tugas")


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=WIB)


@pytest.fixture
def registry(tmp_path: Path) -> SopRegistry:
    """The offices and the Lumajang SOP only (other SOPs in sop_steps/ do not matter here)."""
    sops = tmp_path / "lumajang_sop"
    sops.mkdir()
    for name in ("offices.yaml", "lumajang_pelayanan_kim.yaml"):
        shutil.copy(SOP_DIR / name, sops)
    return SopRegistry.from_dir(sops)


People = LumajangPeople


@pytest.fixture
def people(db: Database) -> People:
    with db.session() as s:
        return lumajang_people(s, "Plt Kadin")


# -- helpers -------------------------------------------------------------------------------


def submit(db: Database, wf: Workflow, member: User, key: str = "req-1", sop: str = SOP) -> int:
    with db.session() as s:
        case, created = wf.submit_request(
            s, member, sop, subject="Peliputan KIM", purpose="Mohon peliputan kegiatan KIM",
            files=[SURAT], request_key=key)
    assert created
    assert case.id is not None
    return case.id


def load(db: Database, case_id: int) -> Case:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def press(db: Database, wf: Workflow, case_id: int, user: User, code: str,
          note: str = "") -> None:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        wf.act(s, case_id, user, version=case.version, action_code=code, note=note)


def resubmit(db: Database, wf: Workflow, case_id: int, member: User) -> None:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        wf.resubmit(s, case_id, member, version=case.version, note="Sudah dilengkapi",
                    files=[])


def run(db: Database, wf: Workflow | Sla) -> SlaRun:
    sla = wf.sla if isinstance(wf, Workflow) else wf
    with db.session() as s:
        return sla.run_due(s)


def last_id(db: Database) -> int:
    with db.session() as s:
        row = s.exec(select(Notification).order_by(col(Notification.id).desc())).first()
        return row.id if row is not None and row.id is not None else 0


def sent_after(db: Database, after: int, *, sla_only: bool = False) -> list[Notification]:
    with db.session() as s:
        statement = select(Notification).where(col(Notification.id) > after)
        if sla_only:
            statement = statement.where(col(Notification.key).startswith("notify.sla_"))
        return list(s.exec(statement.order_by(col(Notification.id))).all())


def who(rows: list[Notification]) -> list[tuple[str, int, int | None]]:
    """(key, recipient, step) of each message."""
    return [(n.key, n.recipient_id, n.params.get("step_no")) for n in rows]


def visits(db: Database, case_id: int) -> list[StepVisit]:
    with db.session() as s:
        return list(s.exec(select(StepVisit).where(StepVisit.case_id == case_id)
                           .order_by(col(StepVisit.id))).all())


def walk(db: Database, wf: Workflow, p: People, case_id: int, until: int,
         kadis: User | None = None) -> None:
    """Move a fresh Lumajang case forward at the clock's instant until it sits at `until`."""
    path = [(p.staf_a, "terima", ""), (p.staf_b, "agenda", ""),
            (kadis or p.kadis, "dispo", "Kabid mohon ditindaklanjuti"), (p.staf_a, "catat", ""),
            (p.staf_a, "sampai", ""), (p.kabid, "lanjut", "Siapkan peliputan"),
            (p.staf_a, "layani", "")]
    for user, code, note in path[: until - 1]:
        press(db, wf, case_id, user, code, note)
    assert load(db, case_id).step_no == until


# -- due, remind and escalate times stored on entry ------------------------------------------


def test_a_request_sent_after_friday_closing_is_due_monday_morning(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    clock.set(wib(2026, 11, 20, 17, 0))  # Friday, the office closed at 16:30
    case_id = submit(db, workflow, people.member)
    case = load(db, case_id)
    # Step 1 takes 3 menit of office time: counting starts at Monday's opening.
    assert from_db(case.due_at) == wib(2026, 11, 23, 7, 33)  # type: ignore[arg-type]
    # Reminder when 75 % of the standard is used (2 min 15 s) ...
    assert from_db(case.remind_at) == wib(2026, 11, 23, 7, 32, 15)  # type: ignore[arg-type]
    # ... escalation 50 % of the standard after the due time.
    assert from_db(case.escalate_at) == wib(2026, 11, 23, 7, 34, 30)  # type: ignore[arg-type]
    assert case.sla_stage == 0
    assert from_db(case.sla_next_at) == from_db(case.remind_at)  # type: ignore[arg-type]
    # The petugas see the deadline in their task.
    tasks = [n for n in sent_after(db, 0) if n.key == "notify.task"]
    assert {n.recipient_id for n in tasks} == {people.staf_a.id, people.staf_b.id}
    assert {n.params["due_at"] for n in tasks} == {wib(2026, 11, 23, 7, 33).astimezone(
        UTC).isoformat()}
    [visit] = visits(db, case_id)
    assert (visit.step_no, visit.standard_text, visit.standard_s) == (1, "3 menit", 180)
    assert visit.left_at is None
    with db.session() as s:
        assert workflow.sla.next_at(s) == wib(2026, 11, 23, 7, 32, 15)


def test_reminder_overdue_and_escalation_come_once_each_and_never_early(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = submit(db, workflow, people.member)  # Monday 09:00: due 09:03
    start = last_id(db)
    staf = {people.staf_a.id, people.staf_b.id}

    clock.set(wib(2026, 11, 23, 9, 2, 14))  # one second before the reminder
    assert run(db, workflow).messages == 0
    assert sent_after(db, start) == []

    clock.set(wib(2026, 11, 23, 9, 2, 15))
    result = run(db, workflow)
    assert (result.cases, result.reminders, result.messages) == (1, 1, 2)
    reminders = sent_after(db, start)
    assert {(n.key, n.recipient_id) for n in reminders} == {
        ("notify.sla_reminder", user) for user in staf}
    params = reminders[0].params
    assert (params["agenda"], params["step_no"], params["waktu"]) == (
        "001/SM/DISKOMINFO-LMJ/2026", 1, "3 menit")
    assert params["due_at"] == wib(2026, 11, 23, 9, 3).astimezone(UTC).isoformat()
    assert reminders[0].case_id == case_id
    assert reminders[0].actions == ["terima", "kembali"]  # they can act from the reminder
    assert load(db, case_id).sla_stage == REMINDED
    # Running again (a second scheduler tick, a restart) sends nothing more.
    assert run(db, workflow).messages == 0
    clock.set(wib(2026, 11, 23, 9, 2, 59))
    assert run(db, workflow).messages == 0
    assert len(sent_after(db, start)) == 2

    clock.set(wib(2026, 11, 23, 9, 3))
    mark = last_id(db)
    assert run(db, workflow).overdue == 1
    assert {(n.key, n.recipient_id) for n in sent_after(db, mark)} == {
        ("notify.sla_overdue", user) for user in staf}
    assert run(db, workflow).messages == 0
    assert load(db, case_id).sla_stage == OVERDUE

    clock.set(wib(2026, 11, 23, 9, 4, 29))
    assert run(db, workflow).messages == 0
    clock.set(wib(2026, 11, 23, 9, 4, 30))  # due + 50 % of 3 menit
    mark = last_id(db)
    assert run(db, workflow).escalations == 1
    [escalation] = sent_after(db, mark)
    # Staf → Kasi: only the supervisor hears of it, with the names of who is late.
    assert (escalation.key, escalation.recipient_id) == ("notify.sla_escalated", people.kasi.id)
    assert escalation.params["late_names"] == "Staf A, Staf B"
    assert escalation.params["step_no"] == 1
    assert escalation.actions == []  # the Kasi cannot act for the Staf
    case = load(db, case_id)
    assert (case.sla_stage, case.sla_next_at) == (ESCALATED, None)

    clock.advance(timedelta(days=3))
    assert run(db, workflow).messages == 0
    with db.session() as s:
        assert workflow.sla.next_at(s) is None
        keys = [n.key for n in s.exec(select(Notification).where(
            col(Notification.key).startswith("notify.sla_")))]
    assert sorted(keys) == ["notify.sla_escalated", "notify.sla_overdue", "notify.sla_overdue",
                            "notify.sla_reminder", "notify.sla_reminder"]


def test_escalation_goes_up_to_the_kabid_when_no_kasi_is_bound(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:
        revoke_roles(s, people.kasi)
    submit(db, workflow, people.member)
    for moment in (wib(2026, 11, 23, 9, 2, 15), wib(2026, 11, 23, 9, 3)):
        clock.set(moment)
        run(db, workflow)
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 4, 30))
    assert who(sent_after(db, mark)) == []
    run(db, workflow)
    [escalation] = sent_after(db, mark)
    assert (escalation.key, escalation.recipient_id) == ("notify.sla_escalated", people.kabid.id)
    assert escalation.params["late_names"] == "Staf A, Staf B"


def test_escalation_names_only_the_late_holders_still_in_the_role(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:
        revoke_roles(s, people.staf_b)
    submit(db, workflow, people.member)
    clock.set(wib(2026, 11, 23, 9, 5))  # everything missed at once
    mark = last_id(db)
    run(db, workflow)
    assert who(sent_after(db, mark)) == [
        ("notify.sla_overdue", people.staf_a.id, 1),
        ("notify.sla_escalated", people.kasi.id, 1),
    ]
    assert sent_after(db, mark)[1].params["late_names"] == "Staf A"


def with_admins(registry: SopRegistry, clock: ManualClock, **env: Any) -> Workflow:
    """The workflow as `build_services` wires it, with admins configured as in `env`."""
    settings = Settings(_env_file=None, **env)
    admins = {code: admin_accounts_of_office(settings, registry.offices, code)
              for code in registry.offices}
    return Workflow(registry, clock, Sla(registry, clock, admins=admins))


def test_a_late_kepala_dinas_step_escalates_to_the_office_admins(
    db: Database, registry: SopRegistry, people: People, clock: ManualClock
) -> None:
    # 778 administers Lumajang too but has never written to the bot: they cannot be reached.
    wf = with_admins(registry, clock,
                     KIMBOT_OFFICE_ADMINS="777:lumajang,778:lumajang,888:kolaka")
    with db.session() as s:
        lumajang_admin = make_user(s, name="Admin Lumajang", external_id="777")
        make_user(s, name="Admin Kolaka", external_id="888")
    case_id = submit(db, wf, people.member)
    walk(db, wf, people, case_id, 3)  # Monday 09:00: step 3 is the Kadin's, 5 menit
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 7, 29))  # late, not yet escalated
    run(db, wf)
    assert who(sent_after(db, mark)) == [("notify.sla_overdue", people.kadis.id, 3)]
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 7, 30))  # due 09:05 + 50 % of 5 menit
    assert run(db, wf).escalations == 1
    # Nobody is above the Kepala Dinas: the Lumajang admin hears of it, not Kolaka's.
    [escalation] = sent_after(db, mark)
    assert (escalation.key, escalation.recipient_id) == (
        "notify.sla_escalated", lumajang_admin.id)
    assert (escalation.params["late_names"], escalation.params["step_no"]) == ("Kadin", 3)
    assert escalation.actions == []
    clock.advance(timedelta(days=3))
    assert run(db, wf).messages == 0  # once


def test_an_escalation_with_nobody_above_skips_the_late_admin_and_reaches_the_others(
    db: Database, registry: SopRegistry, people: People, clock: ManualClock
) -> None:
    # The Kadin is an admin of every office himself; 555 administers every office too.
    wf = with_admins(registry, clock,
                     KIMBOT_ADMIN_IDS=f"{people.kadis.external_id},555")
    with db.session() as s:
        other_admin = make_user(s, name="Admin Diskominfo", external_id="555")
    case_id = submit(db, wf, people.member)
    walk(db, wf, people, case_id, 3)
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 8))
    run(db, wf)
    assert who(sent_after(db, mark)) == [
        ("notify.sla_overdue", people.kadis.id, 3),
        ("notify.sla_escalated", other_admin.id, 3),
    ]


def test_a_supervisor_above_is_told_rather_than_the_admins(
    db: Database, registry: SopRegistry, people: People, clock: ManualClock
) -> None:
    wf = with_admins(registry, clock, KIMBOT_OFFICE_ADMINS="777:lumajang")
    with db.session() as s:
        make_user(s, name="Admin Lumajang", external_id="777")
    submit(db, wf, people.member)  # step 1 is the Staf's: the Kasi is above
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 4, 30))
    run(db, wf)
    escalations = [n for n in sent_after(db, mark) if n.key == "notify.sla_escalated"]
    assert [n.recipient_id for n in escalations] == [people.kasi.id]


# -- moving on, finishing ---------------------------------------------------------------------


def test_a_step_that_moved_on_before_its_reminder_is_never_reminded(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = submit(db, workflow, people.member)
    clock.set(wib(2026, 11, 23, 9, 2, 14))  # just before step 1's reminder
    press(db, workflow, case_id, people.staf_a, "terima")
    case = load(db, case_id)
    # Step 2 (5 menit) has its own times, counted from now.
    assert case.step_no == 2
    assert from_db(case.due_at) == wib(2026, 11, 23, 9, 7, 14)  # type: ignore[arg-type]
    assert from_db(case.remind_at) == wib(2026, 11, 23, 9, 5, 59)  # type: ignore[arg-type]
    assert from_db(case.escalate_at) == wib(2026, 11, 23, 9, 9, 44)  # type: ignore[arg-type]
    assert case.sla_stage == 0
    mark = last_id(db)

    for moment in (wib(2026, 11, 23, 9, 2, 15), wib(2026, 11, 23, 9, 3),
                   wib(2026, 11, 23, 9, 4, 30), wib(2026, 11, 23, 9, 5, 58)):
        clock.set(moment)  # past step 1's old reminder, due and escalation times
        assert run(db, workflow).messages == 0
    assert sent_after(db, mark) == []

    clock.set(wib(2026, 11, 23, 9, 5, 59))
    run(db, workflow)
    assert {(n.key, n.params["step_no"]) for n in sent_after(db, mark)} == {
        ("notify.sla_reminder", 2)}
    with db.session() as s:
        steps = {n.params.get("step_no") for n in s.exec(select(Notification).where(
            col(Notification.key).startswith("notify.sla_")))}
    assert steps == {2}  # nothing about step 1 ever


def test_finishing_just_before_the_reminder_leaves_nothing_to_send(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = submit(db, workflow, people.member)
    walk(db, workflow, people, case_id, 8)  # Pengarsipan, 1 menit: reminder at 09:00:45
    assert from_db(load(db, case_id).remind_at) == wib(2026, 11, 23, 9, 0, 45)  # type: ignore[arg-type]
    clock.set(wib(2026, 11, 23, 9, 0, 44))
    press(db, workflow, case_id, people.kasi, "arsip")
    mark = last_id(db)
    case = load(db, case_id)
    assert case.status == "finished"
    assert (case.due_at, case.remind_at, case.escalate_at, case.sla_next_at) == (
        None, None, None, None)
    with db.session() as s:
        assert workflow.sla.next_at(s) is None
    for later in (timedelta(seconds=1), timedelta(minutes=2), timedelta(days=2)):
        clock.set(wib(2026, 11, 23, 9, 0, 44) + later)
        assert run(db, workflow).cases == 0
    assert sent_after(db, mark) == []
    assert workflow.sla.remaining(case) is None


# -- restart ------------------------------------------------------------------------------------


def test_after_a_restart_a_missed_reminder_becomes_one_overdue_notice(
    db: Database, registry: SopRegistry, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = submit(db, workflow, people.member)  # due 09:03, escalation 09:04:30
    mark = last_id(db)
    # The bot was down from 09:01 to 09:04: the reminder time passed and so did the due time.
    clock.set(wib(2026, 11, 23, 9, 4))
    restarted = Database(db.url)  # a new process: new engine, new Workflow and Sla
    try:
        fresh = Workflow(registry, ManualClock(clock.now()))
        with restarted.session() as s:
            assert fresh.sla.next_at(s) == wib(2026, 11, 23, 9, 2, 15)
        result = run(restarted, fresh)
        assert (result.reminders, result.overdue, result.escalations) == (0, 1, 0)
        # Not the now-wrong "time is running out": the overdue notice, once per holder.
        assert who(sent_after(db, mark)) == [("notify.sla_overdue", people.staf_a.id, 1),
                                             ("notify.sla_overdue", people.staf_b.id, 1)]
        again = Workflow(registry, ManualClock(clock.now()))
        assert run(restarted, again).messages == 0
        assert len(sent_after(db, mark)) == 2
        case = load(db, case_id)
        assert case.sla_stage == OVERDUE
        assert from_db(case.sla_next_at) == wib(2026, 11, 23, 9, 4, 30)  # type: ignore[arg-type]
    finally:
        restarted.dispose()


def test_after_a_long_outage_overdue_and_escalation_come_together_once(
    db: Database, registry: SopRegistry, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    submit(db, workflow, people.member)
    mark = last_id(db)
    clock.set(wib(2026, 11, 24, 10, 0))  # down until the next morning
    fresh = Workflow(registry, clock)
    run(db, fresh)
    assert who(sent_after(db, mark)) == [
        ("notify.sla_overdue", people.staf_a.id, 1),
        ("notify.sla_overdue", people.staf_b.id, 1),
        ("notify.sla_escalated", people.kasi.id, 1),
    ]
    assert run(db, Workflow(registry, clock)).messages == 0


# -- working days, holidays, office hours, time zones -----------------------------------------

PAPUA_OFFICE = """\
  - kode: papua
    nama: Dinas Komunikasi dan Informatika Kabupaten Jayapura
    singkatan: DISKOMINFO-JPR
    zona_waktu: Asia/Jayapura       # WIT
    format_agenda: "{seq:03d}/SM/{code}/{year}"
"""

DAY_SOP = """\
kode: uji-{office}
kantor: {office}
nama_sop: Uji waktu kerja {office}
dimulai_oleh: pemohon
prosedur:
  - no: 1
    kegiatan: Petugas memeriksa berkas
    pelaksana: Staff Administrasi
    waktu: 2 Jam
  - no: 2
    kegiatan: Kepala Dinas mempelajari dan mendisposisikan
    pelaksana: Kadin
    waktu: 2 Hari
  - no: 3
    kegiatan: Kasi mengarsipkan
    pelaksana: Kasi
    waktu: 1 Hari
"""


@pytest.fixture
def day_registry(tmp_path: Path) -> SopRegistry:
    """SOPs with '2 Jam' and '2 Hari' steps for Lumajang (WIB), Kolaka (WITA), Papua (WIT)."""
    offices = (SOP_DIR / "offices.yaml").read_text(encoding="utf-8")
    (tmp_path / "offices.yaml").write_text(offices.rstrip("\n") + "\n" + PAPUA_OFFICE,
                                           encoding="utf-8")
    shutil.copy(SOP_DIR / "lumajang_pelayanan_kim.yaml", tmp_path)
    for office in ("lumajang", "kolaka", "papua"):
        (tmp_path / f"uji_{office}.yaml").write_text(DAY_SOP.format(office=office),
                                                     encoding="utf-8")
    return SopRegistry.from_dir(tmp_path)


@pytest.fixture
def day_wf(day_registry: SopRegistry, clock: ManualClock) -> Workflow:
    return Workflow(day_registry, clock)


def times(case: Case) -> tuple[datetime, datetime, datetime]:
    assert case.due_at is not None
    assert case.remind_at is not None
    assert case.escalate_at is not None
    return from_db(case.remind_at), from_db(case.due_at), from_db(case.escalate_at)


def test_the_dates_used_below_are_indonesian_holidays() -> None:
    national = holidays.country_holidays("ID", years=2026)
    for day in ("2026-03-19", "2026-08-17", "2026-12-25"):
        assert datetime.fromisoformat(day).date() in national, day
    # 24 Dec and 18/20/23/24 Mar are cuti bersama: closed by offices.yaml, not by law.
    assert datetime(2026, 12, 24).date() not in national


def test_a_2_jam_step_started_thursday_15_00_is_due_friday_08_30(
    db: Database, day_wf: Workflow, people: People, clock: ManualClock
) -> None:
    clock.set(wib(2026, 11, 26, 15, 0))  # Thursday; the office closes at 16:00
    case_id = submit(db, day_wf, people.member, sop="uji-lumajang")
    assert times(load(db, case_id)) == (
        wib(2026, 11, 27, 8, 0),  # 1 h 30 min of office time: 1 h Thursday, 30 min Friday
        wib(2026, 11, 27, 8, 30),
        wib(2026, 11, 27, 9, 30),  # due + 1 h
    )
    mark = last_id(db)
    clock.set(wib(2026, 11, 26, 23, 0))  # the night counts for nothing
    assert run(db, day_wf).messages == 0
    clock.set(wib(2026, 11, 27, 7, 59, 59))
    assert run(db, day_wf).messages == 0
    clock.set(wib(2026, 11, 27, 8, 0))
    run(db, day_wf)
    assert [n.key for n in sent_after(db, mark)] == ["notify.sla_reminder"] * 2
    assert day_wf.sla.remaining(load(db, case_id)) == timedelta(minutes=30)


def test_a_friday_afternoon_step_runs_over_the_weekend(
    db: Database, day_wf: Workflow, people: People, clock: ManualClock
) -> None:
    clock.set(wib(2026, 11, 27, 15, 30))  # Friday, closing 16:30
    case_id = submit(db, day_wf, people.member, sop="uji-lumajang")
    assert times(load(db, case_id)) == (
        wib(2026, 11, 30, 8, 0), wib(2026, 11, 30, 8, 30), wib(2026, 11, 30, 9, 30))
    mark = last_id(db)
    clock.set(wib(2026, 11, 29, 12, 0))  # Sunday
    assert run(db, day_wf).messages == 0
    assert sent_after(db, mark) == []
    # Saturday and Sunday are not counted: an hour is still left on Sunday.
    assert day_wf.sla.remaining(load(db, case_id)) == timedelta(hours=1)


def test_working_days_skip_christmas_cuti_bersama_and_the_weekend(
    db: Database, day_wf: Workflow, people: People, clock: ManualClock
) -> None:
    clock.set(wib(2026, 12, 23, 10, 0))  # Wednesday
    case_id = submit(db, day_wf, people.member, sop="uji-lumajang")
    press(db, day_wf, case_id, people.staf_a, "teruskan")  # to the Kadis: 2 Hari
    case = load(db, case_id)
    assert case.step_no == 2
    # Thu 24 cuti bersama, Fri 25 Christmas, Sat/Sun: day 1 Monday 28, day 2 Tuesday 29.
    remind, due, escalate = times(case)
    assert due == wib(2026, 12, 29, 10, 0)
    # The standard in office time: Wed 10-16 (6 h) + Mon 8 h 30 + Tue 07:30-10 (2 h 30) = 17 h.
    [_, visit] = visits(db, case_id)
    assert visit.standard_s == 17 * 3600
    assert remind == wib(2026, 12, 28, 14, 15)  # 75 % = 12 h 45 min: 6 h Wed + 6 h 45 Mon
    assert escalate == wib(2026, 12, 30, 10, 0)  # due + 8 h 30: Tue 6 h + Wed 2 h 30
    mark = last_id(db)
    for moment in (wib(2026, 12, 24, 12, 0), wib(2026, 12, 25, 12, 0), wib(2026, 12, 27, 12, 0),
                   wib(2026, 12, 28, 14, 14)):
        clock.set(moment)
        assert run(db, day_wf).messages == 0, moment
    clock.set(wib(2026, 12, 28, 14, 15))
    run(db, day_wf)
    assert who(sent_after(db, mark)) == [("notify.sla_reminder", people.kadis.id, 2)]


def test_a_national_holiday_is_not_a_working_day(
    db: Database, day_wf: Workflow, people: People, clock: ManualClock
) -> None:
    clock.set(wib(2026, 8, 14, 10, 0))  # Friday before Independence Day (Monday 17 August)
    case_id = submit(db, day_wf, people.member, sop="uji-lumajang")
    press(db, day_wf, case_id, people.staf_a, "teruskan")
    remind, due, _ = times(load(db, case_id))
    assert due == wib(2026, 8, 19, 10, 0)  # Tuesday 18 is day 1, Wednesday 19 day 2
    assert remind.astimezone(WIB).date() == datetime(2026, 8, 18).date()
    mark = last_id(db)
    clock.set(wib(2026, 8, 17, 15, 0))
    assert run(db, day_wf).messages == 0
    assert sent_after(db, mark) == []


def test_lebaran_and_nyepi_close_the_office_for_a_week(
    db: Database, day_wf: Workflow, people: People, clock: ManualClock
) -> None:
    # Tue 17 Mar 15:00; 18 cuti, 19 Nyepi, 20 cuti, 21-22 Idul Fitri (weekend), 23-24 cuti.
    clock.set(wib(2026, 3, 17, 15, 0))
    case_id = submit(db, day_wf, people.member, sop="uji-lumajang")
    remind, due, escalate = times(load(db, case_id))
    assert due == wib(2026, 3, 25, 8, 30)
    assert remind == wib(2026, 3, 25, 8, 0)
    assert escalate == wib(2026, 3, 25, 9, 30)


def test_each_office_counts_in_its_own_time_zone_and_hours(
    db: Database, day_wf: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:
        staf_klk = make_official(s, "staf", "kolaka", name="Staf Kolaka")
        staf_pap = make_official(s, "staf", "papua", name="Staf Papua")
    # One instant: 14:00 WIB = 15:00 WITA = 16:00 WIT (Monday; each office closes at 16:00).
    clock.set(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    lmj = submit(db, day_wf, people.member, "l", sop="uji-lumajang")
    klk = submit(db, day_wf, people.member, "k", sop="uji-kolaka")
    pap = submit(db, day_wf, people.member, "p", sop="uji-papua")
    assert load(db, klk).agenda_number == "001/SM/DISKOMINFO-KLK/2026"
    # Lumajang: 2 h fit before closing.
    assert times(load(db, lmj)) == (
        wib(2026, 11, 23, 15, 30), wib(2026, 11, 23, 16, 0), wib(2026, 11, 24, 8, 30))
    # Kolaka: 1 h today, 1 h tomorrow (WITA).
    assert times(load(db, klk)) == (
        datetime(2026, 11, 24, 8, 0, tzinfo=WITA), datetime(2026, 11, 24, 8, 30, tzinfo=WITA),
        datetime(2026, 11, 24, 9, 30, tzinfo=WITA))
    # Papua is already closed: 2 h from Tuesday 07:30 WIT.
    assert times(load(db, pap)) == (
        datetime(2026, 11, 24, 9, 0, tzinfo=WIT), datetime(2026, 11, 24, 9, 30, tzinfo=WIT),
        datetime(2026, 11, 24, 10, 30, tzinfo=WIT))

    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 16, 0))  # Lumajang due; the others still wait for Tuesday
    run(db, day_wf)
    assert who(sent_after(db, mark)) == [("notify.sla_overdue", people.staf_a.id, 1),
                                         ("notify.sla_overdue", people.staf_b.id, 1)]
    mark = last_id(db)
    # Tuesday 00:00 UTC = 07:00 WIB = 08:00 WITA = 09:00 WIT: the Kolaka and Papua reminders.
    clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    run(db, day_wf)
    rows = sent_after(db, mark)
    assert sorted(who(rows)) == sorted([("notify.sla_reminder", staf_klk.id, 1),
                                        ("notify.sla_reminder", staf_pap.id, 1)])
    assert {n.params["office"] for n in rows} == {"kolaka", "papua"}


# -- Plt (pelaksana tugas) ------------------------------------------------------------------------


def test_a_plt_gets_the_kadis_tasks_and_reminders_only_during_the_period(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:  # Plt Kadin from Monday 23 to Tuesday 24 November (inclusive)
        make_acting(s, people.plt, "kadis", wib(2026, 11, 23, 0, 0), wib(2026, 11, 25, 0, 0))

    during = submit(db, workflow, people.member, "during")
    walk(db, workflow, people, during, 3)
    tasks = [n for n in sent_after(db, 0) if n.key == "notify.task" and n.case_id == during]
    assert [(n.recipient_id, n.params["step_no"]) for n in tasks if n.params["step_no"] == 3] == [
        (people.plt.id, 3)]  # not the absent Kadis
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 3, 45))  # 75 % of step 3's 5 menit
    run(db, workflow)
    assert who(sent_after(db, mark)) == [("notify.sla_reminder", people.plt.id, 3)]
    press(db, workflow, during, people.plt, "dispo", "Kabid mohon ditindaklanjuti")
    assert load(db, during).step_no == 4
    with db.session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.case_id == during)
                       .where(AuditEntry.step_no == 3)).one()
    assert (entry.actor_id, entry.actor_role) == (people.plt.id, "kadis")

    # A letter reaching the Kadis on Tuesday afternoon goes to the Plt; its reminder comes on
    # Wednesday morning, when the period is over: it goes back to the Kadis.
    clock.set(wib(2026, 11, 24, 15, 58))
    late = submit(db, workflow, people.member, "late")
    walk(db, workflow, people, late, 3)
    tasks = [n for n in sent_after(db, mark) if n.key == "notify.task" and n.case_id == late]
    assert [n.recipient_id for n in tasks if n.params["step_no"] == 3] == [people.plt.id]
    assert from_db(load(db, late).remind_at) == wib(2026, 11, 25, 7, 31, 45)  # type: ignore[arg-type]
    mark = last_id(db)
    clock.set(wib(2026, 11, 25, 7, 31, 45))
    run(db, workflow)  # (the first letter, left at step 4, is overdue by now: not looked at)
    assert who([n for n in sent_after(db, mark) if n.case_id == late]) == [
        ("notify.sla_reminder", people.kadis.id, 3)]
    with pytest.raises(NotAllowed):
        press(db, workflow, late, people.plt, "dispo", "Sudah bukan Plt")
    press(db, workflow, late, people.kadis, "dispo", "Kabid mohon ditindaklanjuti")

    # After the period new letters go to the Kadis and the Plt is refused.
    clock.set(wib(2026, 11, 25, 9, 0))
    after = submit(db, workflow, people.member, "after")
    mark = last_id(db)
    walk(db, workflow, people, after, 3)
    tasks = [n for n in sent_after(db, mark) if n.key == "notify.task"]
    assert [n.recipient_id for n in tasks if n.params["step_no"] == 3] == [people.kadis.id]
    with pytest.raises(NotAllowed):
        press(db, workflow, after, people.plt, "dispo", "Saya Plt")
    with db.session() as s:
        assert "kadis" not in workflow.roles_of(s, people.plt.id, "lumajang")  # type: ignore[arg-type]


def test_a_plt_period_not_yet_begun_changes_nothing(
    db: Database, workflow: Workflow, people: People
) -> None:
    with db.session() as s:
        make_acting(s, people.plt, "kadis", wib(2026, 11, 30, 0, 0), wib(2026, 12, 1, 0, 0))
    case_id = submit(db, workflow, people.member)
    walk(db, workflow, people, case_id, 3)
    tasks = [n for n in sent_after(db, 0) if n.key == "notify.task" and n.params["step_no"] == 3]
    assert [n.recipient_id for n in tasks] == [people.kadis.id]
    with pytest.raises(NotAllowed):
        press(db, workflow, case_id, people.plt, "dispo", "Belum Plt")



def test_an_escalation_goes_to_the_plt_of_the_supervisor(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:  # the Kasi is away today; the Plt stands in
        make_acting(s, people.plt, "kasi", wib(2026, 11, 23, 0, 0), wib(2026, 11, 24, 0, 0))
    submit(db, workflow, people.member)
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 4, 30))
    run(db, workflow)
    assert who(sent_after(db, mark)) == [
        ("notify.sla_overdue", people.staf_a.id, 1),
        ("notify.sla_overdue", people.staf_b.id, 1),
        ("notify.sla_escalated", people.plt.id, 1),
    ]

# -- the member's turn does not count ---------------------------------------------------------


def test_time_with_the_member_does_not_count_and_the_rest_is_kept(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = submit(db, workflow, people.member)  # 3 menit, due 09:03
    clock.set(wib(2026, 11, 23, 9, 1, 30))  # halfway through the standard
    press(db, workflow, case_id, people.staf_a, "kembali", "Surat tugas belum ditandatangani")
    case = load(db, case_id)
    assert case.status == "with_requester"
    assert case.paused_remaining_s == 90
    assert (case.due_at, case.remind_at, case.sla_next_at) == (None, None, None)
    assert workflow.sla.remaining(case) is None
    mark = last_id(db)
    for moment in (wib(2026, 11, 23, 9, 2, 15), wib(2026, 11, 23, 9, 3), wib(2026, 11, 23, 12, 0),
                   wib(2026, 11, 25, 9, 0), wib(2026, 11, 26, 9, 1, 30)):
        clock.set(moment)
        assert run(db, workflow).messages == 0
    assert sent_after(db, mark) == []

    resubmit(db, workflow, case_id, people.member)  # Thursday 09:01:30, three days later
    case = load(db, case_id)
    assert (case.status, case.step_no, case.paused_remaining_s) == ("open", 1, None)
    # 90 s of office time left, not a fresh 3 menit; the reminder is 45 s away (75 % used).
    assert workflow.sla.remaining(case) == timedelta(seconds=90)
    assert times(case) == (wib(2026, 11, 26, 9, 2, 15), wib(2026, 11, 26, 9, 3),
                           wib(2026, 11, 26, 9, 4, 30))  # due + 50 % of the standard
    mark = last_id(db)
    clock.set(wib(2026, 11, 26, 9, 2, 14))
    assert run(db, workflow).messages == 0
    clock.set(wib(2026, 11, 26, 9, 2, 15))
    run(db, workflow)
    assert [n.key for n in sent_after(db, mark)] == ["notify.sla_reminder"] * 2

    clock.set(wib(2026, 11, 26, 9, 3, 30))
    press(db, workflow, case_id, people.staf_a, "terima")
    first, second, third = visits(db, case_id)
    assert (first.step_no, first.actual_s, first.standard_s, first.on_time, first.outcome) == (
        1, 90, 180, True, "member")
    assert from_db(first.left_at) == wib(2026, 11, 23, 9, 1, 30)  # type: ignore[arg-type]
    assert (second.step_no, second.actual_s, second.standard_s, second.on_time) == (
        1, 120, 180, False)  # 2 min after the resubmission; only 90 s were left
    assert from_db(second.entered_at) == wib(2026, 11, 26, 9, 1, 30)
    assert from_db(second.due_at) == wib(2026, 11, 26, 9, 3)
    assert (third.step_no, third.left_at) == (2, None)
    # Office time at step 1 in all: 3 min 30 s against a 3 min standard.
    assert (first.actual_s or 0) + (second.actual_s or 0) == 210


def test_a_case_returned_after_its_reminder_is_not_reminded_again_on_resume(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = submit(db, workflow, people.member)
    clock.set(wib(2026, 11, 23, 9, 2, 30))
    run(db, workflow)  # the reminder
    press(db, workflow, case_id, people.staf_a, "kembali", "Lengkapi berkas")
    assert load(db, case_id).paused_remaining_s == 30
    clock.set(wib(2026, 11, 24, 9, 0))
    resubmit(db, workflow, case_id, people.member)
    mark = last_id(db)
    case = load(db, case_id)
    assert case.sla_stage == REMINDED
    assert from_db(case.sla_next_at) == wib(2026, 11, 24, 9, 0, 30)  # type: ignore[arg-type]
    clock.set(wib(2026, 11, 24, 9, 0, 30))
    run(db, workflow)
    assert [n.key for n in sent_after(db, mark)] == ["notify.sla_overdue"] * 2


# -- many at once: one digest -----------------------------------------------------------------


def test_one_official_with_many_due_cases_gets_one_digest(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:
        revoke_roles(s, people.staf_b)  # Staf A alone at the desk
    ids = [submit(db, workflow, people.member, f"req-{i}") for i in range(4)]
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 2, 15))
    result = run(db, workflow)
    assert (result.cases, result.reminders, result.messages) == (4, 4, 1)
    assert result.by_recipient == {people.staf_a.id: 4}
    [digest] = sent_after(db, mark)
    assert (digest.key, digest.recipient_id) == ("notify.sla_digest", people.staf_a.id)
    assert digest.params["count"] == 4
    assert digest.params["more"] == 0
    agendas = [load(db, i).agenda_number for i in ids]
    assert digest.params["items"] == [f"{a} (1)" for a in agendas]
    with db.session() as s:
        assert [c.sla_stage for c in s.exec(select(Case))] == [REMINDED] * 4

    # Escalations pile up on the Kasi the same way.
    clock.set(wib(2026, 11, 23, 9, 4, 30))
    mark = last_id(db)
    run(db, workflow)
    assert [(n.key, n.recipient_id, n.params["count"]) for n in sent_after(db, mark)] == [
        ("notify.sla_digest", people.staf_a.id, 4), ("notify.sla_digest", people.kasi.id, 4)]


def test_up_to_three_due_cases_are_sent_one_by_one(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:
        revoke_roles(s, people.staf_b)
    for i in range(3):
        submit(db, workflow, people.member, f"req-{i}")
    mark = last_id(db)
    clock.set(wib(2026, 11, 23, 9, 2, 15))
    run(db, workflow)
    assert who(sent_after(db, mark)) == [("notify.sla_reminder", people.staf_a.id, 1)] * 3


def test_cases_due_in_different_runs_are_not_bundled(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:
        revoke_roles(s, people.staf_b)
    for i in range(4):  # 09:00:00, 09:00:10, ...: reminders due 10 s apart
        clock.set(wib(2026, 11, 23, 9, 0, 10 * i))
        submit(db, workflow, people.member, f"req-{i}")
    mark = last_id(db)
    for i in range(4):
        clock.set(wib(2026, 11, 23, 9, 2, 15 + 10 * i))
        assert run(db, workflow).messages == 1
    assert who(sent_after(db, mark)) == [("notify.sla_reminder", people.staf_a.id, 1)] * 4


# -- step visits: the standard beside the time really taken ----------------------------------


def test_each_visit_records_its_office_time_beside_the_standard(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    clock.set(wib(2026, 11, 23, 15, 59))  # a minute before closing
    case_id = submit(db, workflow, people.member)
    clock.set(wib(2026, 11, 24, 7, 32))  # the night is not counted: 1 + 2 = 3 min, on time
    press(db, workflow, case_id, people.staf_a, "terima")
    clock.set(wib(2026, 11, 24, 7, 38))  # 6 min for a 5 menit step: late
    press(db, workflow, case_id, people.staf_b, "agenda")
    clock.set(wib(2026, 11, 24, 7, 40))
    press(db, workflow, case_id, people.kadis, "kembali", "Lengkapi agenda")  # back to step 2
    rows = visits(db, case_id)
    assert [(v.step_no, v.standard_text, v.standard_s, v.actual_s, v.on_time, v.outcome)
            for v in rows] == [
        (1, "3 menit", 180, 180, True, "teruskan"),
        (2, "5 menit", 300, 360, False, "teruskan"),
        (3, "5 menit", 300, 120, True, "kembalikan"),
        (2, "5 menit", 300, None, None, ""),  # back at step 2 with a fresh standard
    ]
    assert from_db(rows[0].due_at) == wib(2026, 11, 24, 7, 32)
    assert from_db(rows[-1].due_at) == wib(2026, 11, 24, 7, 45)


def test_remaining_is_office_time_and_negative_when_late(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = submit(db, workflow, people.member)
    assert workflow.sla.remaining(load(db, case_id)) == timedelta(minutes=3)
    clock.set(wib(2026, 11, 23, 9, 10))
    assert workflow.sla.remaining(load(db, case_id)) == timedelta(minutes=-7)
    clock.set(wib(2026, 11, 23, 20, 0))  # closed: the lateness stands still at 09:03-16:00
    assert workflow.sla.remaining(load(db, case_id)) == -timedelta(hours=6, minutes=57)

