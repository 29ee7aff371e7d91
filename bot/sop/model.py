"""The SOP model: plain frozen data, loaded from `sop_steps/*.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum

from bot.sop.waktu import Duration

# The requester is not an office role: a step may be returned to them for correction.
REQUESTER = "pemohon"


class NoteRule(StrEnum):
    """Whether pressing an action asks for a note (catatan): the SOP's `catatan:` word."""

    REQUIRED = "wajib"  # asked, and cannot be skipped
    OPTIONAL = "opsional"  # asked, with a "skip" button
    NONE = "tidak"  # the action is applied at once


class ActionKind(StrEnum):
    FORWARD = "teruskan"  # pass on to the next (or named) step
    DISPOSE = "disposisi"  # forward with a written instruction (lembar disposisi)
    INITIAL = "paraf"  # initial (paraf koordinasi) and forward
    RETURN = "kembalikan"  # return for correction to an earlier step or the requester
    FINISH = "selesai"  # close the case

    @property
    def moves_forward(self) -> bool:
        return self in (ActionKind.FORWARD, ActionKind.DISPOSE, ActionKind.INITIAL)

    @property
    def default_note(self) -> NoteRule:
        """The note an action of this kind asks for when its SOP writes no `catatan:`."""
        if self is ActionKind.RETURN:
            return NoteRule.REQUIRED  # a return always says what to correct
        if self in (ActionKind.DISPOSE, ActionKind.INITIAL):
            return NoteRule.OPTIONAL  # a disposition or initial may carry an instruction
        return NoteRule.NONE


@dataclass(frozen=True)
class Office:
    """A Dinas served by this deployment: its own roles, numbering and clock."""

    code: str
    name: str
    short_name: str
    timezone: str
    agenda_format: str = "{seq:03d}/{code}/{year}"
    # Office hours Monday..Sunday (index = date.weekday()); None = closed that day.
    # Default, the common ASN week: Mon-Thu 07:30-16:00, Fri 07:30-16:30, weekend closed.
    hours: tuple[tuple[time, time] | None, ...] = (
        (time(7, 30), time(16, 0)),
        (time(7, 30), time(16, 0)),
        (time(7, 30), time(16, 0)),
        (time(7, 30), time(16, 0)),
        (time(7, 30), time(16, 30)),
        None,
        None,
    )
    # Office-declared closed days (cuti bersama …); national holidays come from `holidays`.
    closed_days: frozenset[date] = frozenset()
    # Who handles complaints (pengaduan) first: `penanganan_pengaduan` in offices.yaml.
    complaint_role: str = "kasi"


@dataclass(frozen=True)
class Action:
    """One button the holder of a step may press."""

    code: str  # short and stable: goes into callback data
    kind: ActionKind
    target: int | None = None  # step number; None = next step (forward) / none (finish)
    to_requester: bool = False  # return to the member who asked
    catatan: NoteRule | None = None  # as the SOP writes it; None: the kind's default
    label: dict[str, str] = field(default_factory=dict)  # optional per-language button text

    @property
    def note_rule(self) -> NoteRule:
        """Whether pressing this action asks for a note, and whether it may be skipped."""
        return self.catatan or self.kind.default_note

    @property
    def asks_note(self) -> bool:
        return self.note_rule is not NoteRule.NONE

    @property
    def note_required(self) -> bool:
        return self.note_rule is NoteRule.REQUIRED


@dataclass(frozen=True)
class StepRef:
    """A case position: step number within an SOP."""

    sop_code: str
    number: int


@dataclass(frozen=True)
class Step:
    number: int
    activity: str  # Kegiatan
    roles: tuple[str, ...]  # canonical role codes; a holder of any of them acts (pelaksana)
    also: tuple[str, ...]  # other roles marked in the row; kept informed
    requirements: tuple[str, ...]  # Kelengkapan
    waktu: Duration
    waktu_text: str
    output: str
    note: str  # Keterangan
    actions: tuple[Action, ...]
    inferred: str = ""  # where the role was inferred from the wording, why
    document: str = ""  # title of the working document the holder may attach or replace here
    assigns_team: bool = False  # the holder assigns the field team (people with role Tim)

    def action(self, code: str) -> Action | None:
        return next((a for a in self.actions if a.code == code), None)


@dataclass(frozen=True)
class Sop:
    code: str
    office: str
    number: str  # Nomor SOP
    name: str
    service_name: dict[str, str]  # what the member picks, per language
    started_by: str  # REQUESTER or a role code
    header: dict[str, object]  # dates, approver, legal basis, warning, record keeping …
    steps: tuple[Step, ...]
    source_file: str = ""

    def step(self, number: int) -> Step:
        for step in self.steps:
            if step.number == number:
                return step
        raise KeyError(f"SOP {self.code} has no step {number}")

    @property
    def first(self) -> Step:
        return self.steps[0]

    def next_after(self, number: int) -> Step | None:
        numbers = [s.number for s in self.steps]
        index = numbers.index(number)
        return self.steps[index + 1] if index + 1 < len(self.steps) else None

    @property
    def requirements(self) -> tuple[str, ...]:
        """What the requester must bring: the first step's Kelengkapan."""
        return self.first.requirements
