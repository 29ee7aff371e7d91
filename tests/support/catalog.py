"""The message catalogs as tests read them: what a user must see, by key."""

from __future__ import annotations

from typing import Any

from bot.i18n import Translator
from bot.settings import ROOT

CATALOG = Translator(ROOT / "locales")


def text(key: str, lang: str = "id", **params: Any) -> str:
    """A user-facing text from the message catalogs (what the user must see)."""
    assert CATALOG.has(lang, key), f"{key!r} is not in the {lang} catalog"
    return CATALOG.text(lang, key, **params)


# What /bantuan and the command menus list, written out here (not read from the command
# table) so that a command dropped from the table fails the tests.
MEMBER_COMMANDS = ("permohonan", "status", "batal", "bahasa", "dataku", "hapus_data",
                   "berhenti", "langganan", "bantuan", "survei", "pengaduan")
OFFICIAL_COMMANDS = ("tugas", "disposisi", "cetak", "mulai", "dokumen")
ADMIN_COMMANDS = ("siaran", "undang", "agenda", "plt", "plt_batal", "anggota", "anggota_lihat",
                  "peran", "peran_cabut", "undangan", "undangan_batal", "nonaktif", "aktif",
                  "laporan", "ekspor", "skm")
SECTIONS = {"member": MEMBER_COMMANDS, "official": OFFICIAL_COMMANDS, "admin": ADMIN_COMMANDS}


def help_section(name: str, lang: str = "id") -> str:
    """One section of /bantuan: its heading, then '/command ARGS — description' lines."""
    lines = [text(f"help.section.{name}", lang)]
    for command in SECTIONS[name]:
        args = (" " + text(f"cmd.{command}.args", lang)
                if CATALOG.has(lang, f"cmd.{command}.args") else "")
        lines.append(f"/{command}{args} — {text(f'cmd.{command}', lang)}")
    return "\n".join(lines)
