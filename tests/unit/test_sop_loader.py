"""SOP files: the Lumajang SOP loads as written; broken files are refused, naming file and step."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sop import ActionKind, SopError, SopRegistry, TimeUnit, load_sop_dir
from bot.sop.model import REQUESTER, Sop
from tests.conftest import SOP_DIR

LUMAJANG = "lmj-layanan-kim"


@pytest.fixture
def lumajang(registry: SopRegistry) -> Sop:
    sop = registry.get(LUMAJANG)
    assert sop is not None
    return sop


# -- the shipped SOP -------------------------------------------------------------------------


def test_lumajang_sop_has_its_eight_steps_in_order(lumajang: Sop) -> None:
    assert [s.number for s in lumajang.steps] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert lumajang.office == "lumajang"
    assert lumajang.started_by == REQUESTER
    assert lumajang.source_file == "lumajang_pelayanan_kim.yaml"


@pytest.mark.parametrize(
    ("number", "roles"),
    [
        (1, ("staf",)),
        (2, ("staf",)),
        (3, ("kadis",)),
        (4, ("staf",)),
        (5, ("staf",)),
        (6, ("sekdis", "kabid")),
        (7, ("staf",)),
        (8, ("kasi",)),
    ],
)
def test_lumajang_step_is_done_by_the_marked_role(lumajang: Sop, number: int, roles: tuple) -> None:
    assert lumajang.step(number).roles == roles


def test_lumajang_second_marks_are_kept_informed(lumajang: Sop) -> None:
    assert lumajang.step(3).also == ("staf",)
    assert lumajang.step(5).also == ("sekdis", "kabid")
    assert lumajang.step(8).also == ("staf",)
    assert lumajang.step(1).also == ()


@pytest.mark.parametrize(
    ("number", "requirements", "waktu", "output"),
    [
        (1, ("Print Out Berita", "Surat Tugas"), "3 menit", "Berkas dan Dokumen"),
        (
            2,
            ("Buku agenda", "lembar disposisi"),
            "5 menit",
            "Pengagendaaan surat dan pemberian lembar disposisi",
        ),
        (3, ("Surat masuk", "lembar disposisi"), "5 menit", "Disposisi"),
        (4, ("Buku agenda surat masuk",), "1 menit", "Disposisi"),
        (5, ("Surat masuk", "disposisi"), "3 menit", "Disposisi"),
        (6, ("Surat masuk", "disposisi"), "1 menit", "Dokumen"),
        (7, ("Print Out Berita", "Surat Tugas"), "15 menit", "Dokumen"),
        (8, ("File",), "1 menit", "Arsip"),
    ],
)
def test_lumajang_mutu_baku_per_step(
    lumajang: Sop, number: int, requirements: tuple, waktu: str, output: str
) -> None:
    step = lumajang.step(number)
    assert step.requirements == requirements
    assert step.waktu.text == waktu
    assert step.waktu.unit is TimeUnit.MINUTE
    assert step.output == output


def test_what_the_member_must_bring_is_the_first_steps_kelengkapan(lumajang: Sop) -> None:
    assert lumajang.requirements == ("Print Out Berita", "Surat Tugas")


def test_lumajang_header_is_kept(lumajang: Sop) -> None:
    assert lumajang.number == "427.53/4/01.01/2018"
    assert lumajang.name.startswith("Standart Pelayanan Pengembangan Dan Pemberdayaan")
    assert "\n" not in lumajang.name
    assert lumajang.service_name == {
        "id": "Permohonan pelayanan bagi anggota KIM",
        "en": "Service request for KIM members",
    }
    header = lumajang.header
    assert len(header["dasar_hukum"]) == 6
    assert header["dasar_hukum"][0].startswith("Undang-Undang Nomor 25 Tahun 2009")
    assert header["disahkan_oleh"].startswith("DONY FIMBRIYANTO YANTRI")
    assert header["tanggal_pembuatan"] == "01 Maret 2018"
    assert header["tanggal_pengesahan"] == "01 Maret 2018"
    assert "Lembar Disposisi" in header["peralatan"]
    assert "keterlambatan" in header["peringatan"]
    assert header["pencatatan"][0].startswith("Petugas harus mencatat dan mengarsip")
    assert header["keterkaitan"] == ["Lintas Bagian dan Lintas OPD"]
    assert len(header["kualifikasi_pelaksana"]) == 4


def test_lumajang_decisions_and_buttons(lumajang: Sop) -> None:
    accept = lumajang.step(1).action("terima")
    back = lumajang.step(1).action("kembali")
    assert accept is not None
    assert accept.kind is ActionKind.FORWARD
    assert back is not None
    assert back.kind is ActionKind.RETURN
    assert back.to_requester
    assert back.note_required
    assert back.target is None

    dispose = lumajang.step(3).action("dispo")
    correct = lumajang.step(3).action("kembali")
    assert dispose is not None
    assert dispose.kind is ActionKind.DISPOSE
    assert dispose.note_required
    assert correct is not None
    assert correct.kind is ActionKind.RETURN
    assert correct.target == 2
    assert not correct.to_requester

    follow_up = lumajang.step(6).action("lanjut")
    assert follow_up is not None
    assert follow_up.kind is ActionKind.DISPOSE
    assert lumajang.step(6).action("kembali").target == 5  # type: ignore[union-attr]

    service = lumajang.step(7).action("layani")
    assert service is not None
    assert not service.note_required

    archive = lumajang.step(8).action("arsip")
    assert archive is not None
    assert archive.kind is ActionKind.FINISH
    assert [a.code for a in lumajang.step(8).actions] == ["arsip"]


def test_button_labels_are_kept_per_language(lumajang: Sop) -> None:
    accept = lumajang.step(1).action("terima")
    assert accept is not None
    assert accept.label == {"id": "Terima berkas", "en": "Accept documents"}


def test_registry_offices_have_their_own_clock_and_numbering(registry: SopRegistry) -> None:
    assert registry.office("lumajang").timezone == "Asia/Jakarta"
    assert registry.office("kolaka").timezone == "Asia/Makassar"
    assert registry.office("lumajang").short_name == "DISKOMINFO-LMJ"
    assert registry.office("lumajang").agenda_format == "{seq:03d}/SM/{code}/{year}"
    services = registry.member_services()
    assert LUMAJANG in [s.code for s in services]
    assert all(s.started_by == REQUESTER for s in services)


# -- broken files --------------------------------------------------------------------------

VALID: dict[str, Any] = {
    "kode": "uji-sop",
    "kantor": "lumajang",
    "nama_sop": "SOP Uji",
    "dimulai_oleh": "pemohon",
    "prosedur": [
        {"no": 1, "kegiatan": "Menerima berkas", "pelaksana": "Staf", "waktu": "3 menit"},
        {
            "no": 2,
            "kegiatan": "Memeriksa berkas",
            "pelaksana": "Kasi",
            "waktu": "10 Menit",
            "aksi": [
                {"kode": "setuju", "jenis": "teruskan"},
                {"kode": "kembali", "jenis": "kembalikan", "ke": 1},
            ],
        },
        {"no": 3, "kegiatan": "Mengarsipkan", "pelaksana": "Kadis", "waktu": "1 Hari"},
    ],
}


def sop_dir(tmp_path: Path, **files: Any) -> Path:
    """A directory with the real offices.yaml and the given SOP files (dict or raw text)."""
    shutil.copy(SOP_DIR / "offices.yaml", tmp_path / "offices.yaml")
    for name, content in files.items():
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def variant(**step_changes: dict[str, Any]) -> dict[str, Any]:
    """VALID with some steps' fields replaced: variant(s2={"pelaksana": "Bupati"})."""
    data = copy.deepcopy(VALID)
    for key, changes in step_changes.items():
        index = int(key.removeprefix("s")) - 1
        data["prosedur"][index].update(changes)
    return data


def refused(directory: Path) -> SopError:
    with pytest.raises(SopError) as info:
        SopRegistry.from_dir(directory)
    return info.value


def test_the_minimal_valid_file_loads(tmp_path: Path) -> None:
    offices, sops = load_sop_dir(sop_dir(tmp_path, uji=VALID))
    assert set(offices) == {"lumajang", "kolaka"}
    assert [s.code for s in sops] == ["uji-sop"]
    steps = sops[0].steps
    assert [a.code for a in steps[0].actions] == ["teruskan"]  # default: pass on
    assert [a.code for a in steps[-1].actions] == ["selesai"]  # default on the last step
    assert steps[-1].waktu.unit is TimeUnit.WORKING_DAY


@pytest.mark.parametrize(
    ("changes", "step", "message"),
    [
        ({"s2": {"pelaksana": "Bupati"}}, 2, "peran 'Bupati' tidak dikenal"),
        ({"s3": {"bersama": ["Camat"]}}, 3, "bersama: peran 'Camat' tidak dikenal"),
        ({"s2": {"waktu": "sebentar"}}, 2, "waktu 'sebentar' tidak dapat dibaca"),
        ({"s3": {"waktu": "2 minggu"}}, 3, "satuan waktu 'minggu' tidak dikenal"),
        (
            {"s2": {"aksi": [{"kode": "ok", "jenis": "teruskan"},
                             {"kode": "kembali", "jenis": "kembalikan", "ke": 9}]}},
            2,
            "langkah tujuan 9 tidak ada",
        ),
        (
            {"s2": {"aksi": [{"kode": "ok", "jenis": "teruskan"},
                             {"kode": "kembali", "jenis": "kembalikan", "ke": 3}]}},
            2,
            "pengembalian harus ke langkah sebelumnya, bukan 3",
        ),
        (
            {"s2": {"aksi": [{"kode": "ok", "jenis": "teruskan"},
                             {"kode": "kembali", "jenis": "kembalikan", "ke": 2}]}},
            2,
            "pengembalian harus ke langkah sebelumnya, bukan 2",
        ),
        (
            {"s3": {"aksi": [{"kode": "lanjut", "jenis": "teruskan"}]}},
            3,
            "langkah terakhir tak punya langkah berikutnya",
        ),
        (
            {"s1": {"aksi": [{"kode": "lompat", "jenis": "teruskan", "ke": 3}]}},
            2,
            "langkah [2] tidak dapat dicapai dari langkah 1",
        ),
        (
            {"s2": {"aksi": [{"kode": "ok", "jenis": "teruskan"},
                             {"kode": "ok", "jenis": "kembalikan", "ke": 1}]}},
            2,
            "kode aksi berulang",
        ),
        ({"s1": {"aksi": [{"kode": "Terima!", "jenis": "teruskan"}]}}, 1, "kode aksi 'Terima!'"),
        ({"s1": {"aksi": [{"kode": "x" * 13, "jenis": "teruskan"}]}}, 1, "tidak sah"),
        ({"s1": {"aksi": [{"kode": "ok", "jenis": "lompat"}]}}, 1, "jenis 'lompat' tidak dikenal"),
        (
            {"s2": {"aksi": [{"kode": "ok", "jenis": "teruskan"},
                             {"kode": "kembali", "jenis": "kembalikan", "ke": 1,
                              "catatan": "tidak"}]}},
            2,
            "pengembalian harus dengan catatan wajib",
        ),
        (
            {"s2": {"aksi": [{"kode": "ok", "jenis": "teruskan", "ke": "pemohon"}]}},
            2,
            "hanya 'kembalikan' yang bisa ke pemohon",
        ),
        ({"s2": {"kegiatan": ""}}, 2, "kegiatan kosong"),
        ({"s2": {"pelaksana": []}}, 2, "pelaksana kosong"),
    ],
)
def test_a_broken_step_is_refused_naming_file_and_step(
    tmp_path: Path, changes: dict, step: int, message: str
) -> None:
    error = refused(sop_dir(tmp_path, rusak=variant(**changes)))
    assert error.file == "rusak.yaml"
    assert error.step == step
    assert str(error).startswith(f"rusak.yaml: langkah {step}: ")
    assert message in str(error)


def test_a_decision_without_a_way_forward_is_refused(tmp_path: Path) -> None:
    """Step 3 may only return the work: a case there could never finish."""
    data = variant(
        s2={"aksi": [{"kode": "ok", "jenis": "teruskan"}, {"kode": "tutup", "jenis": "selesai"}]},
        s3={"aksi": [{"kode": "kembali", "jenis": "kembalikan", "ke": 1}]},
    )
    error = refused(sop_dir(tmp_path, rusak=data))
    assert error.step == 3
    assert "keputusan tanpa jalan lanjut" in str(error)


def test_an_sop_without_finish_is_refused(tmp_path: Path) -> None:
    data = variant(s3={"aksi": [{"kode": "ulang", "jenis": "teruskan", "ke": 1}]})
    error = refused(sop_dir(tmp_path, rusak=data))
    assert str(error).startswith("rusak.yaml: ")
    assert "tidak ada aksi 'selesai'" in str(error)


def test_duplicate_step_numbers_are_refused(tmp_path: Path) -> None:
    error = refused(sop_dir(tmp_path, rusak=variant(s3={"no": 2})))
    assert str(error).startswith("rusak.yaml: ")
    assert "nomor langkah harus naik dan unik, ditemukan [1, 2, 2]" in str(error)


def test_steps_out_of_order_are_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["prosedur"][0]["no"], data["prosedur"][1]["no"] = 2, 1
    error = refused(sop_dir(tmp_path, rusak=data))
    assert "ditemukan [2, 1, 3]" in str(error)


@pytest.mark.parametrize("number", [0, -1, "satu"])
def test_a_step_number_must_be_a_positive_integer(tmp_path: Path, number: object) -> None:
    error = refused(sop_dir(tmp_path, rusak=variant(s2={"no": number})))
    assert "rusak.yaml: baris prosedur ke-2: 'no' harus bilangan bulat positif" in str(error)


def test_an_unknown_office_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["kantor"] = "surabaya"
    error = refused(sop_dir(tmp_path, rusak=data))
    assert str(error) == (
        "rusak.yaml: kantor 'surabaya' tidak ada di offices.yaml (ada: lumajang, kolaka)"
    )


def test_bad_yaml_is_refused(tmp_path: Path) -> None:
    error = refused(sop_dir(tmp_path, rusak="kode: uji\nprosedur: [\n  - no: 1\n"))
    assert str(error).startswith("rusak.yaml: bukan YAML yang sah")


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    error = refused(sop_dir(tmp_path, rusak="- satu\n- dua\n"))
    assert str(error).startswith("rusak.yaml: isi berkas harus pemetaan YAML")


def test_yaml_1_1_booleans_stay_text(tmp_path: Path) -> None:
    """The Norway problem: `no:` is the step number key, and yes/no/on/off stay words."""
    text = """\
kode: norwegia
kantor: lumajang
nama_sop: yes
prosedur:
  - no: 1
    kegiatan: on
    pelaksana: Staf
    waktu: 3 menit
    output: no
  - no: 2
    kegiatan: off
    pelaksana: Kasi
    waktu: 1 Hari
    keterangan: NO
"""
    _, sops = load_sop_dir(sop_dir(tmp_path, norwegia=text))
    sop = sops[0]
    assert [s.number for s in sop.steps] == [1, 2]
    assert sop.name == "yes"
    assert sop.step(1).activity == "on"
    assert sop.step(1).output == "no"
    assert sop.step(2).activity == "off"
    assert sop.step(2).note == "NO"


def test_the_same_sop_code_in_two_files_is_refused(tmp_path: Path) -> None:
    error = refused(sop_dir(tmp_path, a_pertama=VALID, b_kedua=VALID))
    assert str(error) == "b_kedua.yaml: kode SOP 'uji-sop' sudah dipakai di a_pertama.yaml"


def test_internal_sop_cannot_return_to_a_requester(tmp_path: Path) -> None:
    data = variant(s2={"aksi": [{"kode": "ok", "jenis": "teruskan"},
                                {"kode": "kembali", "jenis": "kembalikan", "ke": "pemohon"}]})
    data["dimulai_oleh"] = "Kadis"
    data["prosedur"][0]["pelaksana"] = "Kadis"
    error = refused(sop_dir(tmp_path, rusak=data))
    assert error.step == 2
    assert "tak bisa dikembalikan ke pemohon" in str(error)


def test_internal_sop_must_be_started_by_the_first_steps_role(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["dimulai_oleh"] = "Kadin"
    error = refused(sop_dir(tmp_path, rusak=data))
    assert error.step == 1
    assert "dimulai_oleh harus peran pelaksana langkah pertama" in str(error)


def test_missing_offices_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "uji.yaml").write_text(yaml.safe_dump(VALID), encoding="utf-8")
    error = refused(tmp_path)
    assert str(error).startswith("offices.yaml: tidak dapat dibaca")


def test_an_office_with_an_unknown_timezone_is_refused(tmp_path: Path) -> None:
    (tmp_path / "offices.yaml").write_text(
        "kantor:\n  - kode: lumajang\n    zona_waktu: Asia/Lumajang\n", encoding="utf-8"
    )
    error = refused(tmp_path)
    assert "zona_waktu 'Asia/Lumajang' tidak dikenal" in str(error)


# -- what the SOP authoring issue asks of the checker -----------------------------------------
# Each refusal names the file, the step, what is wrong and what would fix it.


@pytest.mark.parametrize(
    ("changes", "step", "wrong", "fix"),
    [
        ({"s2": {"pelaksana": "Bupati"}}, 2, "peran 'Bupati' tidak dikenal",
         "gunakan Kadis/Kadin, Sekdis/Sekdin, Kabid, Kasi, Staf/Petugas atau Tim"),
        ({"s2": {"waktu": "sebentar"}}, 2, "waktu 'sebentar' tidak dapat dibaca",
         "tulis angka lalu satuan, mis. '5 menit'"),
        ({"s3": {"waktu": ""}}, 3, "waktu '' tidak dapat dibaca", "'2 jam' atau '1 hari'"),
        (
            {"s2": {"aksi": [{"kode": "ok", "jenis": "teruskan"},
                             {"kode": "kembali", "jenis": "kembalikan", "ke": 7}]}},
            2,
            "langkah tujuan 7 tidak ada (langkah yang ada: 1-3)",
            "ubah 'ke' menjadi nomor salah satu langkah itu",
        ),
        (
            {"s1": {"aksi": [{"kode": "lompat", "jenis": "teruskan", "ke": 3}]}},
            2,
            "langkah [2] tidak dapat dicapai dari langkah 1",
            "periksa 'ke' pada aksi teruskan",
        ),
        (
            {"s2": {"aksi": [{"kode": "kembali", "jenis": "kembalikan", "ke": 1}]}},
            2,
            "keputusan tanpa jalan lanjut",
            "tambahkan aksi untuk jalan 'jika sesuai' (mis. jenis: paraf)",
        ),
        (
            {"s2": {"aksi": [{"kode": "kembali", "jenis": "kembalikan"}]}},
            2,
            "pengembalian perlu 'ke'",
            "nomor langkah atau pemohon",
        ),
    ],
)
def test_each_refusal_says_what_is_wrong_and_how_to_fix_it(
    tmp_path: Path, changes: dict, step: int, wrong: str, fix: str
) -> None:
    error = refused(sop_dir(tmp_path, rusak=variant(**changes)))
    assert (error.file, error.step) == ("rusak.yaml", step)
    assert wrong in error.detail
    assert fix in error.detail


DECISION_TEXT = (
    "Menerima, mengoreksi konsep, jika tidak sesuai dikembalikan ke kepala seksi untuk "
    "diperbaiki jika sesuai diparaf koordinasi dan diteruskan"
)


@pytest.mark.parametrize(
    "kegiatan",
    [
        DECISION_TEXT,
        "Meneliti naskah JIKA TIDAK SESUAI DIKEMBALIKAN untuk diperbaiki",
        "Meneliti naskah, apabila belum sesuai, dikembalikan untuk diperbaiki",
        "Meneliti naskah jika tidak\n  sesuai maka dikembalikan",
    ],
)
def test_a_step_whose_text_returns_the_work_must_offer_a_return(
    tmp_path: Path, kegiatan: str
) -> None:
    """The paper SOP draws a decision there; a step with only 'teruskan' would hide it."""
    data = variant(s2={"kegiatan": kegiatan, "aksi": [{"kode": "paraf", "jenis": "paraf"}]})
    error = refused(sop_dir(tmp_path, rusak=data))
    assert (error.file, error.step) == ("rusak.yaml", 2)
    assert "kegiatan menyebut 'jika tidak sesuai dikembalikan'" in error.detail
    assert "tambahkan aksi jenis: kembalikan dengan 'ke: <nomor langkah>'" in error.detail


def test_the_return_wording_is_checked_on_default_actions_too(tmp_path: Path) -> None:
    data = variant(s2={"kegiatan": DECISION_TEXT})
    del data["prosedur"][1]["aksi"]  # the default: one 'teruskan' button
    error = refused(sop_dir(tmp_path, rusak=data))
    assert error.step == 2
    assert "tidak ada aksi 'kembalikan'" in error.detail


def test_a_step_whose_text_returns_the_work_loads_with_both_ways(tmp_path: Path) -> None:
    data = variant(s2={"kegiatan": DECISION_TEXT, "aksi": [
        {"kode": "paraf", "jenis": "paraf"},
        {"kode": "kembali", "jenis": "kembalikan", "ke": 1},
    ]})
    _, [sop] = load_sop_dir(sop_dir(tmp_path, baik=data))
    kinds = [a.kind for a in sop.step(2).actions]
    assert kinds == [ActionKind.INITIAL, ActionKind.RETURN]


def test_words_alone_do_not_make_a_decision(tmp_path: Path) -> None:
    """'dikembalikan' without 'jika tidak sesuai' (e.g. a file handed back) is no decision."""
    data = variant(s2={"kegiatan": "Berkas asli dikembalikan kepada pemohon jika sesuai"})
    del data["prosedur"][1]["aksi"]
    _, [sop] = load_sop_dir(sop_dir(tmp_path, baik=data))
    assert [a.code for a in sop.step(2).actions] == ["teruskan"]


def test_every_shipped_sop_file_passes_the_check() -> None:
    """`kimbot sop check` on sop_steps/: the Kolaka SOP (seed 001) ships next to Lumajang."""
    offices, sops = load_sop_dir(SOP_DIR)
    assert {(s.code, s.office) for s in sops} >= {
        ("lmj-layanan-kim", "lumajang"),
        ("klk-bentuk-kim", "kolaka"),
    }
    assert set(offices) == {"lumajang", "kolaka"}


def test_an_internal_sop_is_not_offered_to_members(registry: SopRegistry) -> None:
    kolaka = registry.get("klk-bentuk-kim")
    assert kolaka is not None
    assert kolaka.started_by == "kadis"
    assert kolaka not in registry.member_services()


def test_the_worked_example_in_the_sop_readme_passes_the_check(tmp_path: Path) -> None:
    """sop_steps/README.md teaches the format with a 4-step SOP; it must stay valid."""
    readme = (SOP_DIR / "README.md").read_text(encoding="utf-8")
    [example] = [block for block in readme.split("```yaml\n")[1:]
                 if "kode: lmj-contoh-liputan" in block]
    text = example.split("```", 1)[0]
    _, [sop] = load_sop_dir(sop_dir(tmp_path, lumajang_contoh_liputan=text))
    assert [s.roles for s in sop.steps] == [("staf",), ("kasi",), ("kabid",), ("tim",)]
    decision = sop.step(2)
    assert [(a.kind, a.target) for a in decision.actions] == [
        (ActionKind.INITIAL, None), (ActionKind.RETURN, 1)]
    assert sop.step(1).action("kembali").to_requester  # type: ignore[union-attr]
    for kind in ActionKind:
        assert f"`{kind.value}`" in readme
