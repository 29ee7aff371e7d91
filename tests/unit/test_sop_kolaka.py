"""Seed 001 as data: Diskominfo Kolaka's internal SOP "Pembentukan KIM", 17 steps, and a case
played through it (with its corrections) by the officials the roles were inferred for."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from bot.casework import assign_team
from bot.clock import ManualClock
from bot.db import Database
from bot.errors import NotAllowed
from bot.models import AuditEntry, Case, Notification, User
from bot.sop import ActionKind, SopRegistry, TimeUnit
from bot.sop.model import Sop
from bot.workflow import Workflow
from tests.support.factories import make_official

KOLAKA = "klk-bentuk-kim"

# step → (role, why) — the seed's Pelaksana columns lost their marks; see `penafsiran:`.
ROLES = {
    1: "kadis",  # "Memerintahkan Kepala Bidang"
    2: "kabid",  # gives petunjuk teknis "kepada kepala seksi"
    3: "kasi",  # prepares the konsep
    4: "staf",  # types it, "diserahkan kepada kepala seksi"
    5: "kasi",  # checks, paraf, "diteruskan ke kepada kepala bidang"
    6: "kabid",  # corrects: back to Kasi or paraf → Sekdis
    7: "sekdis",  # back to Kabid or on to "atasan"
    8: "kadis",  # back to Sekdis or signs
    9: "kasi",  # receives the signed naskah (the drafter)
    10: "staf",  # registers & distributes, reports to Kasi
    11: "kasi",  # arranges the team
    12: "tim",  # carries out the formation
    13: "tim",  # report material → Kasi
    14: "kasi",  # writes the report → Kabid
    15: "kabid",  # back to Kasi or → Kadis
    16: "kadis",  # receives the report
    17: "staf",  # documents it
}
DECISIONS = {6: 5, 7: 6, 8: 7, 15: 14}  # decision step → the step a return goes back to


@pytest.fixture
def kolaka(registry: SopRegistry) -> Sop:
    sop = registry.get(KOLAKA)
    assert sop is not None
    return sop


def test_kolaka_sop_has_its_seventeen_steps(kolaka: Sop) -> None:
    assert [s.number for s in kolaka.steps] == list(range(1, 18))
    assert kolaka.office == "kolaka"
    assert kolaka.started_by == "kadis"
    assert kolaka.source_file == "kolaka_pembentukan_kim.yaml"


def test_kolaka_header_is_the_whole_paper_header(kolaka: Sop) -> None:
    assert kolaka.number == "17/DISKOMINFO-KLK/2018"
    assert kolaka.name == "PEMBENTUKAN KELOMPOK INFORMASI MASYARAKAT (KIM) DI KABUPATEN/KOTA"
    h = kolaka.header
    assert "I NYOMAN SUASTIKA" in str(h["disahkan_oleh"])
    assert "NIP.19870925 199803 1 009" in str(h["disahkan_oleh"])
    assert len(h["dasar_hukum"]) == 4  # type: ignore[arg-type]
    assert str(h["dasar_hukum"][0]).startswith("Undang-undang No.14 Tahun 2008")  # type: ignore[index]
    assert len(h["kualifikasi_pelaksana"]) == 4  # type: ignore[arg-type]
    assert h["peralatan"] == [
        "Komputer/printer/ATK", "Dokumen / Berkas", "Ruang Pertemuan, Narasumber, Moderator",
        "Komputer dan Printer",
    ]
    assert h["keterkaitan"] == [
        "SOP Pembentukan Kelompok Informasi masyarakat (KIM) Di Kabupaten/Kota"
    ]
    assert "pemberdayaan/pengembangan KIM tidak tercapai" in str(h["peringatan"])
    assert h["pencatatan"] == ["Didokumentasikan sebagai data elektronik dan manual"]
    assert h["tanggal_efektif"] == ""


@pytest.mark.parametrize(("number", "role"), sorted(ROLES.items()))
def test_each_step_has_its_inferred_role_and_says_why(kolaka: Sop, number: int, role: str) -> None:
    step = kolaka.step(number)
    assert step.roles == (role,)
    assert step.also == ()
    # The issue: the file says where roles were inferred (the columns lost their marks).
    assert step.inferred.startswith(("Pelaksana ditafsirkan", "Teks tidak menyebut"))


@pytest.mark.parametrize(
    ("number", "kelengkapan", "waktu", "unit", "output"),
    [
        (1, ("Agenda Kerja",), "10 Menit", TimeUnit.MINUTE, "Disposisi"),
        (3, ("Disposisi",), "2 Hari", TimeUnit.WORKING_DAY, "Disposisi, konsep naskah dinas"),
        (6, ("Konsep naskah dinas",), "2 Jam", TimeUnit.HOUR,
         "Konsep naskah dinas yang sudah diparaf"),
        (7, ("Konsep naskah dinas",), "30 menit", TimeUnit.MINUTE,
         "Konsep naskah dinas yang sudah diparaf"),
        (12, ("Narasumber", "Moderator"), "2 Hari", TimeUnit.WORKING_DAY,
         "Sarana dan Prasarana tersedia"),
        (14, ("Konsep laporan",), "1 Hari", TimeUnit.WORKING_DAY, "Konsep laporan"),
        (16, ("Laporan akhir",), "20 Menit", TimeUnit.MINUTE, "Laporan dan dokumentasi"),
        (17, ("Dokumentasi",), "10 Menit", TimeUnit.MINUTE, "Dokumentasi"),
    ],
)
def test_kolaka_mutu_baku(
    kolaka: Sop, number: int, kelengkapan: tuple, waktu: str, unit: TimeUnit, output: str
) -> None:
    step = kolaka.step(number)
    assert step.requirements == kelengkapan
    assert step.waktu_text == waktu
    assert step.waktu.unit is unit
    assert step.output == output
    assert step.note == ""  # the seed's Keterangan column is empty


@pytest.mark.parametrize(("number", "back_to"), sorted(DECISIONS.items()))
def test_decisions_return_to_the_step_the_sop_names_or_go_on(
    kolaka: Sop, number: int, back_to: int
) -> None:
    step = kolaka.step(number)
    [back] = [a for a in step.actions if a.kind is ActionKind.RETURN]
    onward = [a for a in step.actions if a.kind.moves_forward]
    assert back.target == back_to
    assert back.note_required
    assert len(onward) == 1
    assert onward[0].target is None  # on to the next step
    assert set(back.label) == {"id", "en"}


def test_only_the_decision_steps_can_return_and_the_last_step_finishes(kolaka: Sop) -> None:
    returning = [s.number for s in kolaka.steps
                 if any(a.kind is ActionKind.RETURN for a in s.actions)]
    assert returning == sorted(DECISIONS)
    assert [a.kind for a in kolaka.step(17).actions] == [ActionKind.FINISH]
    assert kolaka.step(6).action("paraf").kind is ActionKind.INITIAL  # type: ignore[union-attr]
    assert kolaka.step(7).action("paraf").kind is ActionKind.INITIAL  # type: ignore[union-attr]
    assert kolaka.step(8).action("tandatangan") is not None
    for step in kolaka.steps:
        for action in step.actions:
            assert len(action.code) <= 12
            assert set(action.label) == {"id", "en"}, (step.number, action.code)
            assert all(len(text) <= 40 for text in action.label.values())


# -- a case through the SOP ------------------------------------------------------------------


@pytest.fixture
def officials(db: Database) -> dict[str, User]:
    with db.session() as s:
        return {role: make_official(s, role, office="kolaka", name=f"{role.title()} Kolaka")
                for role in ("kadis", "sekdis", "kabid", "kasi", "staf", "tim")}


def press(db: Database, wf: Workflow, case_id: int, user: User, code: str, note: str = "") -> None:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        wf.act(s, case_id, user, version=case.version, action_code=code, note=note)


def at_step(db: Database, case_id: int) -> tuple[str, int]:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.status, case.step_no


def test_a_kim_formation_runs_from_order_to_documentation_with_corrections(
    db: Database, workflow: Workflow, officials: dict[str, User], kolaka: Sop,
    clock: ManualClock,
) -> None:
    with db.session() as s:
        case, created = workflow.start_internal(
            s, officials["kadis"], KOLAKA, subject="Pembentukan KIM Desa Wundulako",
            purpose="Bentuk KIM di Kecamatan Wundulako", request_key="klk-1")
        assert created
        case_id = case.id
        assert case.agenda_number == "001/SM/DISKOMINFO-KLK/2026"
    assert case_id is not None

    # Corrections on the way: Kabid returns the konsep to Kasi once, Sekdis to Kabid once,
    # Kabid returns the report to Kasi once.
    path: list[tuple[str, str, str, int]] = [
        ("kadis", "perintah", "Laksanakan pembentukan KIM Wundulako", 2),
        ("kabid", "petunjuk", "Koordinasi dengan camat", 3),
        ("kasi", "konsep", "", 4),
        ("staf", "ketik", "", 5),
        ("kasi", "paraf", "", 6),
        ("kabid", "kembali", "Perbaiki dasar hukum", 5),
        ("kasi", "paraf", "Sudah diperbaiki", 6),
        ("kabid", "paraf", "", 7),
        ("sekdis", "kembali", "Tanggal kegiatan belum ada", 6),
        ("kabid", "paraf", "Tanggal ditambahkan", 7),
        ("sekdis", "paraf", "", 8),
        ("kadis", "tandatangan", "", 9),
        ("kasi", "terima", "", 10),
        ("staf", "daftar", "", 11),
        ("kasi", "atur_tim", "Berangkat Senin", 12),
        ("tim", "laksana", "", 13),
        ("tim", "bahan", "", 14),
        ("kasi", "laporan", "", 15),
        ("kabid", "kembali", "Lengkapi foto kegiatan", 14),
        ("kasi", "laporan", "Foto dilampirkan", 15),
        ("kabid", "serahkan", "", 16),
        ("kadis", "terima", "", 17),
    ]
    for role, code, note, to_step in path:
        clock.advance(timedelta(minutes=5))
        if code == "atur_tim":  # step 11 cannot go on without a team
            with db.session() as s:
                case = s.get(Case, case_id)
                assert case is not None
                team = assign_team(s, workflow, case_id, officials["kasi"],
                                   version=case.version, member_ids=[officials["tim"].id or 0],
                                   duty_date=date(2026, 11, 30))
            assert [line.name for line in team] == ["Tim Kolaka"]
        press(db, workflow, case_id, officials[role], code, note)
        assert at_step(db, case_id) == ("open", to_step), (role, code)
    press(db, workflow, case_id, officials["staf"], "dokumentasi")
    assert at_step(db, case_id) == ("finished", 17)

    with db.session() as s:
        trail = [(e.step_no, e.action, e.actor_role, e.to_step) for e in s.exec(
            select(AuditEntry).where(AuditEntry.case_id == case_id)
            .order_by(col(AuditEntry.id)))]
        returned = s.exec(select(Notification).where(Notification.case_id == case_id)
                          .where(Notification.key == "notify.task_returned")
                          .order_by(col(Notification.id))).all()
    assert trail[0] == (1, "mulai", "kadis", 1)
    assert (6, "kembali", "kabid", 5) in trail
    assert (7, "kembali", "sekdis", 6) in trail
    assert (15, "kembali", "kabid", 14) in trail
    assert trail[-1] == (17, "dokumentasi", "staf", None)
    # A return goes to the person who did the step before, with the note.
    assert [(n.recipient_id, n.params["note"]) for n in returned] == [
        (officials["kasi"].id, "Perbaiki dasar hukum"),
        (officials["kabid"].id, "Tanggal kegiatan belum ada"),
        (officials["kasi"].id, "Lengkapi foto kegiatan"),
    ]


def test_a_return_needs_a_note_and_the_right_role(
    db: Database, workflow: Workflow, officials: dict[str, User]
) -> None:
    from bot.errors import BadInput

    with db.session() as s:
        case, _ = workflow.start_internal(s, officials["kadis"], KOLAKA, subject="KIM",
                                          purpose="Bentuk KIM", request_key="klk-2")
        case_id = case.id
    assert case_id is not None
    for role, code, note in [("kadis", "perintah", "x"), ("kabid", "petunjuk", "y"),
                             ("kasi", "konsep", ""), ("staf", "ketik", ""),
                             ("kasi", "paraf", "")]:
        press(db, workflow, case_id, officials[role], code, note)
    with pytest.raises(BadInput):
        press(db, workflow, case_id, officials["kabid"], "kembali", "")
    with pytest.raises(NotAllowed):
        press(db, workflow, case_id, officials["kasi"], "kembali", "Perbaiki")
    assert at_step(db, case_id) == ("open", 6)


def test_only_the_kepala_dinas_starts_it(
    db: Database, workflow: Workflow, officials: dict[str, User]
) -> None:
    with pytest.raises(NotAllowed), db.session() as s:
        workflow.start_internal(s, officials["kabid"], KOLAKA, subject="KIM", purpose="x",
                                request_key="klk-3")
