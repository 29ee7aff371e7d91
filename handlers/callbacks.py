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

PATTERNS = {
    "act": ACT,
    "fix": FIX,
    "trail": TRAIL,
    "service": SERVICE,
    "office": OFFICE,
    "lang": LANG,
    "draft": DRAFT,
    "note": NOTE,
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


ANY_VALID = re.compile("|".join(f"(?:{p.pattern})" for p in PATTERNS.values()), re.ASCII)
