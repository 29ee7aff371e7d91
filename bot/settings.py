"""Configuration from the environment or `.env`, validated once at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("id", "en")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}\Z", re.ASCII)
_OFFICE_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}\Z", re.ASCII)
TELEGRAM, WHATSAPP = "telegram", "whatsapp"
CHANNELS = (TELEGRAM, WHATSAPP)
# An account id on each channel: a Telegram user id; a WhatsApp number in international
# form without "+" (62812…), as WhatsApp names its users.
_ACCOUNT_ID = {
    TELEGRAM: re.compile(r"[0-9]{1,20}\Z", re.ASCII),
    WHATSAPP: re.compile(r"[1-9][0-9]{7,14}\Z", re.ASCII),
}


def account_key(value: object) -> str | None:
    """'channel:id' for an admin account as configured or asked about, else None.

    A bare number (123, "123") is a Telegram id, as KIMBOT_ADMIN_IDS always meant; a
    WhatsApp number may be written with "+" (whatsapp:+6281…).
    """
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    channel, sep, ident = text.partition(":")
    if not sep:
        channel, ident = TELEGRAM, text
    channel, ident = channel.strip().lower(), ident.strip()
    if channel == WHATSAPP:
        ident = ident.removeprefix("+")
    pattern = _ACCOUNT_ID.get(channel)
    if pattern is None or not pattern.match(ident):
        return None
    if channel == TELEGRAM:
        ident = str(int(ident))  # "007" is user 7
    return f"{channel}:{ident}"


class Settings(BaseSettings):
    """Everything the bot needs to start; built once and passed down."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    database_url: str = Field(default="sqlite:///kimbot.db", alias="DATABASE_URL")
    # Admins of every office, as account keys ("telegram:123", "whatsapp:6281234567890");
    # the environment may give a bare Telegram id: KIMBOT_ADMIN_IDS=123,whatsapp:62812…
    admin_ids: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="KIMBOT_ADMIN_IDS")
    # Admins of some offices only: (account key, office) from "123:lumajang,whatsapp:62812…:
    # kolaka" (an account may appear more than once).
    office_admins: Annotated[tuple[tuple[str, str], ...], NoDecode] = Field(
        default=(), alias="KIMBOT_OFFICE_ADMINS")
    telegram_base_url: str | None = Field(default=None, alias="KIMBOT_TELEGRAM_BASE_URL")
    telegram_base_file_url: str | None = Field(default=None, alias="KIMBOT_TELEGRAM_FILE_URL")
    sop_dir: Path = Field(default=ROOT / "sop_steps", alias="KIMBOT_SOP_DIR")
    locales_dir: Path = Field(default=ROOT / "locales", alias="KIMBOT_LOCALES_DIR")
    default_language: str = Field(default="id", alias="KIMBOT_DEFAULT_LANGUAGE")
    per_chat_interval_s: float = Field(default=1.0, ge=0, le=60, alias="KIMBOT_PER_CHAT_INTERVAL")
    global_rate_per_s: float = Field(default=30.0, gt=0, le=100_000, alias="KIMBOT_GLOBAL_RATE")
    outbox_poll_s: float = Field(default=2.0, gt=0, le=600, alias="KIMBOT_OUTBOX_POLL")
    # How long a claimed notification is a sender's; a killed sender's rows go out again after.
    outbox_lease_s: float = Field(default=60.0, gt=0, le=3600, alias="KIMBOT_OUTBOX_LEASE")
    max_file_mb: int = Field(default=20, ge=1, le=50, alias="KIMBOT_MAX_FILE_MB")
    # Working days an office has to answer a complaint (pengaduan).
    complaint_sla_days: int = Field(default=5, ge=1, le=60, alias="KIMBOT_COMPLAINT_SLA_DAYS")
    # Office minutes between a finished request and its survey invitation.
    survey_delay_min: int = Field(default=60, ge=0, le=24 * 60, alias="KIMBOT_SURVEY_DELAY_MIN")
    invitation_ttl_h: int = Field(default=72, ge=1, le=24 * 90, alias="KIMBOT_INVITATION_TTL_H")
    # Retention (bot/retention.py): delivered notifications and replay marks are pruned.
    keep_sent_days: int = Field(default=30, ge=1, le=3650, alias="KIMBOT_KEEP_SENT_DAYS")
    keep_updates_days: int = Field(default=7, ge=1, le=3650, alias="KIMBOT_KEEP_UPDATES_DAYS")
    # Worker processes that read and draw /laporan and /ekspor (bot/offload.py), so that a
    # large office's report does not slow everyone else's turns; 0: a thread of this process.
    report_processes: int = Field(default=1, ge=0, le=16, alias="KIMBOT_REPORT_PROCESSES")
    # Opt-in: log message contents of failed updates (personal data: debugging only).
    log_contents: bool = Field(default=False, alias="KIMBOT_LOG_CONTENTS")
    log_level: str = Field(default="INFO", alias="KIMBOT_LOG_LEVEL")
    log_json: bool = Field(default=False, alias="KIMBOT_LOG_JSON")  # one JSON object a line
    # Start-up waits for the database: this many tries, the first pause this long, doubling.
    db_tries: int = Field(default=5, ge=1, le=100, alias="KIMBOT_DB_TRIES")
    db_retry_s: float = Field(default=1.0, ge=0, le=300, alias="KIMBOT_DB_RETRY_DELAY")
    # Where attachments are kept, once each, by content hash (file:// only for now).
    file_store: str = Field(default="file://kimbot-files", alias="KIMBOT_FILE_STORE")
    # WhatsApp Cloud API (served when phone id, token, app secret and verify token are set).
    whatsapp_phone_id: str | None = Field(default=None, alias="WHATSAPP_PHONE_ID")
    whatsapp_token: SecretStr | None = Field(default=None, alias="WHATSAPP_TOKEN")
    whatsapp_app_secret: SecretStr | None = Field(default=None, alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr | None = Field(default=None, alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_number: str = Field(default="", alias="WHATSAPP_NUMBER")  # for wa.me links
    whatsapp_graph_url: str | None = Field(default=None, alias="KIMBOT_WHATSAPP_GRAPH_URL")
    whatsapp_rate_per_s: float = Field(default=80.0, gt=0, le=1000, alias="KIMBOT_WHATSAPP_RATE")
    whatsapp_per_chat_interval_s: float = Field(default=6.0, ge=0, le=60,
                                                alias="KIMBOT_WHATSAPP_PER_CHAT_INTERVAL")
    # Template messages (registered in WhatsApp Manager, in id and en) used outside the
    # 24-hour window: one body parameter, the notification's text.
    whatsapp_template_notify: str = Field(default="kimbot_pemberitahuan",
                                          alias="WHATSAPP_TEMPLATE_NOTIFY")
    whatsapp_template_broadcast: str = Field(default="kimbot_siaran",
                                             alias="WHATSAPP_TEMPLATE_BROADCAST")
    # The web server (WhatsApp webhook; later Telegram webhooks and /healthz).
    listen: str = Field(default="127.0.0.1:8080", alias="KIMBOT_LISTEN")
    # Telegram webhook mode (else long polling): the public https URL Telegram posts to (its
    # path is served here) and the secret it must send in X-Telegram-Bot-Api-Secret-Token.
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(default=None,
                                                      alias="TELEGRAM_WEBHOOK_SECRET")

    @property
    def whatsapp_enabled(self) -> bool:
        """All four WhatsApp settings are there."""
        return bool(self.whatsapp_phone_id and self.whatsapp_token
                    and self.whatsapp_app_secret and self.whatsapp_verify_token)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            value = [p for p in value.replace(";", ",").split(",") if p.strip()]
        if not isinstance(value, list | tuple):
            return value
        keys: list[str] = []
        for part in value:
            key = account_key(part)
            if key is None:
                raise ValueError(
                    "KIMBOT_ADMIN_IDS: comma-separated admin accounts, a Telegram user id "
                    f"or CHANNEL:ID, e.g. 123,whatsapp:6281234567890 (not {str(part).strip()!r})")
            if key not in keys:
                keys.append(key)
        return tuple(keys)

    @field_validator("office_admins", mode="before")
    @classmethod
    def _split_office_admins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p for p in value.replace(";", ",").split(",") if p.strip()]
        if not isinstance(value, list | tuple):
            return value
        pairs: list[tuple[str, str]] = []
        for part in value:
            if isinstance(part, str):
                who, sep, office = part.strip().rpartition(":")
            else:  # already a pair (a copy of settings)
                who, office = part
                sep = ":"
            key = account_key(who) if sep else None
            office = str(office).strip().lower()
            if key is None or not _OFFICE_CODE.match(office):
                raise ValueError(
                    "KIMBOT_OFFICE_ADMINS: comma-separated [CHANNEL:]ID:OFFICE pairs, e.g. "
                    "123:lumajang,whatsapp:6281234567890:kolaka (a bare id is Telegram's) "
                    f"(not {str(part).strip()!r})")
            pair = (key, office)
            if pair not in pairs:
                pairs.append(pair)
        return tuple(pairs)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.match(value.get_secret_value()):
            raise ValueError("16 to 256 characters A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")
        return value

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
