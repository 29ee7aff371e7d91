"""The loaded SOPs and offices, looked up by code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.sop.loader import load_sop_dir
from bot.sop.model import REQUESTER, Office, Sop


@dataclass(frozen=True)
class SopRegistry:
    offices: dict[str, Office]
    sops: dict[str, Sop]

    @classmethod
    def from_dir(cls, directory: Path) -> SopRegistry:
        offices, sops = load_sop_dir(directory)
        return cls(offices=offices, sops={s.code: s for s in sops})

    def get(self, code: str) -> Sop | None:
        return self.sops.get(code)

    def office(self, code: str) -> Office:
        return self.offices[code]

    def member_services(self) -> list[Sop]:
        """SOPs a member may start from chat, in a stable order."""
        return [s for s in self.sops.values() if s.started_by == REQUESTER]
