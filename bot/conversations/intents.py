r"""Button intents: typed in the core, readable "VERB arg arg" strings on the wire, ≤ 64 bytes.

Each intent class names its verb and the pattern its arguments must match. Anything that
does not parse is forged or garbled and is refused in one place (`core.py`); the server
re-checks everything a parsed intent claims (role, office, current step, case version).
Patterns are ASCII-only (`\d` would take any Unicode digit) and end at `\Z` (`$` lets a
trailing newline in). The same strings serve as Telegram callback data and WhatsApp
button/list-row ids.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, ClassVar, get_type_hints

MAX_BYTES = 64

_INT = r"(\d{1,10})"
_VER = r"(\d{1,6})"
_CODE = r"([a-z0-9][a-z0-9_-]{0,23})"
_NONCE = r"([A-Za-z0-9_-]{8})"


@dataclass(frozen=True)
class Intent:
    """A button's meaning. Subclasses set VERB and ARGS (one regex group per field)."""

    VERB: ClassVar[str] = ""
    ARGS: ClassVar[str] = ""

    def encode(self) -> str:
        values = [str(getattr(self, f.name)) for f in dataclasses.fields(self)]
        data = " ".join([self.VERB, *values])
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def pattern(cls) -> re.Pattern[str]:
        return re.compile(rf"^{re.escape(cls.VERB)} {cls.ARGS}\Z", re.ASCII)


@dataclass(frozen=True)
class Act(Intent):
    """An official acts on a case (action code of the current step)."""

    VERB = "a"
    ARGS = rf"{_INT} {_VER} ([a-z0-9_]{{1,12}})"
    case_id: int
    version: int
    action: str


@dataclass(frozen=True)
class Fix(Intent):
    """The member starts sending the correction asked for."""

    VERB = "f"
    ARGS = rf"{_INT} {_VER}"
    case_id: int
    version: int


@dataclass(frozen=True)
class Trail(Intent):
    """Show a case's lembar disposisi."""

    VERB = "t"
    ARGS = _INT
    case_id: int


@dataclass(frozen=True)
class Service(Intent):
    """Choose a service (SOP) for a request."""

    VERB = "s"
    ARGS = _CODE
    sop: str


@dataclass(frozen=True)
class Office(Intent):
    """Choose the office when registering."""

    VERB = "o"
    ARGS = _CODE
    office: str


@dataclass(frozen=True)
class Lang(Intent):
    VERB = "l"
    ARGS = r"(id|en)"
    language: str


@dataclass(frozen=True)
class Draft(Intent):
    """Send, correct or cancel a request summary."""

    VERB = "r"
    ARGS = rf"(send|edit|docs|cancel|next) {_NONCE}"
    verb: str
    draft: str


@dataclass(frozen=True)
class Note(Intent):
    """Skip an optional note, or cancel typing one."""

    VERB = "n"
    ARGS = r"(skip|cancel)"
    verb: str


@dataclass(frozen=True)
class StartSop(Intent):
    """/mulai: pick an internal SOP to start."""

    VERB = "ms"
    ARGS = rf"{_CODE} {_NONCE}"
    sop: str
    draft: str


@dataclass(frozen=True)
class StartDraft(Intent):
    """/mulai: send, edit or cancel its summary."""

    VERB = "mc"
    ARGS = rf"(send|edit|cancel) {_NONCE}"
    verb: str
    draft: str


@dataclass(frozen=True)
class DocAttach(Intent):
    """Attach a new version of the step's working document."""

    VERB = "da"
    ARGS = rf"{_INT} {_VER}"
    case_id: int
    version: int


@dataclass(frozen=True)
class DocSend(Intent):
    """Resend version N of a case's working document."""

    VERB = "dv"
    ARGS = rf"{_INT} (\d{{1,4}})"
    case_id: int
    number: int


@dataclass(frozen=True)
class Team(Intent):
    """Open the field-team picker."""

    VERB = "ta"
    ARGS = rf"{_INT} {_VER}"
    case_id: int
    version: int


@dataclass(frozen=True)
class TeamToggle(Intent):
    VERB = "tg"
    ARGS = rf"{_INT} {_VER} {_INT}"
    case_id: int
    version: int
    user_id: int


@dataclass(frozen=True)
class TeamNext(Intent):
    VERB = "tn"
    ARGS = rf"{_INT} {_VER}"
    case_id: int
    version: int


@dataclass(frozen=True)
class TeamDate(Intent):
    """Pick the duty date (YYYYMMDD)."""

    VERB = "td"
    ARGS = rf"{_INT} {_VER} (\d{{8}})"
    case_id: int
    version: int
    day: str


@dataclass(frozen=True)
class MembersPage(Intent):
    """◀ ▶ on an admin's member list: saved query id, page number."""

    VERB = "mp"
    ARGS = rf"{_INT} (\d{{1,4}})"
    query_id: int
    page: int


@dataclass(frozen=True)
class Erase(Intent):
    """/hapus_data: confirm or keep, with the nonce of that very question."""

    VERB = "e"
    ARGS = rf"(yes|no) {_NONCE}"
    verb: str
    nonce: str


@dataclass(frozen=True)
class BroadcastStep(Intent):
    """/siaran: a step of the admin's dialog (draft nonce)."""

    VERB = "bc"
    ARGS = rf"(all|dist|grp|role|next|send|back|cancel) {_NONCE}"
    verb: str
    nonce: str


@dataclass(frozen=True)
class BroadcastPick(Intent):
    """/siaran: toggle/choose option N of the list shown."""

    VERB = "bp"
    ARGS = rf"(\d{{1,3}}) {_NONCE}"
    index: int
    nonce: str


@dataclass(frozen=True)
class BroadcastStop(Intent):
    """Stop a running broadcast."""

    VERB = "bx"
    ARGS = _INT
    broadcast_id: int


@dataclass(frozen=True)
class Cmd(Intent):
    """Run a command picked from the menu (channels without slash commands list them)."""

    VERB = "cm"
    ARGS = r"([a-z_]{1,24})"
    name: str


@dataclass(frozen=True)
class SurveyAct(Intent):
    """SKM survey: start, skip, pause, resume it, or finish it without a suggestion."""

    VERB = "sv"
    ARGS = rf"{_INT} (start|skip|pause|resume|nosugg)"
    survey_id: int
    verb: str


@dataclass(frozen=True)
class SurveyAnswer(Intent):
    """SKM survey: score 1..4 for element u1..u9."""

    VERB = "sa"
    ARGS = rf"{_INT} (u[1-9]) ([1-4])"
    survey_id: int
    element: str
    score: int


@dataclass(frozen=True)
class SurveyProfile(Intent):
    """SKM survey: a respondent-profile answer (option "x": prefer not to say)."""

    VERB = "sq"
    ARGS = rf"{_INT} ([A-Za-z_][A-Za-z0-9_]{{0,11}}) ([A-Za-z_][A-Za-z0-9_]{{0,11}})"
    survey_id: int
    question: str
    option: str


@dataclass(frozen=True)
class ComplaintAct(Intent):
    """A complaint handler answers a complaint or opens its file."""

    VERB = "pg"
    ARGS = rf"{_INT} (answer|file)"
    complaint_id: int
    verb: str


@dataclass(frozen=True)
class ComplaintStart(Intent):
    """A member starts a complaint about one of their requests (from /status)."""

    VERB = "pc"
    ARGS = _INT
    case_id: int


@dataclass(frozen=True)
class ComplaintDraft(Intent):
    """A member sends or cancels the complaint being written."""

    VERB = "pd"
    ARGS = rf"(send|cancel) {_NONCE}"
    verb: str
    nonce: str


@dataclass(frozen=True)
class Link(Intent):
    """Yes, I am the person registered on the other channel with this number (or no)."""

    VERB = "lk"
    ARGS = r"(yes|no)"
    answer: str


INTENTS: tuple[type[Intent], ...] = (
    Act, Fix, Trail, Service, Office, Lang, Draft, Note, StartSop, StartDraft, DocAttach,
    DocSend, Team, TeamToggle, TeamNext, TeamDate, MembersPage, Erase, BroadcastStep,
    BroadcastPick, BroadcastStop, Cmd, Link,
    SurveyAct, SurveyAnswer, SurveyProfile, ComplaintAct, ComplaintStart, ComplaintDraft,
)
_BY_VERB: dict[str, type[Intent]] = {cls.VERB: cls for cls in INTENTS}
_PATTERNS: dict[type[Intent], re.Pattern[str]] = {cls: cls.pattern() for cls in INTENTS}
assert len(_BY_VERB) == len(INTENTS), "two intents share a verb"


def parse(data: str | None) -> Intent | None:
    """The intent behind button data, or None (forged or garbled)."""
    # surrogatepass: forged data may carry lone surrogates (JSON "\\ud800"); refused below.
    if not data or len(data.encode(errors="surrogatepass")) > MAX_BYTES:
        return None
    cls = _BY_VERB.get(data.split(" ", 1)[0])
    if cls is None:
        return None
    match = _PATTERNS[cls].match(data)
    if match is None:
        return None
    hints = get_type_hints(cls)
    values: list[Any] = []
    for field, raw in zip(dataclasses.fields(cls), match.groups(), strict=True):
        values.append(int(raw) if hints[field.name] is int else raw)
    return cls(*values)
