"""The shapes of the three tables (commands, buttons, dialog states) the core dispatches on.

The tables themselves are in `router.py`; this module only says what a row is, so flow
modules can import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.conversations.events import Contact, File, Text, Unsupported
from bot.conversations.output import Outcome
from bot.conversations.turn import Turn

CommandFn = Callable[[Turn, tuple[str, ...]], Outcome]
PressFn = Callable[[Turn, Any], Outcome]  # (turn, the parsed intent)
MessageEvent = Text | File | Contact | Unsupported
DialogFn = Callable[[Turn, MessageEvent], Outcome]


class Audience(StrEnum):
    """Who a command is for: the table refuses the others before the command runs."""

    EVERYONE = "everyone"
    MEMBER = "member"  # shown to everyone; the command itself asks unregistered people to register
    OFFICIAL = "official"  # shown to officials; anyone may ask (the answer is then empty)
    ADMIN = "admin"  # an admin of at least one office (the command checks which)


@dataclass(frozen=True)
class CommandSpec:
    """One command: `/name` (and aliases), who it is for, and its function.

    Menu and help texts are catalog keys: `cmd.NAME` (a short description) and, when the
    command takes arguments, `cmd.NAME.args` (e.g. "KANTOR PERAN").
    """

    name: str
    run: CommandFn
    audience: Audience = Audience.EVERYONE
    aliases: tuple[str, ...] = ()
    menu: bool = True  # in the command menu and /bantuan
    private: bool = False  # shows personal data: refused in a group

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)
