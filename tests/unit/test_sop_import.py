"""`kimbot sop import`: the SOP table as text → a draft SOP YAML, with what to check (PERIKSA).

The seeds are copied into tests/data/seeds so the tests do not depend on ../shared.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.db import Database
from bot.models import AuditEntry, Case, User
from bot.sop import ActionKind, SopError, SopRegistry
from bot.sop.importer import (
    ImportResult,
    check_draft,
    import_sop_text,
    infer_role,
    normalise_waktu,
    split_items,
    split_requirements,
)
from bot.sop.loader import _Loader, load_offices
from bot.sop.model import REQUESTER, Office, Sop
from bot.workflow import FileIn, Workflow
from handlers.cli import main
from tests.conftest import SOP_DIR
from tests.support.factories import make_member, make_official

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
SHARED_SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_001 = SEEDS / "001_99a3eb2f6bab2493.txt"
SEED_004 = SEEDS / "004_7d2baf1018c7db34.txt"


@pytest.fixture(scope="module")
def offices() -> dict[str, Office]:
    return load_offices(SOP_DIR / "offices.yaml")


def imported(path: Path, offices: dict[str, Office], **kwargs: Any) -> ImportResult:
    return import_sop_text(path.read_text(encoding="utf-8"), offices=offices,
                           source=path.name, **kwargs)


@pytest.fixture(scope="module")
def seed_004(offices: dict[str, Office]) -> ImportResult:
    return imported(SEED_004, offices)


@pytest.fixture(scope="module")
def seed_001(offices: dict[str, Office]) -> ImportResult:
    return imported(SEED_001, offices)


def test_the_seed_copies_are_the_shared_seeds() -> None:
    if not SHARED_SEEDS.is_dir():
        pytest.skip("../shared/seeds is not beside this checkout")
    for copy in (SEED_001, SEED_004):
        assert copy.read_bytes() == (SHARED_SEEDS / copy.name).read_bytes()


def test_the_yaml_text_is_the_data(seed_001: ImportResult, seed_004: ImportResult) -> None:
    """The comments are the only thing the text adds: it reads back as the same data."""
    for result in (seed_001, seed_004):
        assert yaml.load(result.yaml_text, Loader=_Loader) == result.data  # noqa: S506


# -- seed 004 (Lumajang): marks kept as □ with arrows ---------------------------------------


def test_seed_004_imports_to_a_file_that_passes_the_check(
    seed_004: ImportResult, offices: dict[str, Office]
) -> None:
    sop = check_draft(seed_004.yaml_text, offices)
    assert [s.number for s in sop.steps] == list(range(1, 9))
    assert sop.office == "lumajang"
    assert sop.started_by == REQUESTER
    assert sop.number == "427.53/4/01.01/2018"
    assert seed_004.inferred_steps == []  # every row had its boxes


def test_seed_004_mutu_baku_and_roles_match_the_hand_made_file(
    seed_004: ImportResult, offices: dict[str, Office], registry: SopRegistry
) -> None:
    sop = check_draft(seed_004.yaml_text, offices)
    hand = registry.get("lmj-layanan-kim")
    assert hand is not None
    for ours, theirs in zip(sop.steps, hand.steps, strict=True):
        assert ours.activity == theirs.activity
        assert ours.waktu == theirs.waktu
        assert ours.waktu_text == theirs.waktu_text
        assert ours.requirements == theirs.requirements
        assert ours.output == theirs.output
        assert ours.roles == theirs.roles, ours.number
        assert ours.also == theirs.also, ours.number
    assert [s.waktu_text for s in sop.steps] == [
        "3 menit", "5 menit", "5 menit", "1 menit", "3 menit", "1 menit", "15 menit", "1 menit",
    ]
    assert sop.step(2).requirements == ("Buku agenda", "lembar disposisi")
    assert sop.step(4).requirements == ("Buku agenda surat masuk",)


def test_seed_004_header(seed_004: ImportResult, registry: SopRegistry) -> None:
    hand = registry.get("lmj-layanan-kim")
    assert hand is not None
    data = seed_004.data
    for key in ("kualifikasi_pelaksana", "keterkaitan", "peralatan", "pencatatan",
                "peringatan", "disahkan_oleh", "judul_diagram"):
        value = hand.header[key]
        assert data[key] == (" ".join(value.split()) if isinstance(value, str) else value), key
    assert len(data["dasar_hukum"]) == 6
    assert data["dasar_hukum"][5].startswith("Peraturan Bupati Lumajang Nomor 72 tahun 2016")
    assert data["tanggal_pembuatan"] == "01 MARET 2018"
    assert data["nama_sop"] == hand.name


def test_seed_004_two_boxes_in_a_row_are_reported(seed_004: ImportResult) -> None:
    chosen = {f.step for f in seed_004.findings if f.field == "pelaksana"}
    assert chosen == {3, 4, 5, 6, 8}
    [row3] = [f for f in seed_004.findings if f.step == 3 and f.field == "pelaksana"]
    assert "Kadin □ ↑, Staff Administrasi □ ←" in row3.message
    assert "# PERIKSA: beberapa kotak (Kadin □ ↑, Staff Administrasi □ ←)" in seed_004.yaml_text


@pytest.fixture
def lumajang_people(db: Database) -> dict[str, User]:
    with db.session() as s:
        people = {role: make_official(s, role, name=f"{role.title()} Lumajang")
                  for role in ("kadis", "sekdis", "kabid", "kasi", "staf")}
        people["member"] = make_member(s, "Siti Aminah")
        return people


def registry_with(tmp_path: Path, name: str, yaml_text: str) -> SopRegistry:
    shutil.copy(SOP_DIR / "offices.yaml", tmp_path / "offices.yaml")
    (tmp_path / name).write_text(yaml_text, encoding="utf-8")
    return SopRegistry.from_dir(tmp_path)


def play_to_the_end(db: Database, wf: Workflow, sop: Sop, case_id: int,
                    people: dict[str, User]) -> list[tuple[int, str]]:
    """Press each step's way forward, as a holder of its role, until the case is finished."""
    for _ in range(len(sop.steps) + 1):
        with db.session() as s:
            case = s.get(Case, case_id)
            assert case is not None
            if case.status == "finished":
                break
            step = sop.step(case.step_no)
            action = next(a for a in step.actions if a.kind is not ActionKind.RETURN)
            wf.act(s, case_id, people[step.roles[0]], version=case.version,
                   action_code=action.code, note="Lanjutkan")
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert case.status == "finished"
        return [(e.step_no, e.actor_role) for e in s.exec(
            select(AuditEntry).where(AuditEntry.case_id == case_id)
            .order_by(col(AuditEntry.id)))]


def test_the_imported_seed_004_runs_a_request_to_finished(
    tmp_path: Path, seed_004: ImportResult, db: Database, clock: ManualClock,
    lumajang_people: dict[str, User],
) -> None:
    registry = registry_with(tmp_path, "impor.yaml", seed_004.yaml_text)
    sop = registry.get(seed_004.data["kode"])
    assert sop is not None
    wf = Workflow(registry, clock)
    with db.session() as s:
        case, created = wf.submit_request(
            s, lumajang_people["member"], sop.code, subject="Pelatihan KIM",
            purpose="Mohon pendampingan", request_key="impor-1",
            files=[FileIn(kind="document", file_ref="f1", file_name="surat_tugas.pdf",
                          mime="application/pdf", size=10, label="Surat Tugas")])
        assert created
        case_id = case.id
    assert case_id is not None
    trail = play_to_the_end(db, wf, sop, case_id, lumajang_people)
    assert trail == [(1, "pemohon"), (1, "staf"), (2, "staf"), (3, "kadis"), (4, "staf"),
                     (5, "staf"), (6, "sekdis"), (7, "staf"), (8, "kasi")]


# -- seed 001 (Kolaka): the marks were lost ----------------------------------------------------


def test_seed_001_gives_seventeen_steps_all_inferred_and_named(seed_001: ImportResult) -> None:
    assert [s["no"] for s in seed_001.data["prosedur"]] == list(range(1, 18))
    assert seed_001.inferred_steps == list(range(1, 18))
    for number in range(1, 18):
        [finding] = [f for f in seed_001.findings if f.step == number and f.kind == "actor"]
        assert str(finding).startswith(f"PERIKSA langkah {number} (pelaksana): pelaksana "
                                       "tidak bertanda; ditebak ")
    assert seed_001.yaml_text.count("# PERIKSA: pelaksana tidak bertanda") == 17
    for raw in seed_001.data["prosedur"]:
        assert raw["penafsiran"].startswith("Kolom Pelaksana tanpa tanda; pelaksana ")


def test_seed_001_after_the_guesses_passes_the_check(
    seed_001: ImportResult, offices: dict[str, Office]
) -> None:
    sop = check_draft(seed_001.yaml_text, offices)
    assert sop.office == "kolaka"
    assert sop.started_by == "kadis"
    assert sop.number == "17/DISKOMINFO-KLK/2018"


def test_seed_001_guesses_agree_with_the_reviewed_file(
    seed_001: ImportResult, offices: dict[str, Office], registry: SopRegistry
) -> None:
    """The keyword rules reach the roles decided by hand in sop_steps/kolaka_… ."""
    sop = check_draft(seed_001.yaml_text, offices)
    hand = registry.get("klk-bentuk-kim")
    assert hand is not None
    for ours, theirs in zip(sop.steps, hand.steps, strict=True):
        assert ours.roles == theirs.roles, ours.number
        assert ours.waktu_text == theirs.waktu_text
        assert ours.requirements == theirs.requirements
        assert ours.output == theirs.output
        ours_back = [a.target for a in ours.actions if a.kind is ActionKind.RETURN]
        theirs_back = [a.target for a in theirs.actions if a.kind is ActionKind.RETURN]
        assert ours_back == theirs_back, ours.number
    for key in ("dasar_hukum", "kualifikasi_pelaksana", "keterkaitan", "peralatan",
                "pencatatan", "disahkan_oleh", "judul_diagram"):
        assert sop.header[key] == hand.header[key], key


def test_seed_001_decisions(seed_001: ImportResult) -> None:
    steps = {raw["no"]: raw for raw in seed_001.data["prosedur"]}
    kinds = {n: [a["jenis"] for a in raw["aksi"]] for n, raw in steps.items()}
    assert kinds[6] == ["paraf", "kembalikan"]  # "jika sesuai diparaf koordinasi"
    assert kinds[7] == ["teruskan", "kembalikan"]  # "jika sudah sesuai diteruskan"
    assert kinds[8] == ["teruskan", "kembalikan"]  # the way on is not written
    assert kinds[15] == ["teruskan", "kembalikan"]
    assert kinds[17] == ["selesai"]
    assert kinds[1] == ["disposisi"]  # "Memerintahkan"
    assert kinds[5] == ["paraf"]  # "diberikan paraf koordinasi"
    targets = {n: [a.get("ke") for a in raw["aksi"] if a["jenis"] == "kembalikan"]
               for n, raw in steps.items()}
    assert {n: t for n, t in targets.items() if t} == {6: [5], 7: [6], 8: [7], 15: [14]}
    unsure = [(f.step, f.message) for f in seed_001.findings if f.field == "aksi"]
    assert (7, "tujuan pengembalian tidak disebut; ditebak langkah 6 (yang mengirim ke sini)") \
        in unsure
    assert any(step == 8 and "jalan 'jika sesuai'" in msg for step, msg in unsure)
    assert not any(step in (6, 15) for step, _ in unsure)  # "ke kepala seksi" is named


def test_seed_001_ya_cells_are_read_as_decision_labels(seed_001: ImportResult) -> None:
    ya = [f.step for f in seed_001.findings if "'Ya'" in f.message]
    assert ya == [15, 17]
    assert seed_001.data["prosedur"][14]["pelaksana"] == "Kabid"
    assert seed_001.data["prosedur"][16]["pelaksana"] == "Staf"


def test_the_imported_seed_001_runs_to_finished(
    tmp_path: Path, seed_001: ImportResult, db: Database, clock: ManualClock
) -> None:
    registry = registry_with(tmp_path, "impor.yaml", seed_001.yaml_text)
    sop = registry.get(seed_001.data["kode"])
    assert sop is not None
    wf = Workflow(registry, clock)
    with db.session() as s:
        people = {role: make_official(s, role, office="kolaka")
                  for role in ("kadis", "sekdis", "kabid", "kasi", "staf", "tim")}
        case, _ = wf.start_internal(s, people["kadis"], sop.code, subject="KIM",
                                    purpose="Bentuk KIM", request_key="impor-2")
        case_id = case.id
    assert case_id is not None
    trail = play_to_the_end(db, wf, sop, case_id, people)
    assert len(trail) == 18


# -- messy input ---------------------------------------------------------------------------------

MINI = "\n".join([
    "PEMERINTAH KABUPATEN LUMAJANG",
    "Nomor SOP\t1/UJI/2026",
    "Nama SOP\tUji Coba",
    "Baris aneh yang tidak dikenal",
    '<ol style="list-style-type: none">',
    "No\tKegiatan\tPelaksana\t\t\tMutu Baku\t\t\tKeterangan",
    "\t\tKasi\tStaf\tBupati\tKelengkapan\tWaktu\tOutput",
    "1\tMenerima berkas\t\t□ ↓\t\tBerkas\t± 5 menit\tBerkas\t",
    "2\tMemeriksa berkas jika tidak sesuai dikembalikan kepada petugas, jika sesuai diparaf"
    "\t□\t\t\tBerkas\tsebentar\tParaf",
    "\tlanjutan teks kegiatan",
    "3\tMengarsipkan\t\t□\t□\tFile\t1-2 Hari\tArsip",
    "Mengetahui, Kepala Dinas",
])


def messages(result: ImportResult) -> list[str]:
    return [str(f) for f in result.findings]


def test_messy_input_is_reported_not_fatal(offices: dict[str, Office]) -> None:
    result = import_sop_text(MINI, offices=offices, source="mini.txt")
    text = "\n".join(messages(result))
    assert "PERIKSA baris 4: baris tidak dikenali, dilewati: 'Baris aneh yang tidak dikenal'" \
        in text
    assert "baris tabel tidak dikenali, dilewati: 'Mengetahui, Kepala Dinas'" in text
    assert "kolom pelaksana 'Bupati' bukan peran yang dikenal" in text
    assert "PERIKSA langkah 3 (pelaksana): tanda '□' di luar kolom peran yang dikenal" in text
    assert "PERIKSA langkah 2 (kegiatan): baris 10 digabung ke kegiatan langkah 2" in text
    assert "waktu '± 5 menit' ditulis '5 menit'" in text
    assert "waktu '1-2 Hari' ditulis '2 hari' (rentang: diambil batas atas)" in text
    assert "PERIKSA langkah 2 (waktu): waktu 'sebentar' tidak dapat dibaca" in text
    steps = result.data["prosedur"]
    assert [s["pelaksana"] for s in steps] == ["Staf", "Kasi", "Staf"]
    assert steps[1]["kegiatan"].endswith("jika sesuai diparaf lanjutan teks kegiatan")
    assert steps[1]["aksi"][1] == {"kode": "kembali", "jenis": "kembalikan", "ke": 1,
                                   "catatan": "wajib",
                                   "label": {"id": "Kembalikan ke Staf",
                                             "en": "Return to Staf to fix"}}
    assert result.data["kantor"] == "lumajang"
    assert "# PERIKSA: waktu 'sebentar' tidak dapat dibaca" in result.yaml_text
    # The Waktu it could not read stays as written: the check refuses it until it is fixed.
    with pytest.raises(SopError) as info:
        check_draft(result.yaml_text, offices)
    assert info.value.step == 2
    assert "waktu 'sebentar' tidak dapat dibaca" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n\t\t\n",
        "sembarang teks\x00\x01 ☃ <div>",
        "No\tKegiatan\n1\tSatu-satunya langkah",
        "No\tKegiatan\tPelaksana\n\t\tKadis\tKelengkapan\tWaktu\tOutput\n1",
        "Nomor SOP\nDasar Hukum\tKualifikasi pelaksana\n",
        "No\tKegiatan\n\t\tKadis\tKelengkapan\tWaktu\tOutput\n1\t\t\t\t\t\n2\tx\t□ → ↓ ◇\tA\t"
        "2 minggu\tB\t\t\t\tC",
    ],
)
def test_the_importer_never_crashes(text: str, offices: dict[str, Office]) -> None:
    result = import_sop_text(text, offices=offices)
    assert isinstance(result.yaml_text, str)
    assert yaml.load(result.yaml_text, Loader=_Loader) == result.data  # noqa: S506
    assert result.findings


def test_no_table_is_said_plainly(offices: dict[str, Office]) -> None:
    result = import_sop_text("Judul SOP\tSesuatu", offices=offices)
    assert result.data["prosedur"] == []
    assert any("tabel prosedur tidak ditemukan" in m for m in messages(result))
    assert "prosedur: []" in result.yaml_text


def test_office_and_code_can_be_given(offices: dict[str, Office]) -> None:
    result = imported(SEED_004, offices, office="kolaka", code="klk-layanan")
    assert (result.data["kantor"], result.data["kode"]) == ("kolaka", "klk-layanan")
    assert not any(f.field in ("kantor", "kode") for f in result.findings)
    unknown = imported(SEED_004, offices, office="papua")
    assert any("kantor 'papua' tidak ada di offices.yaml" in m for m in messages(unknown))


# -- the pieces -------------------------------------------------------------------------------


def test_numbered_items_are_split_only_on_a_running_count() -> None:
    assert split_items("1. Undang-undang No.14 Tahun 2008; 2. Permen No. 8 tahun 2010; 3. C;") == [
        "Undang-undang No.14 Tahun 2008", "Permen No. 8 tahun 2010", "C"]
    assert split_items("Perda Nomor 8 tahun 2016 dan 5. bukan awal") == [
        "Perda Nomor 8 tahun 2016 dan 5. bukan awal"]
    assert split_items("  ") == []


@pytest.mark.parametrize(
    ("cell", "items"),
    [
        ("Print Out Berita, Surat Tugas", ["Print Out Berita", "Surat Tugas"]),
        ("Buku agenda lembar disposisi", ["Buku agenda", "lembar disposisi"]),
        ("Buku agenda surat masuk", ["Buku agenda surat masuk"]),
        ("Narasumber Moderator", ["Narasumber", "Moderator"]),
        ("Konsep naskah dinas", ["Konsep naskah dinas"]),
        ("Laptop proyektor", ["Laptop proyektor"]),
        ("", []),
    ],
)
def test_kelengkapan_items(cell: str, items: list[str]) -> None:
    assert split_requirements(cell) == items


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("± 5 menit", "5 menit"),
        ("kurang lebih 2 jam", "2 jam"),
        ("5 (lima) menit", "5 menit"),
        ("1-2 Hari", "2 hari"),
        ("1,5 jam", "90 menit"),
        ("2 minggu", None),
        ("sebentar", None),
        ("", None),
    ],
)
def test_waktu_normalisation(text: str, expected: str | None) -> None:
    assert normalise_waktu(text)[0] == expected


@pytest.mark.parametrize(
    ("activity", "before", "role"),
    [
        ("Memerintahkan Kepala Bidang untuk melaksanakan kegiatan", [], "kadis"),
        ("Memerintahkan kepala seksi menyiapkan bahan", [], "kabid"),
        ("Memberi petunjuk", [("Memerintahkan Kepala Bidang …", ("kadis",))], "kabid"),
        ("Meneliti", [("x, jika sudah sesuai diteruskan kepada atasan.", ("sekdis",))], "kadis"),
        ("Meneliti", [("jika tidak sesuai dikembalikan ke kepala seksi", ("kabid",))], "kabid"),
        ("Mengetik surat", [("Membuat konsep", ("kasi",))], "staf"),
        ("Menyiapkan bahan dan menyerahkan kepada kepala seksi", [("x", ("tim",))], "tim"),
        ("Menyiapkan bahan dan menyerahkan kepada kepala seksi", [("x", ("kabid",))], "staf"),
        ("Membaca jika tidak sesuai dikembalikan kepada kepala seksi", [("x", ("kadis",))],
         "kabid"),
        ("Menerima naskah yang sudah ditandatangani oleh kepala dinas",
         [("Mempersiapkan dan membuat konsep naskah", ("kasi",)), ("Mengoreksi", ("kadis",))],
         "kasi"),
        ("Sesuatu yang tidak jelas", [("y", ("kasi",))], "kasi"),
    ],
)
def test_actor_inference_rules(activity: str, before: list, role: str) -> None:
    assert infer_role(activity, before)[0] == role


# -- the command --------------------------------------------------------------------------------


def test_kimbot_sop_import_writes_the_draft_and_the_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kolaka.yaml"
    assert main(["sop", "import", str(SEED_001), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"✓ draf ditulis ke {out}: 17 langkah" in printed
    assert "PERIKSA langkah 9 (pelaksana): pelaksana tidak bertanda; ditebak Kasi" in printed
    assert "✓ draf lolos `kimbot sop check`" in printed
    assert out.read_text(encoding="utf-8").startswith("# DRAF dari `kimbot sop import 001_")
    assert main(["sop", "check", str(out)]) == 0
    # Not overwritten by accident.
    assert main(["sop", "import", str(SEED_004), "-o", str(out)]) == 1
    assert "sudah ada" in capsys.readouterr().err
    assert main(["sop", "import", str(SEED_004), "-o", str(out), "--force",
                 "--code", "lmj-impor"]) == 0
    assert "kode: lmj-impor" in out.read_text(encoding="utf-8")


def test_kimbot_sop_import_to_stdout_reports_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sop", "import", str(SEED_004), "--office", "lumajang"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# DRAF dari `kimbot sop import 004_")
    assert "PERIKSA" in captured.err
    assert "hal perlu DIPERIKSA" in captured.err


def test_kimbot_sop_import_says_when_the_draft_does_not_pass_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "mini.txt"
    src.write_text(MINI, encoding="utf-8")
    assert main(["sop", "import", str(src), "-o", str(tmp_path / "mini.yaml")]) == 1
    printed = capsys.readouterr().out
    assert "✗ draf belum lolos `kimbot sop check`: mini.yaml: langkah 2: waktu 'sebentar'" \
        in printed
    assert main(["sop", "import", str(tmp_path / "tidak-ada.txt")]) == 1
    assert "tidak dapat dibaca" in capsys.readouterr().err


def test_a_diamond_mark_asks_whether_a_return_is_needed(offices: dict[str, Office]) -> None:
    text = ("No\tKegiatan\n\t\tKasi\tStaf\tKelengkapan\tWaktu\tOutput\n"
            "1\tMenerima\t\t□ ↓\tBerkas\t5 menit\tBerkas\n"
            "2\tMemeriksa berkas\t◇ →\t\tBerkas\t1 jam\tParaf\n")
    result = import_sop_text(text, offices=offices, office="lumajang")
    assert result.data["prosedur"][1]["pelaksana"] == "Kasi"
    assert any(f.step == 2 and "bertanda keputusan (◇)" in f.message for f in result.findings)
