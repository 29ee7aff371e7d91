r"""Callback data: readable "VERB arg arg" strings, ≤ 64 bytes, parsed strictly.

Anything that does not parse is treated as forged and refused; the server re-checks
everything a parsed callback claims (role, office, current step, version). Patterns are
ASCII-only (`\d` would take any Unicode digit) and end at `\Z` (`$` lets a trailing newline in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64

ACT = re.compile(r"^a (\d{1,10}) (\d{1,6}) ([a-z0-9_]{1,12})\Z", re.ASCII)  # act on a case
FIX = re.compile(r"^f (\d{1,10}) (\d{1,6})\Z", re.ASCII)  # member sends a correction
TRAIL = re.compile(r"^t (\d{1,10})\Z", re.ASCII)  # show the lembar disposisi
SERVICE = re.compile(r"^s ([a-z0-9][a-z0-9_-]{0,23})\Z", re.ASCII)  # choose a service (SOP)
OFFICE = re.compile(r"^o ([a-z0-9][a-z0-9_-]{0,23})\Z", re.ASCII)  # office, when registering
LANG = re.compile(r"^l (id|en)\Z", re.ASCII)  # choose a language
# request summary
DRAFT = re.compile(r"^r (send|edit|docs|cancel|next) ([A-Za-z0-9_-]{8})\Z", re.ASCII)
NOTE = re.compile(r"^n (skip|cancel)\Z", re.ASCII)  # optional note / cancel typing one
# /mulai: pick an internal SOP to start; then send/edit/cancel its summary (draft id)
START_SOP = re.compile(r"^ms ([a-z0-9][a-z0-9_-]{0,23}) ([A-Za-z0-9_-]{8})\Z", re.ASCII)
START_DRAFT = re.compile(r"^mc (send|edit|cancel) ([A-Za-z0-9_-]{8})\Z", re.ASCII)
# working document: attach a new version at a case step; resend version N of a case
DOC_ATTACH = re.compile(r"^da (\d{1,10}) (\d{1,6})\Z", re.ASCII)
DOC_SEND = re.compile(r"^dv (\d{1,10}) (\d{1,4})\Z", re.ASCII)
# field team: open the picker, toggle a person, go on to the date, pick a date (YYYYMMDD)
TEAM = re.compile(r"^ta (\d{1,10}) (\d{1,6})\Z", re.ASCII)
TEAM_TOGGLE = re.compile(r"^tg (\d{1,10}) (\d{1,6}) (\d{1,10})\Z", re.ASCII)
TEAM_NEXT = re.compile(r"^tn (\d{1,10}) (\d{1,6})\Z", re.ASCII)
TEAM_DATE = re.compile(r"^td (\d{1,10}) (\d{1,6}) (\d{8})\Z", re.ASCII)
# admin's member list (/anggota): saved query id, page number
MEMBERS_PAGE = re.compile(r"^mp (\d{1,10}) (\d{1,4})\Z", re.ASCII)
# /hapus_data: confirm or keep, with the nonce of that very question
ERASE = re.compile(r"^e (yes|no) ([A-Za-z0-9_-]{8})\Z", re.ASCII)

# /siaran (broadcast): a step of the admin's dialog (draft nonce); toggle/choose option N of
# the list shown (kecamatan, KIM group, role, office); stop a running broadcast
BROADCAST = re.compile(r"^bc (all|dist|grp|role|next|send|back|cancel) ([A-Za-z0-9_-]{8})\Z",
                       re.ASCII)
BROADCAST_PICK = re.compile(r"^bp (\d{1,3}) ([A-Za-z0-9_-]{8})\Z", re.ASCII)
BROADCAST_STOP = re.compile(r"^bx (\d{1,10})\Z", re.ASCII)

PATTERNS = {
    "broadcast": BROADCAST,
    "broadcast_pick": BROADCAST_PICK,
    "broadcast_stop": BROADCAST_STOP,
    "act": ACT,
    "fix": FIX,
    "trail": TRAIL,
    "service": SERVICE,
    "office": OFFICE,
    "lang": LANG,
    "draft": DRAFT,
    "note": NOTE,
    "start_sop": START_SOP,
    "start_draft": START_DRAFT,
    "doc_attach": DOC_ATTACH,
    "doc_send": DOC_SEND,
    "team": TEAM,
    "team_toggle": TEAM_TOGGLE,
    "team_next": TEAM_NEXT,
    "team_date": TEAM_DATE,
    "members_page": MEMBERS_PAGE,
    "erase": ERASE,
}


def _check(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


@dataclass(frozen=True)
class ActData:
    case_id: int
    version: int
    action: str


def act(case_id: int, version: int, action: str) -> str:
    return _check(f"a {case_id} {version} {action}")


def fix(case_id: int, version: int) -> str:
    return _check(f"f {case_id} {version}")


def trail(case_id: int) -> str:
    return _check(f"t {case_id}")


def service(sop_code: str) -> str:
    return _check(f"s {sop_code}")


def office(code: str) -> str:
    return _check(f"o {code}")


def lang(code: str) -> str:
    return _check(f"l {code}")


def draft(verb: str, draft_id: str) -> str:
    return _check(f"r {verb} {draft_id}")


def note(verb: str) -> str:
    return _check(f"n {verb}")


def start_sop(sop_code: str, draft_id: str) -> str:
    return _check(f"ms {sop_code} {draft_id}")


def start_draft(verb: str, draft_id: str) -> str:
    return _check(f"mc {verb} {draft_id}")


def doc_attach(case_id: int, version: int) -> str:
    return _check(f"da {case_id} {version}")


def doc_send(case_id: int, number: int) -> str:
    return _check(f"dv {case_id} {number}")


def team(case_id: int, version: int) -> str:
    return _check(f"ta {case_id} {version}")


def team_toggle(case_id: int, version: int, user_id: int) -> str:
    return _check(f"tg {case_id} {version} {user_id}")


def team_next(case_id: int, version: int) -> str:
    return _check(f"tn {case_id} {version}")


def team_date(case_id: int, version: int, day: str) -> str:
    """`day` as YYYYMMDD."""
    return _check(f"td {case_id} {version} {day}")


def members_page(query_id: int, page: int) -> str:
    return _check(f"mp {query_id} {page}")


def erase(verb: str, nonce: str) -> str:
    return _check(f"e {verb} {nonce}")


def parse_act(data: str) -> ActData | None:
    match = ACT.match(data)
    if not match:
        return None
    return ActData(int(match.group(1)), int(match.group(2)), match.group(3))


def parse(pattern: re.Pattern[str], data: str | None) -> tuple[str, ...] | None:
    """Groups of `data` matched against one verb's pattern, or None (forged/garbled)."""
    if data is None or len(data.encode()) > MAX_BYTES:
        return None
    match = pattern.match(data)
    return match.groups() if match else None


def broadcast(verb: str, nonce: str) -> str:
    return _check(f"bc {verb} {nonce}")


def broadcast_pick(index: int, nonce: str) -> str:
    return _check(f"bp {index} {nonce}")


def broadcast_stop(broadcast_id: int) -> str:
    return _check(f"bx {broadcast_id}")


ANY_VALID = re.compile("|".join(f"(?:{p.pattern})" for p in PATTERNS.values()), re.ASCII)
