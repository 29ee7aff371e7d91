"""Command menus and /bantuan, generated from the command table (texts from the catalogs)."""

from __future__ import annotations

from bot.conversations.router import COMMANDS
from bot.conversations.table import Audience, CommandSpec
from bot.i18n import Translator

# /bantuan's sections, in order; each lists the commands of these audiences.
SECTIONS: tuple[tuple[str, tuple[Audience, ...]], ...] = (
    ("member", (Audience.EVERYONE, Audience.MEMBER)),
    ("official", (Audience.OFFICIAL,)),
    ("admin", (Audience.ADMIN,)),
)


def shown(audiences: tuple[Audience, ...]) -> list[CommandSpec]:
    return [c for c in COMMANDS if c.menu and c.audience in audiences]


def menu(tr: Translator, lang: str, audiences: tuple[Audience, ...]) -> list[tuple[str, str]]:
    """(command, description) pairs for a channel's command menu."""
    return [(c.name, tr.text(lang, f"cmd.{c.name}")) for c in shown(audiences)]


def help_line(tr: Translator, lang: str, spec: CommandSpec) -> str:
    args_key = f"cmd.{spec.name}.args"
    args = f" {tr.text(lang, args_key)}" if tr.has(lang, args_key) else ""
    return f"/{spec.name}{args} — {tr.text(lang, f'cmd.{spec.name}')}"


def section(tr: Translator, lang: str, name: str) -> str:
    audiences = dict(SECTIONS)[name]
    lines = [tr.text(lang, f"help.section.{name}")]
    lines += [help_line(tr, lang, spec) for spec in shown(audiences)]
    return "\n".join(lines)


def help_text(tr: Translator, lang: str, *, official: bool, admin: bool) -> str:
    """The member section for everyone, then the officials' and admins' where they apply."""
    names = ["member"] + (["official"] if official else []) + (["admin"] if admin else [])
    return "\n\n".join(section(tr, lang, name) for name in names)


def pickable(tr: Translator, lang: str, *, official: bool, admin: bool) -> list[CommandSpec]:
    """The commands this person may run without arguments, for a menu of buttons."""
    names = ["member"] + (["official"] if official else []) + (["admin"] if admin else [])
    specs = [spec for name in names for spec in shown(dict(SECTIONS)[name])]
    return [s for s in specs if not tr.has(lang, f"cmd.{s.name}.args")]
