"""Turn an SOP in the PermenPAN-RB table text form into a DRAFT SOP YAML.

The text form is what a signed SOP becomes when copied out of a document: header lines
("Nomor SOP<TAB>…", "Judul SOP"/"Nama SOP", "Disahkan oleh", "Dasar Hukum …"), then the procedure
table, one tab-separated row per step (No | Kegiatan | one column per role | Kelengkapan | Waktu |
Output | Keterangan). The importer never guesses silently: whatever it could not read for sure
(an actor inferred from the wording, a Waktu it cannot parse, a return target, a line it does
not know) becomes a `Finding`, printed and written as `# PERIKSA: …` at the spot in the YAML.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.roles import ROLES, SUPERVISOR, canonical_role
from bot.sop.loader import SopError, load_sop_file
from bot.sop.model import REQUESTER, Office, Sop
from bot.sop.waktu import parse_waktu

ROLE_ORDER: tuple[str, ...] = tuple(ROLES)
SHORT: dict[str, str] = {
    "kadis": "Kadis", "sekdis": "Sekdis", "kabid": "Kabid", "kasi": "Kasi", "staf": "Staf",
    "tim": "Tim",
}

# -- header -------------------------------------------------------------------------------

# "label<TAB>value" lines of the header block, and the YAML key each fills.
_FIELDS: dict[str, str] = {
    "nomor sop": "nomor_sop",
    "no sop": "nomor_sop",
    "tanggal pembuatan": "tanggal_pembuatan",
    "tgl pembuatan": "tanggal_pembuatan",
    "tanggal revisi": "tanggal_revisi",
    "tgl revisi": "tanggal_revisi",
    "tanggal efektif": "tanggal_efektif",
    "tgl efektif": "tanggal_efektif",
    "tanggal pengesahan": "tanggal_pengesahan",
    "tgl pengesahan": "tanggal_pengesahan",
    "disahkan oleh": "disahkan_oleh",
    "judul sop": "nama_sop",
    "nama sop": "nama_sop",
}
# Sections whose label may share a cell with its content ("Dasar Hukum 1. …") or stand alone
# with the content on the next line (Lumajang: "DASAR HUKUM<TAB>KUALIFIKASI PELAKSANA").
_SECTIONS: tuple[tuple[str, str], ...] = (
    ("pencatatan dan pendataan", "pencatatan"),
    ("peralatan/perlengkapan", "peralatan"),
    ("peralatan / perlengkapan", "peralatan"),
    ("kualifikasi pelaksana", "kualifikasi_pelaksana"),
    ("dasar hukum", "dasar_hukum"),
    ("keterkaitan", "keterkaitan"),
    ("peringatan", "peringatan"),
    ("perlengkapan", "peralatan"),
    ("peralatan", "peralatan"),
    ("pencatatan", "pencatatan"),
)
_TEXT_SECTIONS = {"peringatan"}  # one paragraph; the others are lists
_LETTERHEAD = re.compile(
    r"^(pemerintah|dinas|badan|bidang|bagian|sub ?bagian|seksi|kasi\b|kepala seksi|upt|"
    r"sekretariat|kantor)", re.IGNORECASE)
_TITLE = re.compile(r"^(prosedur|diagram alir|flow ?chart|flowcart|bagan alir)\b", re.IGNORECASE)
_REGION = re.compile(r"\b(?:kabupaten|kota|provinsi)\s+([a-z][a-z ]*)", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")

# -- table --------------------------------------------------------------------------------

_ROW_NUMBER = re.compile(r"^\s*(\d{1,3})\s*\.?\s*$")
_BOX = set("□■☐☑▢◻◼⬜▪▫")
_DIAMOND = set("◇◆◊♢⬦⬥")
_TICKS = {"x", "v", "✓", "✔", "√"}
_ARROWS = {"↓": "down", "↑": "up", "←": "left", "→": "right", "⇓": "down", "⇑": "up",
           "⇐": "left", "⇒": "right"}
_DECISION_WORDS = {"ya", "tidak", "yes", "no"}
_TIME_UNITS = ("menit", "mnt", "jam", "hari", "minggu", "pekan", "bulan", "detik", "minute",
               "minutes", "hour", "hours", "day", "days", "week", "weeks")
_TIME_CELL = re.compile(
    r"^\s*(?:±|\+/-|kurang lebih|kurang-lebih|maks\.?|maksimal|paling lama)?\s*"
    r"\d+(?:[.,]\d+)?(?:\s*(?:-|–|s/d|sampai)\s*\d+)?\s*(?:\([^)]*\)\s*)?"
    r"(" + "|".join(_TIME_UNITS) + r")\b", re.IGNORECASE)

# Where several marked boxes share a row, what the activity says decides who acts.
_LEADER_WORDS = ("pengecekan", "memeriksa", "pemeriksaan", "meneliti", "penelitian",
                 "mengoreksi", "menelaah", "mendisposisikan", "memerintahkan",
                 "menandatangani", "penandatanganan", "tindak lanjut", "menindaklanjuti",
                 "menyetujui", "persetujuan", "mengesahkan", "memutuskan")
_CLERK_WORDS = ("penerimaan", "pencatatan", "mencatat", "penyampaian", "menyampaikan",
                "mengetik", "pengetikan", "mendaftarkan", "pendaftaran", "mengagendakan",
                "pengagendaan", "mendistribusikan", "pendistribusian", "menemui petugas",
                "mengirim", "pengiriman")
# Activities that are office-clerk work wherever they appear (seed 001 has no marks).
_CLERK_VERBS = ("mengetik", "mendaftarkan", "mengagendakan", "mencatat", "pencatatan",
                "mendistribusikan", "mengarsipkan", "pengarsipan", "mendokumentasikan",
                "menggandakan", "memfotokopi")
_REQUESTER_WORDS = ("anggota kim", "pemohon", "menemui petugas", "pelanggan")

_ROLE_WORDS: dict[str, str] = {
    "kepala dinas": "kadis", "kadis": "kadis", "kadin": "kadis",
    "sekretaris dinas": "sekdis", "sekretaris": "sekdis", "sekdis": "sekdis", "sekdin": "sekdis",
    "kepala bidang": "kabid", "kabid": "kabid",
    "kepala seksi": "kasi", "kasi": "kasi",
    "staf administrasi": "staf", "staff administrasi": "staf", "staf": "staf", "staff": "staf",
    "petugas": "staf", "tim": "tim", "atasan": "atasan",
}
_ROLE_RX = "|".join(sorted((re.escape(w) for w in _ROLE_WORDS), key=len, reverse=True))
_HANDOFF = re.compile(r"\b(?:ke\s+kepada|kepada|ke)\s+(" + _ROLE_RX + r")\b", re.IGNORECASE)
_ORDER = re.compile(r"\b(?:memerintahkan|menugaskan|mengatur)\s+(" + _ROLE_RX + r")\b",
                    re.IGNORECASE)
_RETURN_TO = re.compile(r"\bdikembalikan\s+(?:lagi\s+)?(?:ke\s+kepada|kepada|ke)\s+("
                        + _ROLE_RX + r"|pemohon|anggota kim)\b", re.IGNORECASE)
_CLAUSES = re.compile(r"\b(?:jika|apabila|bila|kalau)\b|[,;]", re.IGNORECASE)
_DECISION = re.compile(r"\b(?:jika|apabila|bila|kalau)\b.*\bdikembalikan\b|"
                       r"\bdikembalikan\b.*\b(?:jika|apabila|bila|kalau)\b", re.IGNORECASE)
_ON_OK = re.compile(r"\b(?:jika|apabila|bila|kalau)\s+(?:sudah\s+)?sesuai\b(.*)$",
                    re.IGNORECASE)
# The Kepala Dinas commands the Kepala Bidang (the Sekretaris coordinates, does not command).
_COMMANDER = {"kabid": "kadis", "sekdis": "kadis"}

# Kelengkapan items that are written side by side without a comma in the seeds.
_ITEMS = ("buku agenda surat masuk", "buku agenda", "lembar disposisi", "surat masuk",
          "surat keluar", "surat tugas", "print out berita", "disposisi", "narasumber",
          "moderator", "konsep naskah dinas", "naskah dinas", "agenda kerja", "bahan laporan",
          "konsep akhir laporan", "konsep laporan", "laporan akhir", "dokumentasi", "file")
_STOPWORDS = {"di", "dan", "yang", "sop", "standar", "standart", "standard", "kabupaten", "kota",
              "tingkat", "bagi", "untuk", "dalam", "pada", "ke", "dari", "the", "of", "ap",
              "kabupaten/kota", "provinsi"}


@dataclass(frozen=True)
class Finding:
    """Something the importer could not decide; the clerk must check it (PERIKSA)."""

    message: str
    step: int | None = None
    field: str = ""  # the YAML key the comment is written above ("" = top of the file)
    line: int | None = None  # line number in the text
    kind: str = ""  # "actor": the actor was inferred from the wording (no mark in the row)

    def __str__(self) -> str:
        where = f"langkah {self.step}" if self.step is not None else (
            f"baris {self.line}" if self.line is not None else "kepala SOP")
        what = f" ({self.field})" if self.field else ""
        return f"PERIKSA {where}{what}: {self.message}"


@dataclass
class _Column:
    index: int  # position among the role cells (0 = first role column)
    name: str  # as printed ("Sekdin/Kabid")
    roles: tuple[str, ...]


@dataclass
class _Row:
    number: int
    line: int
    activity: str
    role_cells: list[str]
    kelengkapan: str = ""
    waktu: str = ""
    output: str = ""
    keterangan: str = ""


@dataclass
class _Step:
    number: int
    activity: str
    roles: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    kelengkapan: list[str] = field(default_factory=list)
    waktu: str = ""
    output: str = ""
    keterangan: str = ""
    penafsiran: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ImportResult:
    """The draft (as YAML text and as data) and everything to check before using it."""

    yaml_text: str
    data: dict[str, Any]
    findings: list[Finding]

    @property
    def inferred_steps(self) -> list[int]:
        """Steps whose actor was inferred from the wording (no mark in the table)."""
        return sorted({f.step for f in self.findings if f.step is not None and f.kind == "actor"})


class _Importer:
    def __init__(self, offices: dict[str, Office] | None, office: str | None,
                 code: str | None) -> None:
        self.offices = offices or {}
        self.office = office
        self.code = code
        self.findings: list[Finding] = []
        self.header: dict[str, Any] = {}
        self.letterhead: list[str] = []
        self.columns: list[_Column] = []
        self.rows: list[_Row] = []
        self.spelling: dict[str, str] = {}

    def note(self, message: str, step: int | None = None, field: str = "",
             line: int | None = None, kind: str = "") -> None:
        self.findings.append(Finding(message, step, field, line, kind))

    # -- reading ------------------------------------------------------------------------

    def read(self, text: str) -> None:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        pending: list[str] = []  # section keys whose content is on the next line
        in_table = False
        expect_roles = False
        for number, raw in enumerate(lines, start=1):
            clean = html.unescape(_TAGS.sub(" ", raw)).replace("\xa0", " ")
            cells = [" ".join(c.split()) for c in clean.split("\t")]
            if not any(cells):
                continue
            if in_table:
                if expect_roles:
                    expect_roles = False
                    if self._role_header(cells, number):
                        continue
                self._table_line(cells, number)
                continue
            if self._is_table_header(cells):
                in_table = True
                expect_roles = not self._role_header(cells, number, quiet=True)
                continue
            if pending:
                contents = [c for c in cells if c]
                if len(contents) <= len(pending) and not self._section_cells(cells):
                    for key, content in zip(pending, contents, strict=False):
                        self._section(key, content)
                    pending = []
                    continue
                for key in pending:
                    self.note(f"bagian {key} tanpa isi", line=number)
                pending = []
            pending = self._header_line(cells, number)

    def _header_line(self, cells: list[str], number: int) -> list[str]:
        """Read one header line; return section keys whose content comes on the next line."""
        label = cells[0].lower().rstrip(":").strip()
        if label in _FIELDS:
            value = " ".join(c for c in cells[1:] if c).strip()
            self.header[_FIELDS[label]] = value
            return []
        sections = self._section_cells(cells)
        if sections:
            pending = []
            for key, content in sections:
                if content:
                    self._section(key, content)
                else:
                    pending.append(key)
            return pending
        joined = " ".join(c for c in cells if c)
        if _TITLE.match(joined):
            self.header["judul_diagram"] = joined
        elif _LETTERHEAD.match(joined) and len(cells) == 1:
            self.letterhead.append(joined)
        else:
            self.note(f"baris tidak dikenali, dilewati: {_clip(joined)!r}", line=number)
        return []

    @staticmethod
    def _section_cells(cells: list[str]) -> list[tuple[str, str]]:
        """[(key, content)] when every non-empty cell starts with a section label."""
        found: list[tuple[str, str]] = []
        for cell in (c for c in cells if c):
            low = cell.lower()
            for label, key in _SECTIONS:
                if low.startswith(label) and (len(low) == len(label) or not low[len(label)]
                                              .isalpha()):
                    found.append((key, cell[len(label):].strip(" :")))
                    break
            else:
                return []
        return found

    def _section(self, key: str, content: str) -> None:
        content = content.strip()
        if key in _TEXT_SECTIONS:
            self.header[key] = content
        else:
            self.header.setdefault(key, []).extend(split_items(content))

    @staticmethod
    def _is_table_header(cells: list[str]) -> bool:
        first = cells[0].lower().rstrip(".").strip()
        return first in ("no", "nomor") and any(c.lower() == "kegiatan" for c in cells)

    def _role_header(self, cells: list[str], number: int, *, quiet: bool = False) -> bool:
        """The line naming the role columns ("Kadis Sekdis Kabid …"); False if it is not."""
        lows = [c.lower() for c in cells]
        end = lows.index("kelengkapan") if "kelengkapan" in lows else len(cells)
        named = [(i, c) for i, c in enumerate(cells[:end]) if i >= 2 and c]
        if not any(_column_roles(c) for _, c in named):
            if not quiet:
                self.note("baris nama kolom pelaksana (Kadis, Kasi, …) tidak ditemukan; "
                          "pelaksana setiap langkah ditebak dari kegiatannya", line=number)
            return False
        self.columns = []
        for i, name in named:
            roles = _column_roles(name)
            if not roles:
                self.note(f"kolom pelaksana {name!r} bukan peran yang dikenal; tandanya "
                          "diabaikan (peran: Kadis, Sekdis, Kabid, Kasi, Staf, Tim)", line=number)
            self.columns.append(_Column(i - 2, name, roles))
            for part, role in zip(name.split("/"), roles, strict=False):
                self.spelling.setdefault(role, part.strip())
        return True

    def _table_line(self, cells: list[str], number: int) -> None:
        match = _ROW_NUMBER.match(cells[0])
        if match and len(cells) > 1:
            self.rows.append(self._row(int(match.group(1)), cells, number))
            return
        texts = [c for c in cells if c]
        if self.rows and not cells[0] and len(texts) == 1 and len(cells) > 1 and cells[1]:
            row = self.rows[-1]
            row.activity = f"{row.activity} {cells[1]}".strip()
            self.note(f"baris {number} digabung ke kegiatan langkah {row.number} (teks "
                      "terpotong?)", step=row.number, field="kegiatan", line=number)
            return
        self.note(f"baris tabel tidak dikenali, dilewati: {_clip(' | '.join(texts))!r}",
                  line=number)

    def _row(self, number: int, cells: list[str], line: int) -> _Row:
        activity = cells[1]
        rest = cells[2:]
        width = len(self.columns) if self.columns else 0
        at = next((i for i, c in enumerate(rest) if _TIME_CELL.match(c)), None)
        if at is not None and at >= 1:
            roles_part, kel = rest[: at - 1], rest[at - 1]
        elif at == 0:
            roles_part, kel = [], ""
        else:
            roles_part, kel = rest[:width], (rest[width] if len(rest) > width else "")
            at = width + 1
        tail = rest[at:] if at < len(rest) else []
        row = _Row(number, line, activity, roles_part, kelengkapan=kel,
                   waktu=tail[0] if tail else "", output=tail[1] if len(tail) > 1 else "",
                   keterangan=" ".join(c for c in tail[2:] if c))
        if any(roles_part) and self.columns and len(roles_part) != width:
            self.note(f"baris ini punya {len(roles_part)} sel pelaksana untuk {width} kolom; "
                      "tanda dibaca dari kiri, periksa kolomnya", step=number, field="pelaksana",
                      line=line)
        return row

    # -- deciding -----------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        if not self.rows:
            self.note("tabel prosedur tidak ditemukan (baris judul 'No | Kegiatan | Pelaksana "
                      "…' lalu baris bernomor); draf dibuat tanpa langkah", field="prosedur")
        steps: list[_Step] = []
        seen: set[int] = set()
        for row in self.rows:
            if row.number in seen:
                self.note(f"nomor langkah {row.number} berulang", step=row.number, field="no",
                          line=row.line)
            seen.add(row.number)
            steps.append(self._step(row, steps))
        started_by = self._started_by(steps)
        for i, step in enumerate(steps):
            self._actions(step, steps[:i], steps[i + 1] if i + 1 < len(steps) else None,
                          started_by)
        return self._data(steps, started_by)

    def _step(self, row: _Row, before: list[_Step]) -> _Step:
        step = _Step(row.number, row.activity or "", kelengkapan=self._items(row),
                     output=row.output, keterangan=row.keterangan)
        if not step.activity:
            self.note("kegiatan kosong", step=row.number, field="kegiatan", line=row.line)
        step.waktu = self._waktu(row)
        marks, labels = [], []
        for i, cell in enumerate(row.role_cells):
            if not cell:
                continue
            column = self._column(i)
            kind = _mark(cell)
            if kind is None:
                labels.append((column, cell))
            elif column is None or not column.roles:
                self.note(f"tanda {cell!r} di luar kolom peran yang dikenal; diabaikan",
                          step=row.number, field="pelaksana", line=row.line)
            else:
                marks.append((column, cell))
                if kind == "decision" and not _DECISION.search(row.activity):
                    self.note(f"kolom {column.name} bertanda keputusan (◇) tetapi kegiatannya "
                              "tidak menyebut 'jika tidak sesuai dikembalikan'; tambahkan aksi "
                              "kembalikan bila perlu", step=row.number, field="aksi",
                              line=row.line)
        for column, cell in labels:
            where = f"kolom {column.name}" if column else "kolom pelaksana"
            if cell.lower() in _DECISION_WORDS:
                self.note(f"{where} berisi {cell!r}: dibaca sebagai label cabang keputusan "
                          "(Ya/Tidak), bukan tanda pelaksana", step=row.number,
                          field="pelaksana", line=row.line)
            else:
                self.note(f"{where} berisi teks {cell!r}, bukan tanda kotak; diabaikan",
                          step=row.number, field="pelaksana", line=row.line)
        if len(marks) == 1:
            step.roles = marks[0][0].roles
            if len(step.roles) > 1:
                step.penafsiran.append(
                    f"Kolom {marks[0][0].name} digabung di SOP asli; pemegang salah satu peran "
                    "boleh bertindak.")
        elif marks:
            self._choose(step, marks, row)
        else:
            self._infer(step, before, row)
        return step

    def _column(self, index: int) -> _Column | None:
        return next((c for c in self.columns if c.index == index), None)

    def _items(self, row: _Row) -> list[str]:
        items = split_requirements(row.kelengkapan)
        if len(items) > 1 and not re.search(r"[,;]", row.kelengkapan):
            self.note(f"kelengkapan {row.kelengkapan!r} dipisah menjadi {items}",
                      step=row.number, field="kelengkapan", line=row.line)
        return items

    def _waktu(self, row: _Row) -> str:
        text = row.waktu.strip()
        try:
            parse_waktu(text)
        except ValueError:
            pass
        else:
            return text
        cleaned, why = normalise_waktu(text)
        if cleaned is not None:
            self.note(f"waktu {text!r} ditulis {cleaned!r} ({why})", step=row.number,
                      field="waktu", line=row.line)
            return cleaned
        shown = text or "(kosong)"
        self.note(f"waktu {shown!r} tidak dapat dibaca; tulis angka dan satuan (menit, jam "
                  "atau hari), mis. '2 hari'", step=row.number, field="waktu", line=row.line)
        return text

    def _choose(self, step: _Step, marks: list[tuple[_Column, str]], row: _Row) -> None:
        """Several boxes in a row: pick who acts; the others are kept informed (bersama)."""
        groups = [c.roles for c, _ in marks]
        low = step.activity.lower()
        leader = sum(w in low for w in _LEADER_WORDS)
        clerk = sum(w in low for w in _CLERK_WORDS)
        ranked = sorted(groups, key=_rank)
        if leader > clerk:
            chosen, why = ranked[0], "kegiatannya pekerjaan pimpinan: memeriksa/mendisposisikan"
        elif clerk > leader:
            chosen, why = ranked[-1], "kegiatannya pekerjaan administrasi: terima/catat/antar"
        else:
            chosen, why = self._by_arrows(marks), "arah panah di kotaknya"
        step.roles = chosen
        step.also = tuple(r for g in groups if g != chosen for r in g)
        names = ", ".join(f"{c.name} {cell}" for c, cell in marks)
        self.note(f"beberapa kotak ({names}); pelaksana dipilih {self._names(chosen)} karena "
                  f"{why}, yang lain 'bersama'", step=row.number, field="pelaksana",
                  line=row.line)
        step.penafsiran.append(
            f"Kotak di kolom {names}; pelaksana {self._names(chosen)} karena {why}; yang lain "
            "ditandai bersama.")

    @staticmethod
    def _by_arrows(marks: list[tuple[_Column, str]]) -> tuple[str, ...]:
        """The box a horizontal arrow points into acts (an arrow pointing away: its own box)."""
        receivers: list[tuple[str, ...]] = []
        for column, cell in marks:
            for ch in cell:
                way = _ARROWS.get(ch)
                if way not in ("left", "right"):
                    continue
                others = [c for c, _ in marks if (c.index < column.index if way == "left"
                                                  else c.index > column.index)]
                if others:
                    near = max(others, key=lambda c: c.index) if way == "left" else min(
                        others, key=lambda c: c.index)
                    receivers.append(near.roles)
                else:
                    receivers.append(column.roles)
        distinct = list(dict.fromkeys(receivers))
        if len(distinct) == 1:
            return distinct[0]
        return sorted((c.roles for c, _ in marks), key=_rank)[0]

    def _infer(self, step: _Step, before: list[_Step], row: _Row) -> None:
        """No box in the row: infer the actor from the wording (always PERIKSA)."""
        role, why = infer_role(step.activity, [(s.activity, s.roles) for s in before])
        step.roles = (role,)
        self.note(f"pelaksana tidak bertanda; ditebak {self._names(step.roles)} dari {why}",
                  step=row.number, field="pelaksana", line=row.line, kind="actor")
        step.penafsiran.append(
            f"Kolom Pelaksana tanpa tanda; pelaksana {self._names(step.roles)} ditafsirkan dari "
            f"{why}.")

    def _started_by(self, steps: list[_Step]) -> str:
        if not steps:
            return REQUESTER
        low = steps[0].activity.lower()
        if any(w in low for w in _REQUESTER_WORDS):
            self.note("SOP ini dimulai oleh pemohon (anggota KIM) menurut kegiatan langkah "
                      "pertama", field="dimulai_oleh")
            return REQUESTER
        role = steps[0].roles[0]
        self.note(f"SOP internal: dimulai oleh {self._names((role,))}, pelaksana langkah "
                  "pertama", field="dimulai_oleh")
        return role

    def _actions(self, step: _Step, before: list[_Step], after: _Step | None,
                 started_by: str) -> None:
        low = " ".join(step.activity.lower().split())
        next_name = self._names(after.roles) if after else ""
        if _DECISION.search(low):
            step.actions.append(self._return(step, before, low, started_by))
        ok = _ON_OK.search(low)
        if after is None:
            step.actions.insert(0, {"kode": "selesai", "jenis": "selesai",
                                    "label": {"id": "Selesai", "en": "Finish"}})
        elif step.actions and ok and "paraf" in ok.group(1):
            step.actions.insert(0, _forward("paraf", "paraf", next_name))
        elif step.actions:
            if not ok:
                self.note("keputusan tanpa jalan 'jika sesuai' tertulis; ditambah aksi "
                          f"'teruskan' ke langkah {after.number}", step=step.number,
                          field="aksi")
            step.actions.insert(0, _forward("teruskan", "teruskan", next_name))
        elif re.search(r"\b(mendisposisikan|memerintahkan|disposisi kepada)\b", low):
            step.actions.append(_forward("disposisi", "disposisi", next_name))
        elif "paraf" in low:
            step.actions.append(_forward("paraf", "paraf", next_name))
        else:
            step.actions.append(_forward("teruskan", "teruskan", next_name))

    def _return(self, step: _Step, before: list[_Step], low: str,
                started_by: str) -> dict[str, Any]:
        named = _RETURN_TO.search(low)
        target: int | str | None = None
        if named:
            word = named.group(1).lower()
            role = "pemohon" if word in ("pemohon", "anggota kim") else _ROLE_WORDS.get(word)
            if role == "pemohon" and started_by == REQUESTER:
                target = REQUESTER
            else:
                match = next((s for s in reversed(before) if role in s.roles), None)
                if match is not None:
                    target = match.number
                    step.penafsiran.append(
                        f"\"dikembalikan ke {named.group(1)}\": kembali ke langkah {match.number}, "
                        f"langkah {self._names(match.roles)} terakhir sebelum ini.")
                    if match is not before[-1]:
                        self.note(f"pengembalian \"ke {named.group(1)}\" diarahkan ke langkah "
                                  f"{match.number} (langkah {self._names(match.roles)} "
                                  "terakhir sebelum ini)", step=step.number, field="aksi")
        if target is None and before:
            target = before[-1].number
            what = (f"\"ke {named.group(1)}\" tidak cocok dengan langkah sebelumnya"
                    if named else "tujuan pengembalian tidak disebut")
            self.note(f"{what}; ditebak langkah {target} (yang mengirim ke sini)",
                      step=step.number, field="aksi")
            step.penafsiran.append(f"Tujuan pengembalian tidak disebut; dipilih langkah "
                                   f"{target}, yang mengirimnya.")
        if target is None:
            self.note("ada 'dikembalikan' di langkah pertama; tak ada langkah sebelumnya, "
                      "tulis 'ke: pemohon' atau hapus aksi kembalikan", step=step.number,
                      field="aksi")
            target = REQUESTER
        who = "pemohon" if target == REQUESTER else self._names(
            next(s.roles for s in before if s.number == target))
        return {"kode": "kembali", "jenis": "kembalikan", "ke": target, "catatan": "wajib",
                "label": {"id": f"Kembalikan ke {who}"[:40],
                          "en": f"Return to {who} to fix"[:40]}}

    def _names(self, roles: Iterable[str]) -> str:
        return "/".join(self.spelling.get(r, SHORT.get(r, r)) for r in roles)

    # -- the draft ----------------------------------------------------------------------

    def _data(self, steps: list[_Step], started_by: str) -> dict[str, Any]:
        office = self._office()
        name = str(self.header.get("nama_sop") or "").strip()
        if not name:
            self.note("Judul/Nama SOP tidak ditemukan; isi nama_sop", field="nama_sop")
        data: dict[str, Any] = {
            "kode": self._code(office, name),
            "kantor": office,
            "nomor_sop": self.header.get("nomor_sop", ""),
            "nama_sop": name,
        }
        if "judul_diagram" in self.header:
            data["judul_diagram"] = self.header["judul_diagram"]
        data["layanan"] = {"id": _service_name(name)}
        if started_by == REQUESTER:
            self.note("layanan.id adalah nama yang dipilih anggota KIM di chat: persingkat, dan "
                      "tambahkan layanan.en (bahasa Inggris)", field="layanan")
        data["dimulai_oleh"] = "pemohon" if started_by == REQUESTER else self._names(
            (started_by,))
        for key in ("tanggal_pembuatan", "tanggal_revisi", "tanggal_efektif",
                    "tanggal_pengesahan", "disahkan_oleh", "dasar_hukum",
                    "kualifikasi_pelaksana", "keterkaitan", "peralatan", "peringatan",
                    "pencatatan"):
            if key in self.header:
                data[key] = self.header[key]
        data["prosedur"] = [self._step_data(s) for s in steps]
        return data

    def _step_data(self, step: _Step) -> dict[str, Any]:
        raw: dict[str, Any] = {"no": step.number, "kegiatan": step.activity}
        raw["pelaksana"] = self._role_list(step.roles)
        if step.also:
            raw["bersama"] = [self._names((r,)) for r in step.also]
        raw["kelengkapan"] = step.kelengkapan
        raw["waktu"] = step.waktu
        raw["output"] = step.output
        raw["keterangan"] = step.keterangan
        if step.penafsiran:
            raw["penafsiran"] = " ".join(step.penafsiran)
        raw["aksi"] = step.actions
        return raw

    def _role_list(self, roles: tuple[str, ...]) -> str | list[str]:
        names = [self._names((r,)) for r in roles]
        return names[0] if len(names) == 1 else names

    def _office(self) -> str:
        if self.office:
            if self.offices and self.office not in self.offices:
                self.note(f"kantor {self.office!r} tidak ada di offices.yaml (ada: "
                          f"{', '.join(self.offices)})", field="kantor")
            return self.office
        text = " ".join(self.letterhead).lower()
        for code, office in self.offices.items():
            if code in text.split() or office.name.lower() in text or (
                    office.short_name.lower() in text):
                self.note(f"kantor ditebak {code!r} dari kop surat", field="kantor")
                return code
        region = _REGION.search(text)
        if region:
            guess = region.group(1).split()[0]
            self.note(f"kantor ditebak {guess!r} dari kop surat; pastikan ada di offices.yaml "
                      "atau pakai --office", field="kantor")
            return guess
        self.note("kantor tidak diketahui; isi 'kantor' (kode di offices.yaml) atau pakai "
                  "--office", field="kantor")
        return ""

    def _code(self, office: str, name: str) -> str:
        if self.code:
            return self.code
        words = re.sub(r"kelompok informasi masyarakat\s*\(kim\)", "kim", name.lower())
        words = re.sub(r"[^a-z0-9 ]+", " ", words)
        parts = [w for w in words.split() if w not in _STOPWORDS]
        code = (office[:3] or "sop") if office else "sop"
        for part in parts:
            if len(code) + 1 + len(part) > 24:
                break
            code = f"{code}-{part}"
        self.note(f"kode SOP dibuat otomatis {code!r}; ganti bila perlu (--code)", field="kode")
        return code


# -- helpers (pure functions, tested directly) ----------------------------------------------


def _clip(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rank(roles: tuple[str, ...]) -> int:
    return min((ROLE_ORDER.index(r) for r in roles if r in ROLE_ORDER), default=len(ROLE_ORDER))


def _column_roles(name: str) -> tuple[str, ...]:
    roles = [canonical_role(part) for part in re.split(r"[/,]", name)]
    return tuple(r for r in roles if r is not None)


def _mark(cell: str) -> str | None:
    """'box'/'decision' for a role-column mark (□ with arrows, ◇, ✓), None for other text."""
    if any(ch in _DIAMOND for ch in cell):
        return "decision"
    if any(ch in _BOX for ch in cell) or cell.strip().lower() in _TICKS:
        return "box"
    if cell.strip() and all(ch in _ARROWS or ch.isspace() for ch in cell):
        return "box"
    return None


def _service_name(name: str) -> str:
    return " ".join(name.split()) or "Layanan"


def _forward(code: str, kind: str, next_name: str) -> dict[str, Any]:
    words = {"teruskan": ("Teruskan", "Forward"), "paraf": ("Paraf & teruskan", "Initial & pass"),
             "disposisi": ("Disposisikan", "Dispose")}
    ind, eng = words[kind]
    action: dict[str, Any] = {"kode": code, "jenis": kind}
    if kind == "disposisi":
        action["catatan"] = "wajib"
    to = f" ke {next_name}" if next_name else ""
    to_en = f" to {next_name}" if next_name else ""
    action["label"] = {"id": f"{ind}{to}"[:40], "en": f"{eng}{to_en}"[:40]}
    return action


def split_items(content: str) -> list[str]:
    """"1. A 2. B; 3. C" → ["A", "B", "C"]; numbers must run 1, 2, 3 … to count as items."""
    text = " ".join(content.split())
    marks = list(re.finditer(r"(?:(?<=\s)|^)(\d{1,2})\.\s+(?=\S)", text))
    cuts: list[int] = []
    expected = 1
    for m in marks:
        if int(m.group(1)) == expected:
            cuts.append(m.start())
            expected += 1
    if not cuts:
        return [text.strip(" ;")] if text.strip(" ;") else []
    items = []
    for start, end in zip(cuts, [*cuts[1:], len(text)], strict=True):
        item = re.sub(r"^\d{1,2}\.\s+", "", text[start:end]).strip(" ;")
        if item:
            items.append(item)
    return items


def split_requirements(cell: str) -> list[str]:
    """Kelengkapan cell → items: on commas/semicolons, then known items side by side."""
    items: list[str] = []
    for part in (p.strip() for p in re.split(r"[,;]", cell)):
        if not part:
            continue
        items.extend(_segment(part) or [part])
    return items


def _segment(part: str) -> list[str] | None:
    """'Buku agenda lembar disposisi' → ['Buku agenda', 'lembar disposisi'], or None."""
    words = part.split()
    low = [w.lower() for w in words]
    pieces: list[str] = []
    i = 0
    while i < len(words):
        for item in sorted(_ITEMS, key=len, reverse=True):
            n = len(item.split())
            if low[i:i + n] == item.split():
                pieces.append(" ".join(words[i:i + n]))
                i += n
                break
        else:
            return None
    return pieces if len(pieces) > 1 else None


def normalise_waktu(text: str) -> tuple[str | None, str]:
    """Rewrite a Waktu the parser refuses, if that is safe: '± 5 menit', '1-2 hari', '1,5 jam'."""
    low = " ".join(text.lower().split())
    low = re.sub(r"^(?:±|\+/-|kurang lebih|kurang-lebih|maks\.?|maksimal|paling lama)\s*", "",
                 low)
    low = re.sub(r"\([^)]*\)", " ", low)
    low = " ".join(low.rstrip(".").split())
    why = "kata pengantar/angka dalam kurung dibuang"
    rng = re.match(r"^(\d+)\s*(?:-|–|s/d|sampai)\s*(\d+)\s*(.+)$", low)
    if rng:
        low = f"{max(int(rng.group(1)), int(rng.group(2)))} {rng.group(3)}"
        why = "rentang: diambil batas atas"
    frac = re.match(r"^(\d+)[.,](\d+)\s*jam$", low)
    if frac:
        low = f"{round(float(frac.group(1) + '.' + frac.group(2)) * 60)} menit"
        why = "jam pecahan ditulis dalam menit"
    try:
        parse_waktu(low)
    except ValueError:
        return None, ""
    return low, why


def infer_role(activity: str, before: list[tuple[str, tuple[str, ...]]]) -> tuple[str, str]:
    """Who acts, from the activity's wording and the steps before it; (role, why)."""
    low = " ".join(activity.lower().split())
    if before:
        prev_text, prev_roles = before[-1]
        handed = _handoff(prev_text)
        if handed:
            word, role = handed
            if role == "atasan":
                role = SUPERVISOR.get(prev_roles[0]) or prev_roles[0]
            return role, f"langkah sebelumnya (\"{word}\")"
    ordered = _ORDER.search(low)
    if ordered and ordered.group(0).lower().startswith("memerintahkan"):
        target = _ROLE_WORDS[ordered.group(1).lower()]
        role = _COMMANDER.get(target) or SUPERVISOR.get(target) or "kadis"
        return role, f"kata \"{ordered.group(0)}\" (yang memerintah adalah atasannya)"
    if "ditandatangani" in low and "menerima" in low:
        drafter = next((roles[0] for text, roles in before
                        if re.search(r"\b(membuat|menyusun|mempersiapkan)\b.*\bkonsep\b",
                                     text.lower())), None)
        if drafter:
            return drafter, ("kata \"menerima … yang sudah ditandatangani\": kembali ke pembuat "
                             "konsep")
    clerk = next((w for w in _CLERK_VERBS if w in low), None)
    if clerk:
        return "staf", f"kata \"{clerk}\" (pekerjaan staf administrasi)"
    returned = _RETURN_TO.search(low)
    if returned and _ROLE_WORDS.get(returned.group(1).lower()) in SUPERVISOR:
        target = _ROLE_WORDS[returned.group(1).lower()]
        role = SUPERVISOR[target] or target
        return role, f"kata \"{returned.group(0)}\" (yang mengembalikan adalah atasannya)"
    handed_up = _handoff(low)
    if handed_up and handed_up[1] != "atasan":
        word, boss = handed_up
        subs = [r for r in ROLE_ORDER if SUPERVISOR.get(r) == boss]
        prev = before[-1][1][0] if before else None
        if subs:
            role = prev if prev in subs else subs[0]
            return role, f"kata \"{word}\" (yang menyerahkan adalah bawahannya)"
    if before:
        return before[-1][1][0], "tidak ada petunjuk; disamakan dengan langkah sebelumnya"
    return "kadis", "tidak ada petunjuk di langkah pertama"


def _handoff(text: str) -> tuple[str, str] | None:
    """The last role the work is passed to ("diteruskan kepada X"), skipping return clauses."""
    found: tuple[int, str, str] | None = None
    low = " ".join(text.lower().split())
    offset = 0
    for clause in _CLAUSES.split(low):
        if "dikembalikan" not in clause:
            for rx in (_ORDER, _HANDOFF):
                for m in rx.finditer(clause):
                    if found is None or offset + m.start() >= found[0]:
                        found = (offset + m.start(), m.group(0), _ROLE_WORDS[m.group(1)])
        offset += len(clause) + 1
    return (found[1], found[2]) if found else None


# -- YAML with comments ----------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text and text == text.strip() and "\n" not in text and not text.startswith(("'", '"')):
        try:
            plain = yaml.safe_load(text) == text
        except yaml.YAMLError:
            plain = False
        if plain and ": " not in text and " #" not in text:
            return text
    return json.dumps(text, ensure_ascii=False)


def _comments(findings: list[Finding], indent: str) -> list[str]:
    out: list[str] = []
    for f in findings:
        wrapped = textwrap.wrap(f"PERIKSA: {f.message}", width=96 - len(indent))
        out.append(f"{indent}# {wrapped[0]}")
        out.extend(f"{indent}#   {w}" for w in wrapped[1:])
    return out


def _emit(key: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, dict):
        lines = [f"{indent}{key}:"]
        for k, v in value.items():
            lines.extend(_emit(str(k), v, indent + "  "))
        return lines
    if isinstance(value, list):
        if not value:
            return [f"{indent}{key}: []"]
        if all(not isinstance(v, (dict, list)) for v in value):
            return [f"{indent}{key}:"] + [f"{indent}  - {_scalar(v)}" for v in value]
    return [f"{indent}{key}: {_scalar(value)}"]


def to_yaml(data: dict[str, Any], findings: list[Finding], source: str) -> str:
    """The draft as YAML, with the findings as `# PERIKSA:` comments above their field."""
    top = [f for f in findings if f.step is None and not f.field]
    lines = [
        f"# DRAF dari `kimbot sop import {source}` — BELUM DIPERIKSA.",
        "# Baca setiap '# PERIKSA' di bawah, betulkan bila perlu, lalu hapus komentarnya dan",
        "# jalankan `kimbot sop check` (lihat sop_steps/README.md).",
    ]
    lines.extend(_comments(top, ""))
    for key, value in data.items():
        if key == "prosedur":
            continue
        lines.extend(_comments([f for f in findings if f.step is None and f.field == key], ""))
        lines.extend(_emit(key, value, ""))
    lines.append("")
    lines.extend(_comments([f for f in findings if f.step is None and f.field == "prosedur"],
                           ""))
    lines.append("prosedur:" if data.get("prosedur") else "prosedur: []")
    for raw in data.get("prosedur", []):
        here = [f for f in findings if f.step == raw["no"]]
        first = True
        for key, value in raw.items():
            lines.extend(_comments([f for f in here if f.field == key], "    "))
            if key == "aksi":
                lines.append("    aksi:")
                for action in value:
                    body = [ln for k, v in action.items() for ln in _emit(k, v, "        ")]
                    lines.append("      - " + body[0].lstrip())
                    lines.extend(body[1:])
                continue
            emitted = _emit(key, value, "    ")
            if first:
                emitted[0] = "  - " + emitted[0].lstrip()
                first = False
            lines.extend(emitted)
        lines.extend(_comments([f for f in here if f.field not in raw], "    "))
    return "\n".join(lines) + "\n"


# -- entry points ------------------------------------------------------------------------------


def import_sop_text(
    text: str,
    *,
    offices: dict[str, Office] | None = None,
    office: str | None = None,
    code: str | None = None,
    source: str = "SOP.txt",
) -> ImportResult:
    """Read the table text form and build a draft SOP; never raises on messy input."""
    importer = _Importer(offices, office, code)
    importer.read(text)
    data = importer.build()
    order = {id(f): i for i, f in enumerate(importer.findings)}
    findings = sorted(importer.findings, key=lambda f: (
        f.step is not None, f.step or 0, f.step is None and f.line is not None, order[id(f)]))
    return ImportResult(to_yaml(data, findings, source), data, findings)


def check_draft(yaml_text: str, offices: dict[str, Office], name: str = "draf.yaml") -> Sop:
    """Validate a draft exactly as `kimbot sop check` would; raises SopError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(yaml_text, encoding="utf-8")
        return load_sop_file(path, offices)


__all__ = ["Finding", "ImportResult", "SopError", "check_draft", "import_sop_text",
           "infer_role", "normalise_waktu", "split_items", "split_requirements"]
