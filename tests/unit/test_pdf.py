"""The printable lembar disposisi: built through the core, read back with pypdf."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.clock import ManualClock
from bot.db import Database
from bot.errors import NotFound
from bot.i18n import Translator
from bot.models import Case, DocumentVersion, TeamMember, User
from bot.pdf import letterhead, render_disposition_pdf, winansi
from bot.settings import ROOT
from bot.sop import SopRegistry
from bot.workflow import MAX_NOTE, MAX_PURPOSE, FileIn, Workflow
from handlers.cli import main
from tests.support.factories import make_member, make_official

SOP = "lmj-layanan-kim"
AGENDA = "001/SM/DISKOMINFO-LMJ/2026"
PRINTED = datetime(2026, 11, 27, 8, 15, tzinfo=UTC)  # Friday 15.15 WIB
LONG_NOTE = (
    "Kabid KIP mohon ditindaklanjuti dengan menyiapkan pelatihan jurnalistik warga bagi "
    "anggota KIM Sumber Rejeki, berkoordinasi dengan camat Tempeh dan kepala desa, "
    "menyiapkan narasumber dari redaksi media lokal, moderator dari bidang IKP, ruang "
    "pertemuan, daftar hadir, konsumsi, serta melaporkan hasil pelaksanaan paling lambat "
    "tiga hari kerja setelah kegiatan selesai kepada Kepala Dinas melalui Sekretaris."
)
DASH_NOTE = "Surat tugas sudah ditandatangani – mohon dicek, Pak’e 👍"
RETURN_NOTE = "Lembar disposisi belum diisi — lengkapi nomor surat"


@pytest.fixture
def tr() -> Translator:
    return Translator(ROOT / "locales")


@dataclass
class Built:
    case_id: int
    names: list[str]


def _press(db: Database, wf: Workflow, case_id: int, user: User, code: str,
           note: str = "") -> None:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        wf.act(s, case_id, user, version=case.version, action_code=code, note=note)


def build_case(db: Database, wf: Workflow, clock: ManualClock, *, cycles: int = 0) -> Built:
    """A request returned to the member, corrected, returned by the Kadin, then disposed."""
    with db.session() as s:
        member = make_member(s, "Siti Aminah")
        staf_a = make_official(s, "staf", name="Sari Wulandari")
        staf_b = make_official(s, "staf", name="Bambang Hermanto")
        kadis = make_official(s, "kadis", name="Dony Fimbriyanto")
        kabid = make_official(s, "kabid", name="Hartono Wijaya")
        case, _ = wf.submit_request(
            s, member, SOP, subject="Pelatihan jurnalistik KIM",
            purpose="Mohon pendampingan pelatihan jurnalistik untuk KIM Tempeh",
            files=[FileIn(kind="document", file_ref="f-1", file_name="surat_tugas.pdf",
                          mime="application/pdf", size=10, label="Surat Tugas")],
            request_key="pdf-1")
    assert case.id is not None
    case_id = case.id

    def step(user: User, code: str, note: str = "") -> None:
        clock.advance(timedelta(minutes=7))
        _press(db, wf, case_id, user, code, note)

    step(staf_b, "kembali", "Surat tugas belum ditandatangani")
    clock.advance(timedelta(minutes=30))
    with db.session() as s:
        current = s.get(Case, case_id)
        assert current is not None
        wf.resubmit(s, case_id, member, version=current.version, note=DASH_NOTE, files=[])
    step(staf_a, "terima")
    step(staf_b, "agenda")
    step(kadis, "kembali", RETURN_NOTE)
    for _ in range(cycles):
        step(staf_b, "agenda")
        step(kadis, "kembali", "Perbaiki lagi")
    step(staf_b, "agenda")
    step(kadis, "dispo", LONG_NOTE)
    step(staf_a, "catat")
    step(staf_a, "sampai")
    step(kabid, "lanjut", "Jadwalkan pelatihan")
    return Built(case_id, ["Siti Aminah", "Sari Wulandari", "Bambang Hermanto",
                           "Dony Fimbriyanto", "Hartono Wijaya"])


def render(db: Database, registry: SopRegistry, tr: Translator, case_id: int,
           language: str = "id") -> bytes:
    with db.session() as s:
        return render_disposition_pdf(s, registry, tr, case_id, language, now=PRINTED)


def pages(data: bytes) -> list[str]:
    """Each page's text with whitespace runs (wrapped lines) collapsed to one space."""
    reader = PdfReader(BytesIO(data))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def test_the_sheet_shows_the_letter_and_every_step(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock, tr: Translator,
) -> None:
    built = build_case(db, workflow, clock)
    data = render(db, registry, tr, built.case_id)
    assert data.startswith(b"%PDF")
    text = " ".join(pages(data))
    for expected in ["PEMERINTAH KABUPATEN LUMAJANG", "DINAS KOMUNIKASI DAN INFORMATIKA",
                     "LEMBAR DISPOSISI", AGENDA, "Nomor agenda", "Tanggal diterima",
                     "Siti Aminah — KIM Sumber Rejeki", "Pelatihan jurnalistik KIM",
                     "Mohon pendampingan pelatihan jurnalistik untuk KIM Tempeh",
                     "427.53/4/01.01/2018", "Instruksi / Catatan", "Tanggal & jam",
                     LONG_NOTE, RETURN_NOTE,
                     "Surat tugas sudah ditandatangani – mohon dicek, Pak’e",
                     "Jadwalkan pelatihan", "Kepala Dinas", "Pemohon (anggota KIM)",
                     "mengembalikan untuk diperbaiki kepada pemohon",
                     "mengembalikan untuk diperbaiki ke langkah 2",
                     "Jumlah berkas: 1", "Halaman 1 dari 1",
                     "Dicetak Jumat, 27 Nov 2026 15.15 WIB"]:
        assert expected in text, expected
    for name in built.names:
        assert name in text
    # Times in the office's zone (WIB): received Monday 09.00, not 02.00 UTC.
    assert "Tanggal diterima Senin, 23 Nov 2026 09.00 WIB" in text
    assert "Senin, 23 Nov 2026 09.07 WIB" in text  # the first return
    assert "02.00" not in text
    assert "👍" not in text


def test_the_english_sheet_has_english_labels(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock, tr: Translator,
) -> None:
    built = build_case(db, workflow, clock)
    text = " ".join(pages(render(db, registry, tr, built.case_id, "en")))
    for expected in ["LEMBAR DISPOSISI", "Agenda number", "Date received", "From", "Subject",
                     "Disposition trail", "Instruction / Note", "Date & time", "Official",
                     "Head of", "returned for correction", "Page 1 of 1", "Printed",
                     "Mon 23 Nov 2026, 09:00 WIB", AGENDA, LONG_NOTE]:
        assert expected in text, expected
    for indonesian in ["Tanggal diterima", "Perihal", "Halaman", "Dicetak"]:
        assert indonesian not in text


def test_a_long_trail_runs_over_pages_with_the_header_repeated(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock, tr: Translator,
) -> None:
    built = build_case(db, workflow, clock, cycles=28)
    data = render(db, registry, tr, built.case_id)
    texts = pages(data)
    assert len(texts) >= 3
    for number, text in enumerate(texts, start=1):
        assert "Instruksi / Catatan" in text
        assert "Tanggal & jam" in text
        assert f"Halaman {number} dari {len(texts)}" in text
    everything = " ".join(texts)
    assert everything.count("Perbaiki lagi") == 28
    assert LONG_NOTE in everything


def test_documents_and_team_are_listed(
    db: Database, workflow: Workflow, registry: SopRegistry, clock: ManualClock, tr: Translator,
) -> None:
    built = build_case(db, workflow, clock)
    at = clock.now()
    with db.session() as s:
        writer = make_official(s, "tim", name="Agus Salim")
        other = make_official(s, "tim", name="Nur Hidayah")
        gone = make_official(s, "tim", name="Yanto Dipindah")
        assert writer.id is not None
        assert other.id is not None
        assert gone.id is not None
        for version, title in [(1, "Konsep laporan"), (2, "Laporan hasil pelayanan")]:
            s.add(DocumentVersion(case_id=built.case_id, version=version, step_no=7,
                                  title=title, kind="document", file_ref=f"doc-{version}",
                                  uploaded_by=writer.id, created_at=at))
        for user_id, removed in [(writer.id, None), (other.id, None), (gone.id, at)]:
            s.add(TeamMember(case_id=built.case_id, user_id=user_id, duty_date=date(2026, 12, 1),
                             assigned_by=writer.id, created_at=at, removed_at=removed))
    text = " ".join(pages(render(db, registry, tr, built.case_id)))
    assert "Versi dokumen terakhir: v2 – Laporan hasil pelayanan" in text
    assert "Konsep laporan" not in text
    assert "Tim yang ditugaskan" in text
    assert "Agus Salim – bertugas 1 Des 2026" in text
    assert "Nur Hidayah" in text
    assert "Yanto Dipindah" not in text


def test_an_unknown_case_is_not_found(
    db: Database, registry: SopRegistry, tr: Translator,
) -> None:
    with db.session() as s, pytest.raises(NotFound):
        render_disposition_pdf(s, registry, tr, 999, "id")


def test_text_outside_winansi_is_mapped_or_dropped() -> None:
    assert winansi("a – b — c ’ d “e” … é") == "a – b — c ’ d “e” … é"
    assert winansi("Siap 👍🏽 ✅ → lanjut ≥ 2") == "Siap   -> lanjut >= 2"
    assert winansi("Kőszeg\tĀ\u00a0x") == "Koszeg A x"
    assert winansi("中文") == ""


@pytest.mark.parametrize(("name", "lines"), [
    ("Dinas Komunikasi dan Informatika Kabupaten Lumajang",
     ("PEMERINTAH KABUPATEN LUMAJANG", "DINAS KOMUNIKASI DAN INFORMATIKA")),
    ("Dinas Kominfo Kota Jayapura", ("PEMERINTAH KOTA JAYAPURA", "DINAS KOMINFO")),
    ("Diskominfo Papua", ("", "DISKOMINFO PAPUA")),
])
def test_the_letterhead_comes_from_the_office_name(name: str, lines: tuple[str, str]) -> None:
    assert letterhead(name) == lines


def test_the_cli_writes_the_sheet(
    db: Database, workflow: Workflow, clock: ManualClock, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    build_case(db, workflow, clock)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.chdir(tmp_path)
    assert main(["pdf", AGENDA]) == 0
    written = tmp_path / "001-SM-DISKOMINFO-LMJ-2026.pdf"
    assert AGENDA in " ".join(pages(written.read_bytes()))
    assert str(written.name) in capsys.readouterr().out

    out = tmp_path / "sheet.pdf"
    assert main(["pdf", AGENDA, "-o", str(out), "--lang", "en"]) == 0
    assert "Agenda number" in " ".join(pages(out.read_bytes()))

    assert main(["pdf", "999/SM/DISKOMINFO-LMJ/2026"]) == 1
    assert "999/SM/DISKOMINFO-LMJ/2026" in capsys.readouterr().err


def test_awkward_text_renders_as_typed(
    db: Database, workflow: Workflow, registry: SopRegistry, tr: Translator,
) -> None:
    """Markup characters, line breaks, emojis, the longest purpose and an unbroken note."""
    purpose = "Tolong <b>cek</b> & balas: 1 < 2 > 0\nBaris kedua 🙏 " + "kata " * 380
    with db.session() as s:
        member = make_member(s, "Ni Luh Putu Ayu 🌸")
        staf = make_official(s, "staf", name="Ahmad")
        case, _ = workflow.submit_request(s, member, SOP, subject="Uji <i>cetak</i>",
                                          purpose=purpose[:MAX_PURPOSE], files=[],
                                          request_key="pdf-awkward")
    assert case.id is not None
    _press(db, workflow, case.id, staf, "kembali", "x" * MAX_NOTE)
    text = " ".join(pages(render(db, registry, tr, case.id)))
    assert "Tolong <b>cek</b> & balas: 1 < 2 > 0 Baris kedua" in text
    assert "Uji <i>cetak</i>" in text
    assert "Ni Luh Putu Ayu — KIM Sumber Rejeki" in text
    assert text.replace(" ", "").count("x" * 200) >= 1
