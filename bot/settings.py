"""Configuration from the environment or `.env`, validated once at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("id", "en")
_OFFICE_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}\Z", re.ASCII)


class Settings(BaseSettings):
    """Everything the bot needs to start; built once and passed down."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    database_url: str = Field(default="sqlite:///kimbot.db", alias="DATABASE_URL")
    admin_ids: Annotated[tuple[int, ...], NoDecode] = Field(default=(), alias="KIMBOT_ADMIN_IDS")
    # Admins of some offices only: "123:lumajang,456:kolaka" (an id may appear more than once).
    office_admins: Annotated[tuple[tuple[int, str], ...], NoDecode] = Field(
        default=(), alias="KIMBOT_OFFICE_ADMINS")
    telegram_base_url: str | None = Field(default=None, alias="KIMBOT_TELEGRAM_BASE_URL")
    telegram_base_file_url: str | None = Field(default=None, alias="KIMBOT_TELEGRAM_FILE_URL")
    sop_dir: Path = Field(default=ROOT / "sop_steps", alias="KIMBOT_SOP_DIR")
    locales_dir: Path = Field(default=ROOT / "locales", alias="KIMBOT_LOCALES_DIR")
    default_language: str = Field(default="id", alias="KIMBOT_DEFAULT_LANGUAGE")
    per_chat_interval_s: float = Field(default=1.0, ge=0, le=60, alias="KIMBOT_PER_CHAT_INTERVAL")
    global_rate_per_s: float = Field(default=30.0, gt=0, le=100_000, alias="KIMBOT_GLOBAL_RATE")
    outbox_poll_s: float = Field(default=2.0, gt=0, le=600, alias="KIMBOT_OUTBOX_POLL")
    max_file_mb: int = Field(default=20, ge=1, le=50, alias="KIMBOT_MAX_FILE_MB")
    invitation_ttl_h: int = Field(default=72, ge=1, le=24 * 90, alias="KIMBOT_INVITATION_TTL_H")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return tuple(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("KIMBOT_ADMIN_IDS: comma-separated Telegram user ids") from exc
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("office_admins", mode="before")
    @classmethod
    def _split_office_admins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: list[tuple[int, str]] = []
        for part in value.replace(";", ",").split(","):
            if not part.strip():
                continue
            ident, sep, office = part.partition(":")
            office = office.strip().lower()
            if not sep or not ident.strip().isdigit() or not _OFFICE_CODE.match(office):
                raise ValueError(
                    "KIMBOT_OFFICE_ADMINS: comma-separated TELEGRAM_ID:OFFICE pairs, "
                    f"e.g. 123:lumajang,456:kolaka (not {part.strip()!r})")
            pair = (int(ident), office)
            if pair not in pairs:
                pairs.append(pair)
        return tuple(pairs)

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgres://")
        elif value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite:", "postgresql+psycopg:")):
            raise ValueError("DATABASE_URL must be a sqlite:/// path or a postgresql:// URL")
        return value

    @field_validator("sop_dir", "locales_dir")
    @classmethod
    def _existing_dir(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value
