"""Export the agenda book and the audit trail of an office's year as XLSX or CSV.

- XLSX (openpyxl): one sheet, bold frozen header with a filter, set column widths, times as
  real Excel date-times in the office's zone (Excel has no time zones: the zone is named in the
  header, e.g. "Tanggal diterima (WIB)").
- CSV: UTF-8 with a byte-order mark (so Excel reads the letters right), `;` between fields (the
  list separator of Excel in Indonesian, where the decimal mark is a comma; a comma-separated
  file would open as one column there), CRLF line ends, times as `YYYY-MM-DD HH:MM` in the
  office's zone.
- What members typed could be read as a formula by a spreadsheet: in XLSX such text is stored
  as text; in CSV a text starting with = + - @ gets a leading apostrophe (OWASP's advice).
- A requester whose personal data was erased shows as "(dihapus)" with no KIM group.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from bot.clock import from_db
from bot.errors import BadInput
from bot.i18n import _ZONE_ABBR, Translator
from bot.models import AuditEntry, Case, User
from bot.sop import SopRegistry
from bot.sop.model import REQUESTER, Sop

AGENDA, TRAIL = "agenda", "trail"
KINDS = {"agenda": AGENDA, "jejak": TRAIL, "trail": TRAIL}
FORMATS = ("xlsx", "csv")
FILE_STEM = {AGENDA: "buku-agenda", TRAIL: "jejak-disposisi"}
DATE_FORMAT = "yyyy-mm-dd hh:mm"
CSV_DELIMITER = ";"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_WIDTH = 60


@dataclass
class Table:
    """A sheet: its title, header, rows and which columns hold date-times."""

    title: str
    header: list[str]
    # Tuples: of plain values, the garbage collector stops tracking them, so a year of a
    # large office does not make every full collection (GIL held) walk all its rows.
    rows: list[Sequence[Any]] = field(default_factory=list)
    date_columns: frozenset[int] = frozenset()


def zone_abbr(timezone: str) -> str:
    return _ZONE_ABBR.get(timezone) or datetime.now(ZoneInfo(timezone)).strftime("%Z")


def _local(moment: datetime | None, timezone: str) -> datetime | None:
    """The office's wall-clock time, naive (what a spreadsheet cell can hold), to the minute."""
    if moment is None:
        return None
    local = from_db(moment).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return local.replace(second=0, microsecond=0)


def _person(user: User | _Person | None, erased: str) -> str:
    if user is None:
        return "-"
    if user.erased_at is not None:
        return erased
    return user.full_name or user.display_name or "-"


def _step_text(sop: Sop | None, number: int) -> str:
    step = next((s for s in sop.steps if s.number == number), None) if sop else None
    return f"{number}. {' '.join(step.activity.split())}" if step else str(number)


class _Person:
    """What an export shows of a person (plain rows: a year of a large office is many)."""

    __slots__ = ("display_name", "erased_at", "full_name", "kim_group")

    def __init__(self, full_name: str | None, display_name: str, kim_group: str | None,
                 erased_at: datetime | None) -> None:
        self.full_name, self.display_name = full_name, display_name
        self.kim_group, self.erased_at = kim_group, erased_at


def _year(office: str, year: int) -> list[ColumnElement[bool]]:
    return [col(Case.office) == office, col(Case.agenda_year) == year]


def _users(session: Session, ids: set[int]) -> dict[int, _Person]:
    found: dict[int, _Person] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        for user_id, full_name, display_name, kim_group, erased_at in (
                session.connection().execute(
                    sa_select(col(User.id), col(User.full_name), col(User.display_name),
                              col(User.kim_group), col(User.erased_at))
                    .where(col(User.id).in_(ordered[start:start + 500])))):
            assert user_id is not None
            found[user_id] = _Person(full_name, display_name, kim_group, erased_at)
    return found


def agenda_table(session: Session, registry: SopRegistry, translator: Translator, office: str,
                 year: int, language: str = "id") -> Table:
    """The Buku Agenda surat masuk of one office and year, in agenda order."""
    where = registry.office(office)
    zone = zone_abbr(where.timezone)

    def t(key: str, **params: Any) -> str:
        return translator.text(language, key, **params)

    header = [t("export.col.agenda"), t("export.col.received", zone=zone),
              t("export.col.sender"), t("export.col.kim_group"), t("export.col.subject"),
              t("export.col.purpose"), t("export.col.sop"), t("export.col.status"),
              t("export.col.step"), t("export.col.finished", zone=zone)]
    table = Table(t("export.sheet.agenda"), header, date_columns=frozenset({1, 9}))
    sender = func.coalesce(col(Case.requester_id), col(Case.started_by_id))
    people = _users(session, set(session.connection().execute(
        sa_select(sender).where(*_year(office, year)).distinct()).scalars()))
    # Read row by row, not as one list: building a large year's list at once holds the GIL.
    cases = session.connection().execute(
        sa_select(col(Case.agenda_number), col(Case.created_at), col(Case.requester_id),
                  col(Case.started_by_id), col(Case.subject), col(Case.purpose),
                  col(Case.sop_code), col(Case.status), col(Case.step_no),
                  col(Case.finished_at))
        .where(*_year(office, year)).order_by(col(Case.agenda_seq)))
    erased = t("export.erased")
    for case in cases:
        sop = registry.get(case.sop_code)
        person = people.get(case.requester_id or case.started_by_id)
        group = "" if person is None or person.erased_at or case.requester_id is None else (
            person.kim_group or "")
        table.rows.append((
            case.agenda_number, _local(case.created_at, where.timezone),
            _person(person, erased), group, case.subject, case.purpose,
            sop.name if sop else case.sop_code, _status(translator, language, case.status),
            "" if case.status == "finished" else _step_text(sop, case.step_no),
            _local(case.finished_at, where.timezone)))
    return table


def trail_table(session: Session, registry: SopRegistry, translator: Translator, office: str,
                year: int, language: str = "id") -> Table:
    """Every line of the lembar disposisi of the year's cases: who did what, when."""
    where = registry.office(office)
    zone = zone_abbr(where.timezone)

    def t(key: str, **params: Any) -> str:
        return translator.text(language, key, **params)

    header = [t("export.col.agenda"), t("export.col.trail_step"),
              t("export.col.time", zone=zone), t("export.col.actor"), t("export.col.role"),
              t("export.col.action"), t("export.col.note"), t("export.col.to_step")]
    table = Table(t("export.sheet.trail"), header, date_columns=frozenset({2}))
    in_year = (col(Case.id) == col(AuditEntry.case_id), *_year(office, year))
    people = _users(session, set(session.connection().execute(
        sa_select(col(AuditEntry.actor_id)).where(*in_year).distinct()).scalars()))
    # One query in agenda order, plain rows read one by one (a large office's year is
    # hundreds of thousands: building them as one list at once holds the GIL).
    entries = session.connection().execute(
        sa_select(col(Case.agenda_number), col(Case.sop_code), col(AuditEntry.step_no),
                  col(AuditEntry.at), col(AuditEntry.actor_id), col(AuditEntry.actor_role),
                  col(AuditEntry.action), col(AuditEntry.kind), col(AuditEntry.note),
                  col(AuditEntry.to_step))
        .where(*in_year).order_by(col(Case.agenda_seq), col(AuditEntry.id)))
    erased = t("export.erased")
    for entry in entries:
        sop = registry.get(entry.sop_code)
        if entry.to_step is not None:
            to_step: Any = entry.to_step
        elif entry.kind == "kembalikan":
            to_step = translator.role(language, REQUESTER)
        else:
            to_step = ""
        table.rows.append((
            entry.agenda_number, entry.step_no, _local(entry.at, where.timezone),
            _person(people.get(entry.actor_id), erased), translator.role(language,
                                                                         entry.actor_role),
            _action_text(translator, language, sop, entry.step_no, entry.action, entry.kind),
            entry.note, to_step))
    return table


def _status(translator: Translator, language: str, status: str) -> str:
    key = f"export.status.{status}"
    return translator.text(language, key) if translator.has(translator.default, key) else status


def _action_text(translator: Translator, language: str, sop: Sop | None, step_no: int,
                 code: str, kind: str) -> str:
    """The button's label as the SOP names it ("Disposisikan"), else what the kind means."""
    step = next((s for s in sop.steps if s.number == step_no), None) if sop else None
    action = step.action(code) if step else None
    label = (action.label.get(language) or action.label.get("id")) if action else None
    if label:
        return label
    text = translator.text(language, f"kind.{kind}")
    return text[:1].upper() + text[1:] if text != f"kind.{kind}" else code


# -- files -------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def to_xlsx(table: Table) -> bytes:
    # Imported here: openpyxl is only needed for an export, not in the running bot's memory.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.title[:31]
    sheet.append([_clean(h) for h in table.header])
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
        cell.alignment = Alignment(vertical="top", wrap_text=True)
    widths = [len(h) for h in table.header]
    for row in table.rows:
        sheet.append([_clean(v) for v in row])
        for index, value in enumerate(row):
            size = 16 if isinstance(value, datetime) else len(str(value or ""))
            widths[index] = max(widths[index], size)
    for row_cells in sheet.iter_rows(min_row=2):
        for cell in row_cells:
            index = cell.column - 1
            if index in table.date_columns and cell.value is not None:
                cell.number_format = DATE_FORMAT
            elif isinstance(cell.value, str) and cell.data_type == "f":
                cell.data_type = "s"  # text a member typed, not a formula
            cell.alignment = Alignment(vertical="top")
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    workbook.properties.creator = "KIM-Bot"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return str(value)


def to_csv(table: Table) -> bytes:
    buffer = io.BytesIO()
    # Encoded row by row: one string of a large year (tens of MB) copied and encoded at the
    # end would hold the GIL, and so the event loop, for a noticeable while.
    text = io.TextIOWrapper(buffer, encoding="utf-8", newline="", write_through=True)
    text.write("\ufeff")
    writer = csv.writer(text, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_csv_value(v) for v in row])
    data = buffer.getvalue()
    text.detach()
    return data


def file_name(kind: str, fmt: str, office: str, year: int) -> str:
    """buku-agenda-lumajang-2026.xlsx / jejak-disposisi-kolaka-2027.csv"""
    return f"{FILE_STEM[kind]}-{office}-{year}.{fmt}"


def export(session: Session, registry: SopRegistry, translator: Translator, kind: str,
           fmt: str, office: str, year: int, language: str = "id") -> tuple[str, bytes, int]:
    """(file name, bytes, number of rows) of an export; BadInput for an unknown kind/format."""
    kind = KINDS.get(kind.lower(), "")
    fmt = fmt.lower()
    if not kind or fmt not in FORMATS:
        raise BadInput("export.usage")
    if office not in registry.offices:
        raise BadInput("report.unknown_office", office=office)
    build = agenda_table if kind == AGENDA else trail_table
    table = build(session, registry, translator, office, year, language)
    data = to_xlsx(table) if fmt == "xlsx" else to_csv(table)
    return file_name(kind, fmt, office, year), data, len(table.rows)
