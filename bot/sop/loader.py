"""Read and validate SOP files; every error names the file, the step and a fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.roles import canonical_role
from bot.sop.model import REQUESTER, Action, ActionKind, NoteRule, Office, Sop, Step
from bot.sop.waktu import parse_waktu

OFFICES_FILE = "offices.yaml"
SKM_FILE = "skm.yaml"  # the satisfaction survey (bot/survey.py), not an SOP
NOT_SOPS = (OFFICES_FILE, SKM_FILE)
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
_ACTION_CODE = re.compile(r"^[a-z0-9_]{1,12}$")
# "jika tidak sesuai dikembalikan …" in a Kegiatan: the paper SOP draws a decision there.
_RETURN_WORDING = re.compile(
    r"\b(?:jika|apabila|bila|kalau)\s+(?:tidak|belum)\s+sesuai[\s,;:]*(?:maka\s+)?dikembalikan",
    re.IGNORECASE,
)
_NOTE = {
    "wajib": NoteRule.REQUIRED,
    "required": NoteRule.REQUIRED,
    "opsional": NoteRule.OPTIONAL,
    "optional": NoteRule.OPTIONAL,
    "tidak": NoteRule.NONE,
}
HEADER_KEYS = (
    "judul_diagram",
    "tanggal_pembuatan",
    "tanggal_revisi",
    "tanggal_pengesahan",
    "tanggal_efektif",
    "disahkan_oleh",
    "dasar_hukum",
    "kualifikasi_pelaksana",
    "keterkaitan",
    "peralatan",
    "peringatan",
    "pencatatan",
)


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so a key `no:` stays the text "no"."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class SopError(ValueError):
    """A problem in an SOP file, worded for the office clerk who wrote it."""

    def __init__(self, file: str, message: str, step: int | None = None) -> None:
        where = f"{file}: langkah {step}: " if step is not None else f"{file}: "
        super().__init__(where + message)
        self.file = file
        self.step = step
        self.detail = message


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise SopError(path.name, f"bukan YAML yang sah ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SopError(path.name, f"tidak dapat dibaca ({exc})") from exc
    except ValueError as exc:  # PyYAML builds dates while reading: 2026-13-01 fails there
        raise SopError(
            path.name, f"ada tanggal yang tidak sah ({exc}); tulis TTTT-BB-HH, mis. 2026-12-24"
        ) from exc


def load_offices(path: Path) -> dict[str, Office]:
    """Read `offices.yaml`: the Dinas this deployment serves.

    Optional per office: `jam_kerja` (senin..minggu: "07:30-16:00" or libur; days not named keep
    the default week) and `hari_libur_kantor` (office-declared closed days, YYYY-MM-DD).
    """
    # Imported here: bot.calendar imports bot.sop (model, waktu).
    from bot.calendar import parse_closed_days, parse_office_hours

    data = _read_yaml(path)
    rows = data.get("kantor") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise SopError(path.name, "harus berisi daftar 'kantor' dengan sedikitnya satu kantor")
    offices: dict[str, Office] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise SopError(path.name, "setiap kantor harus berupa pemetaan (kode, nama, …)")
        code = str(row.get("kode", ""))
        if not _CODE.match(code):
            raise SopError(path.name, f"kode kantor {code!r} tidak sah; pakai huruf kecil/angka")
        tz = str(row.get("zona_waktu", ""))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SopError(
                path.name, f"kantor {code}: zona_waktu {tz!r} tidak dikenal (mis. Asia/Jakarta)"
            ) from exc
        fmt = str(row.get("format_agenda", "{seq:03d}/{code}/{year}"))
        try:
            fmt.format(seq=1, code="X", year=2026)
        except (KeyError, ValueError, IndexError) as exc:
            raise SopError(path.name, f"kantor {code}: format_agenda {fmt!r} tidak sah") from exc
        try:
            hours = parse_office_hours(row.get("jam_kerja"))
            closed_days = parse_closed_days(row.get("hari_libur_kantor"))
        except ValueError as exc:
            raise SopError(path.name, f"kantor {code}: {exc}") from exc
        handler = row.get("penanganan_pengaduan", "kasi")
        complaint_role = canonical_role(str(handler))
        if complaint_role is None:
            raise SopError(path.name, f"kantor {code}: penanganan_pengaduan {handler!r} bukan "
                           "peran yang dikenal (mis. kasi, kabid, sekdis)")
        offices[code] = Office(
            code=code,
            name=str(row.get("nama") or code),
            short_name=str(row.get("singkatan") or code.upper()),
            timezone=tz,
            agenda_format=fmt,
            hours=hours,
            closed_days=closed_days,
            complaint_role=complaint_role,
        )
    return offices


def _roles(file: str, number: int, value: Any, field: str) -> tuple[str, ...]:
    names = value if isinstance(value, list) else [value] if value else []
    roles: list[str] = []
    for name in names:
        role = canonical_role(str(name))
        if role is None:
            raise SopError(
                file,
                f"{field}: peran {name!r} tidak dikenal; gunakan Kadis/Kadin, Sekdis/Sekdin, "
                "Kabid, Kasi, Staf/Petugas atau Tim",
                number,
            )
        if role not in roles:
            roles.append(role)
    return tuple(roles)


def _action(file: str, number: int, raw: Any) -> Action:
    if not isinstance(raw, dict):
        raise SopError(file, "setiap aksi harus berupa pemetaan (kode, jenis, …)", number)
    code = str(raw.get("kode", ""))
    if not _ACTION_CODE.match(code):
        raise SopError(
            file, f"kode aksi {code!r} tidak sah; pakai 1-12 huruf kecil/angka/garis bawah", number
        )
    try:
        kind = ActionKind(str(raw.get("jenis", "")))
    except ValueError as exc:
        kinds = ", ".join(k.value for k in ActionKind)
        raise SopError(
            file, f"aksi {code}: jenis {raw.get('jenis')!r} tidak dikenal; pilih: {kinds}", number
        ) from exc
    note_word = str(raw.get("catatan", kind.default_note.value))
    if note_word not in _NOTE:
        raise SopError(
            file, f"aksi {code}: catatan {note_word!r}: tulis wajib, opsional atau tidak", number
        )
    target = raw.get("ke")
    to_requester = str(target).lower() in (REQUESTER, "anggota kim", "anggota_kim")
    if target is not None and not to_requester and not isinstance(target, int):
        raise SopError(
            file, f"aksi {code}: 'ke' harus nomor langkah atau 'pemohon', bukan {target!r}", number
        )
    if kind is ActionKind.RETURN and target is None:
        raise SopError(
            file, f"aksi {code}: pengembalian perlu 'ke' (nomor langkah atau pemohon)", number
        )
    if to_requester and kind is not ActionKind.RETURN:
        raise SopError(file, f"aksi {code}: hanya 'kembalikan' yang bisa ke pemohon", number)
    label = raw.get("label") or {}
    if not isinstance(label, dict) or not all(isinstance(v, str) for v in label.values()):
        raise SopError(file, f"aksi {code}: label harus {{id: ..., en: ...}}", number)
    if kind is ActionKind.RETURN and _NOTE[note_word] is not NoteRule.REQUIRED:
        raise SopError(file, f"aksi {code}: pengembalian harus dengan catatan wajib", number)
    return Action(
        code=code,
        kind=kind,
        target=None if to_requester or target is None else int(target),
        to_requester=to_requester,
        catatan=_NOTE[note_word],
        label={str(k): v[:40] for k, v in label.items()},
    )


def _default_actions(is_last: bool) -> tuple[Action, ...]:
    if is_last:
        return (Action(code="selesai", kind=ActionKind.FINISH),)
    return (Action(code="teruskan", kind=ActionKind.FORWARD),)


def _step(file: str, raw: Any, index: int, is_last: bool) -> Step:
    if not isinstance(raw, dict):
        raise SopError(file, f"baris prosedur ke-{index + 1} harus berupa pemetaan (no, kegiatan…)")
    number = raw.get("no")
    if not isinstance(number, int) or number <= 0:
        raise SopError(file, f"baris prosedur ke-{index + 1}: 'no' harus bilangan bulat positif")
    activity = str(raw.get("kegiatan") or "").strip()
    if not activity:
        raise SopError(file, "kegiatan kosong; tulis apa yang dikerjakan", number)
    roles = _roles(file, number, raw.get("pelaksana"), "pelaksana")
    if not roles:
        raise SopError(file, "pelaksana kosong; tulis peran yang bertindak (mis. Kasi)", number)
    try:
        waktu = parse_waktu(str(raw.get("waktu", "")))
    except ValueError as exc:
        raise SopError(file, str(exc), number) from exc
    req = raw.get("kelengkapan") or []
    requirements = tuple(str(r) for r in (req if isinstance(req, list) else [req]))
    raw_actions = raw.get("aksi")
    if raw_actions is None:
        actions = _default_actions(is_last)
    elif isinstance(raw_actions, list) and raw_actions:
        actions = tuple(_action(file, number, a) for a in raw_actions)
    else:
        raise SopError(file, "aksi harus daftar yang tidak kosong (atau dihapus)", number)
    codes = [a.code for a in actions]
    if len(set(codes)) != len(codes):
        raise SopError(file, f"kode aksi berulang: {codes}", number)
    return Step(
        number=number,
        activity=activity,
        roles=roles,
        also=_roles(file, number, raw.get("bersama"), "bersama"),
        requirements=requirements,
        waktu=waktu,
        waktu_text=str(raw.get("waktu")),
        output=str(raw.get("output") or ""),
        note=str(raw.get("keterangan") or ""),
        actions=actions,
        inferred=str(raw.get("penafsiran") or ""),
        document=_document(file, number, raw.get("dokumen")),
        assigns_team=_flag(file, number, raw.get("penugasan_tim"), "penugasan_tim"),
    )


def _document(file: str, number: int, value: Any) -> str:
    if value is None:
        return ""
    text = " ".join(str(value).split())
    if not text or len(text) > 80:
        raise SopError(file, "dokumen: tulis judul dokumen kerja (1-80 huruf)", number)
    return text


def _flag(file: str, number: int, value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SopError(file, f"{name}: tulis true atau false", number)
    return value


def _check_flow(file: str, steps: tuple[Step, ...], started_by: str) -> None:
    numbers = [s.number for s in steps]
    if numbers != sorted(set(numbers)):
        raise SopError(file, f"nomor langkah harus naik dan unik, ditemukan {numbers}")
    for i, step in enumerate(steps):
        kinds = {a.kind for a in step.actions}
        for action in step.actions:
            if action.target is not None and action.target not in numbers:
                raise SopError(
                    file,
                    f"aksi {action.code}: langkah tujuan {action.target} tidak ada "
                    f"(langkah yang ada: {numbers[0]}-{numbers[-1]}); ubah 'ke' menjadi "
                    "nomor salah satu langkah itu",
                    step.number,
                )
            returns_forward = action.target is not None and action.target >= step.number
            if action.kind is ActionKind.RETURN and returns_forward:
                raise SopError(
                    file,
                    f"aksi {action.code}: pengembalian harus ke langkah sebelumnya, "
                    f"bukan {action.target}",
                    step.number,
                )
            if action.to_requester and started_by != REQUESTER:
                raise SopError(
                    file,
                    f"aksi {action.code}: SOP ini tidak dimulai pemohon, tak bisa dikembalikan "
                    "ke pemohon",
                    step.number,
                )
            if action.kind.moves_forward and action.target is None and i == len(steps) - 1:
                raise SopError(
                    file,
                    f"aksi {action.code}: langkah terakhir tak punya langkah berikutnya; "
                    "pakai jenis 'selesai'",
                    step.number,
                )
        onward = {k for k in ActionKind if k.moves_forward} | {ActionKind.FINISH}
        if ActionKind.RETURN in kinds and not kinds & onward:
            raise SopError(
                file,
                "keputusan tanpa jalan lanjut: ada 'kembalikan' tapi tidak ada "
                "'teruskan'/'paraf'/'disposisi'/'selesai'; tambahkan aksi untuk jalan "
                "'jika sesuai' (mis. jenis: paraf)",
                step.number,
            )
        if _RETURN_WORDING.search(" ".join(step.activity.split())) and (
            ActionKind.RETURN not in kinds
        ):
            raise SopError(
                file,
                "kegiatan menyebut 'jika tidak sesuai dikembalikan' tetapi tidak ada aksi "
                "'kembalikan'; tambahkan aksi jenis: kembalikan dengan 'ke: <nomor langkah>' "
                "(langkah yang memperbaiki) di samping aksi jalan lanjutnya",
                step.number,
            )
    if not any(a.kind is ActionKind.FINISH for s in steps for a in s.actions):
        raise SopError(file, "tidak ada aksi 'selesai'; langkah terakhir perlu menutup perkara")
    reached = {steps[0].number}
    frontier = [steps[0]]
    by_number = {s.number: s for s in steps}
    while frontier:
        step = frontier.pop()
        for action in step.actions:
            if action.kind.moves_forward:
                nxt = action.target if action.target is not None else _next(numbers, step.number)
                if nxt is not None and nxt not in reached:
                    reached.add(nxt)
                    frontier.append(by_number[nxt])
    unreachable = [n for n in numbers if n not in reached]
    if unreachable:
        raise SopError(
            file,
            f"langkah {unreachable} tidak dapat dicapai dari langkah {numbers[0]}; "
            "periksa 'ke' pada aksi teruskan",
            unreachable[0],
        )


def _next(numbers: list[int], number: int) -> int | None:
    index = numbers.index(number)
    return numbers[index + 1] if index + 1 < len(numbers) else None


def load_sop_file(path: Path, offices: dict[str, Office]) -> Sop:
    """Read one SOP file and validate it against the known offices and roles."""
    file = path.name
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise SopError(file, "isi berkas harus pemetaan YAML (kode, kantor, prosedur, …)")
    code = str(data.get("kode", ""))
    if not _CODE.match(code):
        raise SopError(file, f"kode SOP {code!r} tidak sah; pakai 1-24 huruf kecil/angka/-")
    office = str(data.get("kantor", ""))
    if office not in offices:
        raise SopError(
            file, f"kantor {office!r} tidak ada di {OFFICES_FILE} (ada: {', '.join(offices)})"
        )
    name = str(data.get("nama_sop") or "").strip()
    if not name:
        raise SopError(file, "nama_sop kosong")
    started = str(data.get("dimulai_oleh", REQUESTER)).lower()
    started_by = REQUESTER if started in (REQUESTER, "anggota kim") else canonical_role(started)
    if started_by is None:
        raise SopError(file, f"dimulai_oleh {started!r}: tulis 'pemohon' atau sebuah peran")
    raw_steps = data.get("prosedur")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise SopError(file, "prosedur kosong; tulis sedikitnya satu langkah")
    steps = tuple(
        _step(file, raw, i, i == len(raw_steps) - 1) for i, raw in enumerate(raw_steps)
    )
    _check_flow(file, steps, started_by)
    if started_by != REQUESTER and started_by not in steps[0].roles:
        raise SopError(file, "dimulai_oleh harus peran pelaksana langkah pertama", steps[0].number)
    service = data.get("layanan") or {"id": name}
    if isinstance(service, str):
        service = {"id": service}
    if not isinstance(service, dict):
        raise SopError(file, "layanan harus teks atau {id: ..., en: ...}")
    return Sop(
        code=code,
        office=office,
        number=str(data.get("nomor_sop") or ""),
        name=" ".join(name.split()),
        service_name={str(k): str(v) for k, v in service.items()},
        started_by=started_by,
        header={k: data[k] for k in HEADER_KEYS if k in data},
        steps=steps,
        source_file=file,
    )


def load_sop_dir(directory: Path) -> tuple[dict[str, Office], list[Sop]]:
    """Load the offices and every `*.yaml` SOP in a directory; codes must be unique."""
    offices = load_offices(directory / OFFICES_FILE)
    sops: list[Sop] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in NOT_SOPS:
            continue
        sop = load_sop_file(path, offices)
        if sop.code in seen:
            raise SopError(path.name, f"kode SOP {sop.code!r} sudah dipakai di {seen[sop.code]}")
        seen[sop.code] = path.name
        sops.append(sop)
    return offices, sops
