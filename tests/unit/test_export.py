"""Agenda book and audit trail exports (XLSX, CSV), read back with openpyxl and csv."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.clock import ManualClock
from bot.db import Database
from bot.errors import BadInput
from bot.export import agenda_table, export, file_name, to_csv, to_xlsx, trail_table
from bot.i18n import Translator
from bot.models import Case, User
from bot.settings import ROOT
from bot.sop import SopRegistry
from bot.workflow import FileIn, Workflow
from handlers.cli import main
from tests.support.factories import make_member, make_official

SOP = "lmj-layanan-kim"
WIB = ZoneInfo("Asia/Jakarta")
SURAT = FileIn(kind="document", file_ref="file-1", file_name="surat_tugas.pdf",
               mime="application/pdf", size=1234, label="Surat Tugas")
PURPOSE = "Mohon pendampingan pelatihan jurnalistik; peserta 30 orang, di balai desa"
FORMULA_NOTE = "=1+1 mohon segera"


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


@pytest.fixture
def tr() -> Translator:
    return Translator(ROOT / "locales")


@pytest.fixture
def built(db: Database, workflow: Workflow, clock: ManualClock) -> None:
    """Two letters: one finished on Monday, one sent 23:30 on 30 Nov by a member since erased."""
    with db.session() as s:
        siti = make_member(s, "Siti Aminah")
        budi = make_member(s, "Budi Santoso")
        staf = make_official(s, "staf", name="Sari Wulandari")
        kadis = make_official(s, "kadis", name="Dony Fimbriyanto")
        kabid = make_official(s, "kabid", name="Hartono Wijaya")
        kasi = make_official(s, "kasi", name="Kasi Arsip")

    def press(case_id: int, at: datetime, user: User, code: str, note: str = "") -> None:
        clock.set(at)
        with db.session() as s:
            case = s.get(Case, case_id)
            assert case is not None
            workflow.act(s, case_id, user, version=case.version, action_code=code, note=note)

    clock.set(wib(23, 9))
    with db.session() as s:
        first, _ = workflow.submit_request(s, siti, SOP, subject="Pelatihan jurnalistik KIM",
                                           purpose=PURPOSE, files=[SURAT], request_key="e-1")
    assert first.id is not None
    for minute, user, code, note in [(2, staf, "terima", ""), (6, staf, "agenda", ""),
                                     (16, kadis, "dispo", FORMULA_NOTE),
                                     (17, staf, "catat", ""), (20, staf, "sampai", ""),
                                     (21, kabid, "lanjut", "Jadwalkan"),
                                     (31, staf, "layani", ""), (32, kasi, "arsip", "")]:
        press(first.id, wib(23, 9, minute), user, code, note)

    clock.set(wib(30, 23, 30))
    with db.session() as s:
        second, _ = workflow.submit_request(s, budi, SOP, subject="Liputan lomba desa",
                                            purpose="Mohon liputan", files=[SURAT],
                                            request_key="e-2")
    assert second.id is not None
    press(second.id, datetime(2026, 12, 1, 7, 35, tzinfo=WIB), staf, "kembali",
          "Surat tugas belum ditandatangani")
    with db.session() as s:  # Budi asked for his personal data to be removed (UU PDP)
        row = s.get(User, budi.id)
        assert row is not None
        row.full_name, row.kim_group, row.phone = None, None, None
        row.display_name = ""
        row.erased_at = datetime(2026, 12, 2, tzinfo=UTC)
        s.add(row)


SOP_NAME = ("Standart Pelayanan Pengembangan Dan Pemberdayaan Kelompok Informasi Masyarakat "
            "(KIM) Di Tingkat Kecamatan")
AGENDA_HEADER = ["Nomor agenda", "Tanggal diterima (WIB)", "Pengirim", "Kelompok KIM", "Perihal",
                 "Maksud dan tujuan", "SOP", "Status", "Langkah saat ini", "Selesai (WIB)"]
AGENDA_ROWS = [
    ["001/SM/DISKOMINFO-LMJ/2026", datetime(2026, 11, 23, 9, 0), "Siti Aminah",
     "KIM Sumber Rejeki", "Pelatihan jurnalistik KIM", PURPOSE, SOP_NAME, "Selesai", None,
     datetime(2026, 11, 23, 9, 32)],
    ["002/SM/DISKOMINFO-LMJ/2026", datetime(2026, 11, 30, 23, 30), "(dihapus)", None,
     "Liputan lomba desa", "Mohon liputan", SOP_NAME, "Dikembalikan ke pemohon",
     "1. Anggota KIM menemui petugas", None],
]
TRAIL_HEADER = ["Nomor agenda", "Langkah", "Waktu (WIB)", "Pelaku", "Peran", "Tindakan",
                "Catatan", "Ke langkah"]
A1, A2 = "001/SM/DISKOMINFO-LMJ/2026", "002/SM/DISKOMINFO-LMJ/2026"
TRAIL_ROWS = [
    [A1, 1, datetime(2026, 11, 23, 9, 0), "Siti Aminah", "Pemohon (anggota KIM)", "Mengajukan",
     PURPOSE, 1],
    [A1, 1, datetime(2026, 11, 23, 9, 2), "Sari Wulandari", "Staf Administrasi",
     "Terima berkas", None, 2],
    [A1, 2, datetime(2026, 11, 23, 9, 6), "Sari Wulandari", "Staf Administrasi",
     "Agendakan & teruskan ke Kadin", None, 3],
    [A1, 3, datetime(2026, 11, 23, 9, 16), "Dony Fimbriyanto", "Kepala Dinas", "Disposisikan",
     FORMULA_NOTE, 4],
    [A1, 4, datetime(2026, 11, 23, 9, 17), "Sari Wulandari", "Staf Administrasi",
     "Catat disposisi", None, 5],
    [A1, 5, datetime(2026, 11, 23, 9, 20), "Sari Wulandari", "Staf Administrasi",
     "Sampaikan ke Sekdin/Kabid", None, 6],
    [A1, 6, datetime(2026, 11, 23, 9, 21), "Hartono Wijaya", "Kepala Bidang", "Tindak lanjuti",
     "Jadwalkan", 7],
    [A1, 7, datetime(2026, 11, 23, 9, 31), "Sari Wulandari", "Staf Administrasi",
     "Pelayanan selesai", None, 8],
    [A1, 8, datetime(2026, 11, 23, 9, 32), "Kasi Arsip", "Kepala Seksi", "Arsipkan & selesai",
     None, None],
    [A2, 1, datetime(2026, 11, 30, 23, 30), "(dihapus)", "Pemohon (anggota KIM)", "Mengajukan",
     "Mohon liputan", 1],
    [A2, 1, datetime(2026, 12, 1, 7, 35), "Sari Wulandari", "Staf Administrasi",
     "Kembalikan ke pemohon", "Surat tugas belum ditandatangani", "Pemohon (anggota KIM)"],
]


def csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def read_xlsx(data: bytes) -> tuple[str, list[list[object]], object]:
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None
    return sheet.title, [list(r) for r in sheet.iter_rows(values_only=True)], sheet


def test_the_agenda_book_as_xlsx(
    db: Database, registry: SopRegistry, tr: Translator, built: None,
) -> None:
    with db.session() as s:
        name, data, rows = export(s, registry, tr, "agenda", "xlsx", "lumajang", 2026)
    assert (name, rows) == ("buku-agenda-lumajang-2026.xlsx", 2)
    title, values, sheet = read_xlsx(data)
    assert title == "Buku Agenda"
    assert values == [AGENDA_HEADER, *AGENDA_ROWS]
    assert all(cell.font.b for cell in sheet[1])  # type: ignore[attr-defined]
    assert not sheet["A2"].font.b  # type: ignore[index]
    received = sheet["B3"]  # type: ignore[index]
    assert received.is_date
    assert received.value == datetime(2026, 11, 30, 23, 30)  # 16:30 UTC, the WIB date
    assert received.number_format == "yyyy-mm-dd hh:mm"
    assert sheet.freeze_panes == "A2"  # type: ignore[attr-defined]
    widths = sheet.column_dimensions  # type: ignore[attr-defined]
    assert widths["A"].width == len("001/SM/DISKOMINFO-LMJ/2026") + 2
    assert widths["E"].width == len("Pelatihan jurnalistik KIM") + 2
    assert widths["F"].width == widths["G"].width == 60  # long texts: capped


def test_the_agenda_book_as_csv(
    db: Database, registry: SopRegistry, tr: Translator, built: None,
) -> None:
    with db.session() as s:
        name, data, _ = export(s, registry, tr, "agenda", "csv", "lumajang", 2026)
    assert name == "buku-agenda-lumajang-2026.csv"
    assert data.startswith(b"\xef\xbb\xbfNomor agenda;Tanggal diterima (WIB);Pengirim;")
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows == [AGENDA_HEADER, *[[csv_text(v) for v in row] for row in AGENDA_ROWS]]
    assert rows[1][1] == "2026-11-23 09:00"


def test_the_trail_in_both_formats(
    db: Database, registry: SopRegistry, tr: Translator, built: None,
) -> None:
    with db.session() as s:
        _, xlsx, count = export(s, registry, tr, "jejak", "xlsx", "lumajang", 2026)
        _, data, _ = export(s, registry, tr, "trail", "CSV", "lumajang", 2026)
    assert count == len(TRAIL_ROWS)
    title, values, sheet = read_xlsx(xlsx)
    assert title == "Jejak Disposisi"
    assert values == [TRAIL_HEADER, *TRAIL_ROWS]
    # A note typed as "=..." stays text, never a formula.
    note = sheet["G5"]  # type: ignore[index]
    assert (note.value, note.data_type) == (FORMULA_NOTE, "s")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    expected = [[csv_text(v) for v in row] for row in TRAIL_ROWS]
    expected[3][6] = "'" + FORMULA_NOTE  # a spreadsheet must not run it
    assert rows == [TRAIL_HEADER, *expected]


def test_english_headers_and_other_years_or_offices(
    db: Database, registry: SopRegistry, tr: Translator, built: None,
) -> None:
    with db.session() as s:
        table = agenda_table(s, registry, tr, "lumajang", 2026, "en")
        assert trail_table(s, registry, tr, "lumajang", 2027).rows == []
        assert agenda_table(s, registry, tr, "kolaka", 2026).rows == []
        kolaka = trail_table(s, registry, tr, "kolaka", 2026, "en")
    assert table.header[:3] == ["Agenda number", "Received (WIB)", "Sender"]
    assert [r[2] for r in table.rows] == ["Siti Aminah", "(erased)"]
    assert [r[7] for r in table.rows] == ["Finished", "Returned to the requester"]
    assert kolaka.header[2] == "Time (WITA)"
    assert to_csv(kolaka) == ("\ufeff" + ";".join(kolaka.header) + "\r\n").encode()
    _, values, _ = read_xlsx(to_xlsx(kolaka))
    assert values == [kolaka.header]


@pytest.mark.parametrize(
    ("kind", "fmt", "office", "key"),
    [("buku", "xlsx", "lumajang", "export.usage"), ("agenda", "pdf", "lumajang", "export.usage"),
     ("agenda", "csv", "malang", "report.unknown_office")],
)
def test_unknown_exports_are_refused(
    db: Database, registry: SopRegistry, tr: Translator, kind: str, fmt: str, office: str,
    key: str,
) -> None:
    with pytest.raises(BadInput) as info, db.session() as s:
        export(s, registry, tr, kind, fmt, office, 2026)
    assert info.value.key == key


def test_file_names() -> None:
    assert file_name("agenda", "xlsx", "lumajang", 2026) == "buku-agenda-lumajang-2026.xlsx"
    assert file_name("trail", "csv", "kolaka", 2027) == "jejak-disposisi-kolaka-2027.csv"


def test_the_cli_writes_the_export(
    db: Database, built: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "agenda", "--year", "2026"]) == 0
    written = tmp_path / "buku-agenda-lumajang-2026.xlsx"
    assert read_xlsx(written.read_bytes())[1] == [AGENDA_HEADER, *AGENDA_ROWS]
    assert "buku-agenda-lumajang-2026.xlsx: 2" in capsys.readouterr().out

    out = tmp_path / "trail.csv"
    assert main(["export", "trail", "--format", "csv", "--office", "lumajang", "--year", "2026",
                 "-o", str(out), "--lang", "en"]) == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Agenda number", "Step", "Time (WIB)", "Actor", "Role", "Action", "Note",
                       "To step"]
    assert len(rows) == 1 + len(TRAIL_ROWS)

    assert main(["export", "agenda", "--office", "malang"]) == 1
    assert "malang" in capsys.readouterr().err
