"""Message catalogs (Babel .po, `id` default, `en` second) and locale-aware formatting."""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.settings import LANGUAGES

DOMAIN = "kimbot"
_ZONE_ABBR = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def load_catalog(locales_dir: Path, language: str) -> Catalog:
    path = locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


class Translator:
    """Renders message keys in a language; falls back to the default language."""

    def __init__(self, locales_dir: Path, default: str = "id") -> None:
        self.default = default
        self.catalogs: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            catalog = load_catalog(locales_dir, language)
            self.catalogs[language] = {
                str(m.id): str(m.string) for m in catalog if m.id and m.string
            }

    def has(self, language: str, key: str) -> bool:
        return key in self.catalogs.get(language, {})

    def text(self, language: str, key: str, **params: Any) -> str:
        template = self.catalogs.get(language, {}).get(key) or self.catalogs[self.default].get(
            key, key)
        return string.Formatter().vformat(template, (), _Params(params))

    def when(self, language: str, moment: datetime, timezone: str) -> str:
        """'Senin, 24 Nov 2026 10.30 WIB' in the office's zone."""
        zone = ZoneInfo(timezone)
        local = moment.astimezone(zone)
        pattern = "EEEE, d MMM y HH.mm" if language == "id" else "EEE d MMM y, HH:mm"
        abbr = _ZONE_ABBR.get(timezone) or local.strftime("%Z")
        return f"{format_datetime(local, pattern, locale=language)} {abbr}"

    def role(self, language: str, code: str) -> str:
        key = f"role.{code}"
        return self.text(language, key) if self.has(self.default, key) else code


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
