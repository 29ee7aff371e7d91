"""The workflow engine: a member's request through the Lumajang SOP, on every database backend.

Each test looks at what people would see: the case's state, the message keys queued in the
outbox and who they go to, and the audit trail (lembar disposisi).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock, from_db
from bot.db import Database
from bot.errors import BadInput, KimError, NotAllowed, NotFound, Stale
from bot.models import AgendaCounter, Attachment, AuditEntry, Case, Notification, User
from bot.sop import SopRegistry
from bot.workflow import MAX_NOTE, FileIn, Moved, Workflow
from tests.conftest import SOP_DIR
from tests.support.db import count
from tests.support.factories import (
    bind_role,
    make_member,
    make_official,
    make_user,
    revoke_roles,
)

SOP = "lmj-layanan-kim"
JAKARTA = ZoneInfo("Asia/Jakarta")
MAKASSAR = ZoneInfo("Asia/Makassar")


@dataclass
class People:
    member: User
    other_member: User
    unregistered: User
    staf_a: User
    staf_b: User
    kadis: User
    sekdis: User
    kabid: User
    kasi: User
    staf_kolaka: User


@pytest.fixture
def people(db: Database) -> People:
    with db.session() as s:
        return People(
            member=make_member(s, "Siti Aminah"),
            other_member=make_member(s, "Budi Santoso"),
            unregistered=make_user(s, name="Tamu"),
            staf_a=make_official(s, "staf", name="Staf A"),
            staf_b=make_official(s, "staf", name="Staf B"),
            kadis=make_official(s, "kadis", name="Kadin"),
            sekdis=make_official(s, "sekdis", name="Sekdin"),
            kabid=make_official(s, "kabid", name="Kabid"),
            kasi=make_official(s, "kasi", name="Kasi"),
            staf_kolaka=make_official(s, "staf", office="kolaka", name="Staf Kolaka"),
        )


# -- helpers -------------------------------------------------------------------------------

SURAT_TUGAS = FileIn(kind="document", file_ref="file-1", file_name="surat_tugas.pdf",
                     mime="application/pdf", size=1234, label="Surat Tugas")


def submit(
    db: Database, wf: Workflow, member: User, key: str = "req-1", *, sop: str = SOP
) -> tuple[Case, bool]:
    with db.session() as s:
        return wf.submit_request(
            s, member, sop, subject="Pelatihan jurnalistik KIM",
            purpose="Mohon pendampingan pelatihan jurnalistik untuk KIM Tempeh",
            files=[SURAT_TUGAS], request_key=key,
        )


def open_case(db: Database, wf: Workflow, member: User, key: str = "req-1") -> int:
    case, created = submit(db, wf, member, key)
    assert created
    assert case.id is not None
    return case.id


def load(db: Database, case_id: int) -> Case:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def press(
    db: Database, wf: Workflow, case_id: int, user: User, code: str, note: str = "",
    *, version: int | None = None,
) -> Moved:
    """Press a button on the newest message (or an older one, with `version`)."""
    with db.session() as s:
        current = s.get(Case, case_id)
        assert current is not None
        return wf.act(s, case_id, user, version=current.version if version is None else version,
                      action_code=code, note=note)


def outbox(db: Database, case_id: int | None = None, after: int = 0) -> list[Notification]:
    with db.session() as s:
        statement = select(Notification).where(col(Notification.id) > after)
        if case_id is not None:
            statement = statement.where(Notification.case_id == case_id)
        return list(s.exec(statement.order_by(col(Notification.id))).all())


def last_id(db: Database) -> int:
    rows = outbox(db)
    return rows[-1].id if rows else 0  # type: ignore[return-value]


def sent(rows: list[Notification]) -> list[tuple[int, str]]:
    return [(n.recipient_id, n.key) for n in rows]


def audit(db: Database, case_id: int) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.case_id == case_id)
                           .order_by(col(AuditEntry.id))).all())


def snapshot(db: Database, case_id: int) -> tuple[Any, ...]:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return (case.status, case.step_no, case.version, case.finished_at,
                count(s, AuditEntry), count(s, Notification), count(s, Attachment))


def walk(db: Database, wf: Workflow, p: People, case_id: int, until: int) -> None:
    """Move a fresh case forward, by the right people, until it sits at step `until`."""
    path = [(p.staf_a, "terima", ""), (p.staf_b, "agenda", ""),
            (p.kadis, "dispo", "Kabid KIP mohon ditindaklanjuti"), (p.staf_a, "catat", ""),
            (p.staf_a, "sampai", ""), (p.kabid, "lanjut", "Siapkan pelatihan"),
            (p.staf_a, "layani", ""), (p.kasi, "arsip", "")]
    for user, code, note in path[: until - 1]:
        press(db, wf, case_id, user, code, note)
    assert load(db, case_id).step_no == until


# -- submitting ------------------------------------------------------------------------------


def test_a_request_gets_the_first_agenda_number_of_the_year(
    db: Database, workflow: Workflow, people: People
) -> None:
    case, created = submit(db, workflow, people.member)
    assert created
    assert case.agenda_number == "001/SM/DISKOMINFO-LMJ/2026"
    assert (case.office, case.agenda_year, case.agenda_seq) == ("lumajang", 2026, 1)
    assert case.id is not None
    stored = load(db, case.id)
    assert (stored.status, stored.step_no, stored.version) == ("open", 1, 1)
    assert stored.requester_id == people.member.id
    assert from_db(stored.created_at) == datetime(2026, 11, 23, 9, 0, tzinfo=JAKARTA)


def test_agenda_numbers_run_per_office_per_year(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    first, _ = submit(db, workflow, people.member, "req-1")
    second, _ = submit(db, workflow, people.other_member, "req-2")
    assert first.agenda_number == "001/SM/DISKOMINFO-LMJ/2026"
    assert second.agenda_number == "002/SM/DISKOMINFO-LMJ/2026"
    # 31 Dec 2026 23:30 in Lumajang is still 2026 ...
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=JAKARTA))
    assert submit(db, workflow, people.member, "req-3")[0].agenda_number == (
        "003/SM/DISKOMINFO-LMJ/2026"
    )
    # ... and half an hour later the Buku Agenda starts again (office time, not UTC).
    clock.set(datetime(2027, 1, 1, 0, 30, tzinfo=JAKARTA))
    new_year, _ = submit(db, workflow, people.member, "req-4")
    assert new_year.agenda_number == "001/SM/DISKOMINFO-LMJ/2027"
    assert new_year.agenda_year == 2027
    with db.session() as s:
        counters = {(c.office, c.year): c.last for c in s.exec(select(AgendaCounter))}
    assert counters == {("lumajang", 2026): 3, ("lumajang", 2027): 1}


@pytest.fixture
def two_office_registry(tmp_path: Path) -> SopRegistry:
    """The real SOPs plus the same SOP run by Diskominfo Kolaka (WITA)."""
    shutil.copy(SOP_DIR / "offices.yaml", tmp_path / "offices.yaml")
    text = (SOP_DIR / "lumajang_pelayanan_kim.yaml").read_text(encoding="utf-8")
    shutil.copy(SOP_DIR / "lumajang_pelayanan_kim.yaml", tmp_path / "lumajang_pelayanan_kim.yaml")
    text = text.replace("kode: lmj-layanan-kim", "kode: klk-layanan-kim")
    text = text.replace("kantor: lumajang", "kantor: kolaka")
    (tmp_path / "kolaka_layanan_kim.yaml").write_text(text, encoding="utf-8")
    return SopRegistry.from_dir(tmp_path)


def test_each_office_keeps_its_own_agenda_book_and_year(
    db: Database, two_office_registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    wf = Workflow(two_office_registry, clock)
    lumajang_1, _ = submit(db, wf, people.member, "l-1")
    kolaka_1, _ = submit(db, wf, people.member, "k-1", sop="klk-layanan-kim")
    lumajang_2, _ = submit(db, wf, people.member, "l-2")
    assert lumajang_1.agenda_number == "001/SM/DISKOMINFO-LMJ/2026"
    assert kolaka_1.agenda_number == "001/SM/DISKOMINFO-KLK/2026"
    assert lumajang_2.agenda_number == "002/SM/DISKOMINFO-LMJ/2026"
    # 00:30 WITA on 1 January is 23:30 WIB on 31 December: Kolaka has a new year, Lumajang not.
    clock.set(datetime(2027, 1, 1, 0, 30, tzinfo=MAKASSAR))
    assert submit(db, wf, people.member, "k-2", sop="klk-layanan-kim")[0].agenda_number == (
        "001/SM/DISKOMINFO-KLK/2027"
    )
    assert submit(db, wf, people.member, "l-3")[0].agenda_number == "003/SM/DISKOMINFO-LMJ/2026"


def test_the_same_request_sent_twice_makes_one_case(
    db: Database, workflow: Workflow, people: People
) -> None:
    first, created_first = submit(db, workflow, people.member, "tg:5001")
    queued = len(outbox(db))
    again, created_again = submit(db, workflow, people.member, "tg:5001")
    assert (created_first, created_again) == (True, False)
    assert again.id == first.id
    assert again.agenda_number == "001/SM/DISKOMINFO-LMJ/2026"
    with db.session() as s:
        assert count(s, Case) == 1
        assert count(s, Attachment) == 1
        assert count(s, AuditEntry) == 1
    assert len(outbox(db)) == queued


def test_submission_is_recorded_and_the_petugas_are_told(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    [entry] = audit(db, case_id)
    assert (entry.step_no, entry.action, entry.actor_id, entry.actor_role, entry.to_step) == (
        1, "ajukan", people.member.id, "pemohon", 1
    )
    rows = outbox(db, case_id)
    # Both Staf hold step 1; the member who just sent it gets no "in progress" echo.
    assert sent(rows) == [(people.staf_a.id, "notify.task"), (people.staf_b.id, "notify.task")]
    for row in rows:
        assert row.actions == ["terima", "kembali"]
        assert row.status == "pending"
        assert row.case_version == 1
        assert row.params["agenda"] == "001/SM/DISKOMINFO-LMJ/2026"
        assert row.params["step_no"] == 1
        assert row.params["waktu"] == "3 menit"
        assert row.params["from_name"] == "Siti Aminah"
    with db.session() as s:
        [attachment] = s.exec(select(Attachment)).all()
    assert (attachment.label, attachment.uploaded_by, attachment.step_no) == (
        "Surat Tugas", people.member.id, 1
    )
    assert rows[0].attachment_ids == [attachment.id]


def test_an_unregistered_person_cannot_submit(
    db: Database, workflow: Workflow, people: People
) -> None:
    with pytest.raises(NotAllowed) as info:
        submit(db, workflow, people.unregistered)
    assert info.value.key == "error.not_registered"
    with db.session() as s:
        assert count(s, Case) == 0
        assert count(s, Notification) == 0


@pytest.mark.parametrize(
    ("sop", "purpose", "key"),
    [
        ("tidak-ada", "Mohon bantuan", "error.unknown_service"),
        (SOP, "   ", "error.empty_answer"),
        (SOP, "x" * 2001, "error.too_long"),
    ],
)
def test_a_bad_request_is_refused(
    db: Database, workflow: Workflow, people: People, sop: str, purpose: str, key: str
) -> None:
    with pytest.raises(BadInput) as info, db.session() as s:
        workflow.submit_request(s, people.member, sop, subject="x", purpose=purpose,
                                files=[], request_key="bad")
    assert info.value.key == key
    with db.session() as s:
        assert count(s, Case) == 0
        assert count(s, AgendaCounter) == 0


# -- the full path -------------------------------------------------------------------------------

FULL_PATH = [
    # (who, button, note, next step, holders told, buttons they get)
    ("staf_a", "terima", "", 2, ["staf_a", "staf_b"], ["agenda"]),
    ("staf_b", "agenda", "", 3, ["kadis"], ["dispo", "kembali"]),
    ("kadis", "dispo", "Kabid KIP mohon ditindaklanjuti", 4, ["staf_a", "staf_b"], ["catat"]),
    ("staf_a", "catat", "", 5, ["staf_a", "staf_b"], ["sampai"]),
    ("staf_b", "sampai", "", 6, ["sekdis", "kabid"], ["lanjut", "kembali"]),
    ("kabid", "lanjut", "Jadwalkan pelatihan", 7, ["staf_a", "staf_b"], ["layani"]),
    ("staf_a", "layani", "Pelatihan terlaksana", 8, ["kasi"], ["arsip"]),
]
# Step → who gets an information copy (the step's `bersama` roles; not its holders, not the
# person who just moved the case there).
COPIES = {3: ["staf_a"], 5: ["sekdis", "kabid"], 6: ["staf_a"], 8: ["staf_b"]}


def test_the_lumajang_sop_from_request_to_archive(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = open_case(db, workflow, people.member)
    for who, code, note, to_step, told, buttons in FULL_PATH:
        clock.advance(timedelta(minutes=4))
        before = last_id(db)
        moved = press(db, workflow, case_id, getattr(people, who), code, note)
        assert moved.to_step is not None
        assert moved.to_step.number == to_step
        assert not moved.finished

        current = load(db, case_id)
        assert (current.status, current.step_no) == ("open", to_step)
        assert from_db(current.step_started_at) == clock.now()

        rows = outbox(db, case_id, after=before)
        tasks = [r for r in rows if r.key == "notify.task"]
        assert [r.recipient_id for r in tasks] == [getattr(people, name).id for name in told]
        assert all(r.actions == buttons for r in tasks)
        assert all(r.case_version == current.version for r in tasks)
        assert all(r.params["note"] == note for r in tasks)
        [progress] = [r for r in rows if r.recipient_id == people.member.id]
        assert progress.key == "notify.member_progress"
        assert progress.params["step_no"] == to_step
        assert all(r.status == "pending" for r in rows)
        copies = [r for r in rows if r.key == "notify.copy"]
        assert [r.recipient_id for r in copies] == [
            getattr(people, name).id for name in COPIES.get(to_step, [])]
        assert all(r.actions == [] and r.params["step_no"] == to_step for r in copies)
        assert len(rows) == len(told) + len(copies) + 1

    clock.advance(timedelta(minutes=1))
    before = last_id(db)
    moved = press(db, workflow, case_id, people.kasi, "arsip")
    assert moved.finished
    assert moved.to_step is None
    done = load(db, case_id)
    assert done.status == "finished"
    assert done.step_no == 8
    assert from_db(done.finished_at) == clock.now()
    final = outbox(db, case_id, after=before)
    assert sent(final) == [(people.member.id, "notify.member_finished")]
    assert final[0].params["agenda"] == "001/SM/DISKOMINFO-LMJ/2026"

    trail = [(e.step_no, e.action, e.actor_id, e.actor_role, e.to_step)
             for e in audit(db, case_id)]
    assert trail == [
        (1, "ajukan", people.member.id, "pemohon", 1),
        (1, "terima", people.staf_a.id, "staf", 2),
        (2, "agenda", people.staf_b.id, "staf", 3),
        (3, "dispo", people.kadis.id, "kadis", 4),
        (4, "catat", people.staf_a.id, "staf", 5),
        (5, "sampai", people.staf_b.id, "staf", 6),
        (6, "lanjut", people.kabid.id, "kabid", 7),
        (7, "layani", people.staf_a.id, "staf", 8),
        (8, "arsip", people.kasi.id, "kasi", None),
    ]
    notes = {e.action: e.note for e in audit(db, case_id)}
    assert notes["dispo"] == "Kabid KIP mohon ditindaklanjuti"


def test_the_sekretaris_may_follow_up_the_disposition_too(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    walk(db, workflow, people, case_id, 6)
    press(db, workflow, case_id, people.sekdis, "lanjut", "Segera")
    assert load(db, case_id).step_no == 7
    assert audit(db, case_id)[-1].actor_role == "sekdis"


# -- refusals ------------------------------------------------------------------------------------


@dataclass
class Attempt:
    who: str
    code: str
    note: str = ""
    version_delta: int = 0


REFUSALS = [
    pytest.param(1, Attempt("kadis", "terima"), NotAllowed, "error.not_allowed", id="wrong-role"),
    pytest.param(1, Attempt("member", "terima"), NotAllowed, "error.not_allowed",
                 id="requester-is-no-official"),
    pytest.param(1, Attempt("staf_kolaka", "terima"), NotAllowed, "error.not_allowed",
                 id="staf-of-another-office"),
    pytest.param(3, Attempt("staf_a", "dispo", "catatan"), NotAllowed, "error.not_allowed",
                 id="staf-cannot-dispose"),
    pytest.param(1, Attempt("staf_a", "terima", version_delta=-1), Stale, "error.stale",
                 id="stale-version"),
    pytest.param(1, Attempt("staf_a", "terima", version_delta=1), Stale, "error.stale",
                 id="future-version"),
    pytest.param(1, Attempt("staf_a", "hapus"), Stale, "error.stale", id="unknown-action"),
    pytest.param(1, Attempt("staf_a", "arsip"), Stale, "error.stale",
                 id="action-of-another-step"),
    pytest.param(3, Attempt("kadis", "dispo", "   "), BadInput, "error.note_required",
                 id="note-required"),
    pytest.param(3, Attempt("kadis", "kembali", ""), BadInput, "error.note_required",
                 id="return-needs-a-reason"),
    pytest.param(1, Attempt("staf_a", "kembali", ""), BadInput, "error.note_required",
                 id="return-to-requester-needs-a-reason"),
    pytest.param(7, Attempt("staf_a", "layani", "x" * (MAX_NOTE + 1)), BadInput,
                 "error.too_long", id="note-too-long"),
]


@pytest.mark.parametrize(("at_step", "attempt", "error", "key"), REFUSALS)
def test_a_refused_button_changes_nothing(
    db: Database, workflow: Workflow, people: People,
    at_step: int, attempt: Attempt, error: type[KimError], key: str,
) -> None:
    case_id = open_case(db, workflow, people.member)
    walk(db, workflow, people, case_id, at_step)
    before = snapshot(db, case_id)
    version = load(db, case_id).version + attempt.version_delta
    with pytest.raises(error) as info:
        press(db, workflow, case_id, getattr(people, attempt.who), attempt.code, attempt.note,
              version=version)
    assert info.value.key == key
    assert snapshot(db, case_id) == before


def test_a_too_long_note_tells_the_limit(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    with pytest.raises(BadInput) as info:
        press(db, workflow, case_id, people.staf_a, "terima", "x" * 1001)
    assert info.value.params == {"limit": 1000}
    press(db, workflow, case_id, people.staf_a, "terima", "x" * 1000)
    assert load(db, case_id).step_no == 2


def test_the_second_press_of_the_same_button_is_stale(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    press(db, workflow, case_id, people.staf_a, "terima", version=1)
    before = snapshot(db, case_id)
    with pytest.raises(Stale):
        # Staf B pressed the same button on their copy of the message.
        press(db, workflow, case_id, people.staf_b, "terima", version=1)
    assert snapshot(db, case_id) == before


def test_a_finished_case_is_closed_to_every_button(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    walk(db, workflow, people, case_id, 8)
    press(db, workflow, case_id, people.kasi, "arsip")
    before = snapshot(db, case_id)
    with pytest.raises(Stale) as info:
        press(db, workflow, case_id, people.kasi, "arsip")
    assert info.value.key == "error.case_closed"
    assert info.value.params["agenda"] == "001/SM/DISKOMINFO-LMJ/2026"
    assert snapshot(db, case_id) == before


def test_an_unknown_case_is_not_found(db: Database, workflow: Workflow, people: People) -> None:
    with pytest.raises(NotFound) as info, db.session() as s:
        workflow.act(s, 424242, people.staf_a, version=1, action_code="terima")
    assert info.value.key == "error.case_not_found"


def test_a_revoked_official_can_no_longer_act(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    with db.session() as s:
        revoke_roles(s, people.staf_a)
    with pytest.raises(NotAllowed):
        press(db, workflow, case_id, people.staf_a, "terima")
    press(db, workflow, case_id, people.staf_b, "terima")
    assert load(db, case_id).step_no == 2


# -- returns for correction ------------------------------------------------------------------------


def test_kadin_returns_the_letter_to_the_staf_who_registered_it(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    walk(db, workflow, people, case_id, 3)  # Staf B registered it at step 2
    before = last_id(db)
    moved = press(db, workflow, case_id, people.kadis, "kembali", "Lembar disposisi belum diisi")
    assert moved.to_step is not None
    assert moved.to_step.number == 2
    current = load(db, case_id)
    assert (current.status, current.step_no) == ("open", 2)

    rows = outbox(db, case_id, after=before)
    assert sent(rows) == [
        (people.staf_b.id, "notify.task_returned"),
        (people.member.id, "notify.member_progress"),
    ]
    assert rows[0].actions == ["agenda"]
    assert rows[0].params["note"] == "Lembar disposisi belum diisi"
    assert rows[0].case_version == current.version
    assert rows[1].params["step_no"] == 2
    last = audit(db, case_id)[-1]
    assert (last.step_no, last.action, last.kind, last.actor_role, last.to_step) == (
        3, "kembali", "kembalikan", "kadis", 2
    )

    # Staf B corrects it and passes it on again: the Kadin gets it back.
    press(db, workflow, case_id, people.staf_b, "agenda")
    assert load(db, case_id).step_no == 3


def test_a_return_goes_to_all_holders_when_the_earlier_actor_lost_the_role(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    walk(db, workflow, people, case_id, 3)
    with db.session() as s:
        revoke_roles(s, people.staf_b)  # Staf B moved to another Dinas
    before = last_id(db)
    press(db, workflow, case_id, people.kadis, "kembali", "Perbaiki")
    returned = [r for r in outbox(db, case_id, after=before) if r.key == "notify.task_returned"]
    assert [r.recipient_id for r in returned] == [people.staf_a.id]


def test_kabid_returns_to_the_staf_who_delivered_it(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    walk(db, workflow, people, case_id, 6)  # Staf A delivered (5)
    before = last_id(db)
    press(db, workflow, case_id, people.kabid, "kembali", "Disposisi salah alamat")
    assert load(db, case_id).step_no == 5
    returned = [r for r in outbox(db, case_id, after=before) if r.key == "notify.task_returned"]
    assert [(r.recipient_id, r.actions) for r in returned] == [(people.staf_a.id, ["sampai"])]


def test_return_to_the_member_and_resubmission(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    case_id = open_case(db, workflow, people.member)
    before = last_id(db)
    reason = "Surat tugas belum ditandatangani"
    moved = press(db, workflow, case_id, people.staf_b, "kembali", reason)
    assert moved.to_requester
    assert moved.to_step is None
    waiting = load(db, case_id)
    assert (waiting.status, waiting.step_no, waiting.version) == ("with_requester", 1, 2)
    [told] = outbox(db, case_id, after=before)
    assert (told.recipient_id, told.key, told.actions) == (
        people.member.id, "notify.member_returned", ["fix"]
    )
    assert told.case_version == 2
    assert told.params["note"] == reason
    assert told.params["agenda"] == "001/SM/DISKOMINFO-LMJ/2026"
    last = audit(db, case_id)[-1]
    assert (last.step_no, last.action, last.actor_id, last.to_step) == (
        1, "kembali", people.staf_b.id, None
    )

    # While the member has it, the office's buttons are stale.
    with pytest.raises(Stale):
        press(db, workflow, case_id, people.staf_a, "terima")

    clock.advance(timedelta(hours=2))
    before = last_id(db)
    signed = FileIn(kind="photo", file_ref="file-2", label="Surat Tugas")
    with db.session() as s:
        back = workflow.resubmit(s, case_id, people.member, version=2,
                                 note="Sudah ditandatangani", files=[signed])
    assert (back.status, back.step_no, back.version) == ("open", 1, 3)
    assert from_db(load(db, case_id).step_started_at) == clock.now()
    # Only the Staf who returned it is asked to look again.
    [task] = outbox(db, case_id, after=before)
    assert (task.recipient_id, task.key, task.actions) == (
        people.staf_b.id, "notify.task_returned", ["terima", "kembali"]
    )
    assert task.params["note"] == "Sudah ditandatangani"
    last = audit(db, case_id)[-1]
    assert (last.action, last.kind, last.actor_id, last.actor_role, last.to_step) == (
        "perbaiki", "resubmit", people.member.id, "pemohon", 1
    )

    press(db, workflow, case_id, people.staf_b, "terima")
    assert load(db, case_id).step_no == 2


def test_the_corrected_file_reaches_the_staf_who_asked_for_it(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    press(db, workflow, case_id, people.staf_b, "kembali", "Surat tugas belum ditandatangani")
    before = last_id(db)
    signed = FileIn(kind="photo", file_ref="file-2", label="Surat Tugas")
    with db.session() as s:
        workflow.resubmit(s, case_id, people.member, version=2, note="Sudah", files=[signed])
    with db.session() as s:
        new_file = s.exec(select(Attachment).where(Attachment.file_ref == "file-2")).one()
    [task] = outbox(db, case_id, after=before)
    assert task.recipient_id == people.staf_b.id
    assert new_file.id in task.attachment_ids


def test_each_official_gets_the_members_documents_with_their_first_task(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    with db.session() as s:
        [document] = s.exec(select(Attachment.id)).all()
    walk(db, workflow, people, case_id, 6)
    firsts: dict[int, Notification] = {}
    for row in outbox(db, case_id):
        if row.key == "notify.task":
            firsts.setdefault(row.recipient_id, row)
    officials = [people.staf_a, people.staf_b, people.kadis, people.sekdis, people.kabid]
    assert set(firsts) == {o.id for o in officials}
    assert all(row.attachment_ids == [document] for row in firsts.values())


def test_a_stale_resubmission_is_refused(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = open_case(db, workflow, people.member)
    press(db, workflow, case_id, people.staf_a, "kembali", "Lengkapi berkas")
    before = snapshot(db, case_id)
    with pytest.raises(Stale), db.session() as s:
        workflow.resubmit(s, case_id, people.member, version=1,
                          note="Sudah", files=[])
    assert snapshot(db, case_id) == before


def test_resubmitting_twice_is_stale(db: Database, workflow: Workflow, people: People) -> None:
    case_id = open_case(db, workflow, people.member)
    press(db, workflow, case_id, people.staf_a, "kembali", "Lengkapi berkas")
    with db.session() as s:
        workflow.resubmit(s, case_id, people.member, version=2, note="Sudah", files=[])
    before = snapshot(db, case_id)
    with pytest.raises(Stale), db.session() as s:
        workflow.resubmit(s, case_id, people.member, version=2, note="Sudah", files=[])
    assert snapshot(db, case_id) == before


@pytest.mark.parametrize(
    ("who", "note", "error", "key"),
    [
        ("other_member", "Sudah", NotFound, "error.case_not_found"),
        ("member", "   ", BadInput, "error.empty_answer"),
        ("member", "x" * (MAX_NOTE + 1), BadInput, "error.too_long"),
    ],
)
def test_a_bad_resubmission_is_refused(
    db: Database, workflow: Workflow, people: People,
    who: str, note: str, error: type[KimError], key: str,
) -> None:
    case_id = open_case(db, workflow, people.member)
    press(db, workflow, case_id, people.staf_a, "kembali", "Lengkapi berkas")
    before = snapshot(db, case_id)
    with pytest.raises(error) as info, db.session() as s:
        workflow.resubmit(s, case_id, getattr(people, who), version=2,
                          note=note, files=[])
    assert info.value.key == key
    assert snapshot(db, case_id) == before


# -- who may see and act -------------------------------------------------------------------------


def test_who_may_act_and_view(db: Database, workflow: Workflow, people: People) -> None:
    case_id = open_case(db, workflow, people.member)
    with db.session() as s:
        current = s.get(Case, case_id)
        assert current is not None
        assert workflow.may_act(s, current, people.staf_a)
        assert not workflow.may_act(s, current, people.kadis)
        assert not workflow.may_act(s, current, people.member)
        assert not workflow.may_act(s, current, people.staf_kolaka)
        assert workflow.may_view(s, current, people.member)
        assert workflow.may_view(s, current, people.kadis)
        assert not workflow.may_view(s, current, people.other_member)
        assert not workflow.may_view(s, current, people.staf_kolaka)


def test_a_person_with_two_roles_acts_in_the_one_the_step_needs(
    db: Database, workflow: Workflow, people: People
) -> None:
    with db.session() as s:
        bind_role(s, people.kasi, "staf")
    case_id = open_case(db, workflow, people.member)
    press(db, workflow, case_id, people.kasi, "terima")
    assert audit(db, case_id)[-1].actor_role == "staf"
