"""Parse the SOP's free-text time standard ("3 menit", "2 Jam", "1 Hari")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class TimeUnit(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    WORKING_DAY = "working_day"


_UNITS: dict[str, TimeUnit] = {
    "menit": TimeUnit.MINUTE,
    "mnt": TimeUnit.MINUTE,
    "minute": TimeUnit.MINUTE,
    "minutes": TimeUnit.MINUTE,
    "jam": TimeUnit.HOUR,
    "hour": TimeUnit.HOUR,
    "hours": TimeUnit.HOUR,
    "hari": TimeUnit.WORKING_DAY,
    "hari kerja": TimeUnit.WORKING_DAY,
    "day": TimeUnit.WORKING_DAY,
    "days": TimeUnit.WORKING_DAY,
    "working day": TimeUnit.WORKING_DAY,
    "working days": TimeUnit.WORKING_DAY,
}

_PATTERN = re.compile(r"^\s*(\d{1,4})\s*([a-zA-Z ]+?)\s*$")


@dataclass(frozen=True)
class Duration:
    """A time standard with its unit kept: a working day is not 24 hours."""

    amount: int
    unit: TimeUnit

    @property
    def minutes(self) -> int:
        """Length in office minutes; only meaningful for minute/hour units."""
        if self.unit is TimeUnit.MINUTE:
            return self.amount
        if self.unit is TimeUnit.HOUR:
            return self.amount * 60
        raise ValueError("working days have no fixed length in minutes")

    @property
    def text(self) -> str:
        """Indonesian text as written in an SOP ("2 hari")."""
        word = {TimeUnit.MINUTE: "menit", TimeUnit.HOUR: "jam", TimeUnit.WORKING_DAY: "hari"}
        return f"{self.amount} {word[self.unit]}"


def parse_waktu(text: str) -> Duration:
    """Parse "10 Menit" / "2 Jam" / "2 Hari"; raise ValueError with a hint otherwise."""
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(
            f"waktu {text!r} tidak dapat dibaca; tulis angka lalu satuan, mis. '5 menit', "
            "'2 jam' atau '1 hari'"
        )
    amount = int(match.group(1))
    unit_word = " ".join(match.group(2).lower().split())
    unit = _UNITS.get(unit_word)
    if unit is None:
        raise ValueError(
            f"satuan waktu {match.group(2)!r} tidak dikenal; gunakan menit, jam atau hari"
        )
    if amount <= 0:
        raise ValueError(f"waktu {text!r} harus lebih dari nol")
    return Duration(amount, unit)
