"""Start-up configuration: bad values are refused with a message naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings

ENV_VARS = (
    "TELEGRAM_BOT_TOKEN",
    "DATABASE_URL",
    "KIMBOT_ADMIN_IDS",
    "KIMBOT_OFFICE_ADMINS",
    "KIMBOT_TELEGRAM_BASE_URL",
    "KIMBOT_TELEGRAM_FILE_URL",
    "KIMBOT_SOP_DIR",
    "KIMBOT_LOCALES_DIR",
    "KIMBOT_DEFAULT_LANGUAGE",
    "KIMBOT_PER_CHAT_INTERVAL",
    "KIMBOT_GLOBAL_RATE",
    "KIMBOT_OUTBOX_POLL",
    "KIMBOT_MAX_FILE_MB",
    "KIMBOT_INVITATION_TTL_H",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets counts; directories point at existing folders."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    sops = tmp_path / "sop_steps"
    locales = tmp_path / "locales"
    sops.mkdir()
    locales.mkdir()
    monkeypatch.setenv("KIMBOT_SOP_DIR", str(sops))
    monkeypatch.setenv("KIMBOT_LOCALES_DIR", str(locales))


def load() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_defaults() -> None:
    settings = load()
    assert settings.admin_ids == ()
    assert settings.database_url == "sqlite:///kimbot.db"
    assert settings.default_language == "id"
    assert settings.telegram_bot_token is None


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("1, 2", ("telegram:1", "telegram:2")),  # a bare id is a Telegram id, as always
        ("42", ("telegram:42",)),
        ("7;8", ("telegram:7", "telegram:8")),
        ("1,,2,", ("telegram:1", "telegram:2")),
        ("", ()),
        ("telegram:42, 42", ("telegram:42",)),
        ("whatsapp:6281234567890,5", ("whatsapp:6281234567890", "telegram:5")),
        ("WhatsApp:+6281234567890", ("whatsapp:6281234567890",)),
    ],
)
def test_admin_ids_from_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, value: str, ids: tuple[str, ...]
) -> None:
    monkeypatch.setenv("KIMBOT_ADMIN_IDS", value)
    assert load().admin_ids == ids


@pytest.mark.parametrize(
    "value", ["1, dua", "@admin", "1.5", "sms:1", "telegram:", "whatsapp:081234567",
              "whatsapp:62-812", "telegram:abc"])
def test_bad_admin_ids_are_refused_clearly(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KIMBOT_ADMIN_IDS", value)
    message = "KIMBOT_ADMIN_IDS: comma-separated admin accounts, a Telegram user id or CHANNEL:ID"
    with pytest.raises(ValidationError, match=message):
        load()


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgres://kim:pw@db:5432/kimbot", "postgresql+psycopg://kim:pw@db:5432/kimbot"),
        ("postgresql://kim@db/kimbot", "postgresql+psycopg://kim@db/kimbot"),
        ("postgresql+psycopg://kim@db/kimbot", "postgresql+psycopg://kim@db/kimbot"),
        ("sqlite:////var/lib/kimbot/kimbot.db", "sqlite:////var/lib/kimbot/kimbot.db"),
    ],
)
def test_database_urls_use_psycopg3(
    monkeypatch: pytest.MonkeyPatch, url: str, normalised: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert load().database_url == normalised


@pytest.mark.parametrize("url", ["mysql://kim@db/kimbot", "postgresql+psycopg2://kim@db/x"])
def test_other_databases_are_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ValidationError, match="DATABASE_URL must be a sqlite"):
        load()


def test_a_missing_sop_dir_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "tidak-ada"
    monkeypatch.setenv("KIMBOT_SOP_DIR", str(missing))
    with pytest.raises(ValidationError, match=f"{missing} is not a directory"):
        load()


def test_sop_dir_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load().sop_dir == tmp_path / "sop_steps"


def test_an_unknown_default_language_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIMBOT_DEFAULT_LANGUAGE", "jv")
    with pytest.raises(ValidationError, match="language must be one of"):
        load()


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:ABC")
    settings = load()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:ABC"
    assert "123:ABC" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("KIMBOT_MAX_FILE_MB", "0"), ("KIMBOT_MAX_FILE_MB", "51"), ("KIMBOT_GLOBAL_RATE", "0")],
)
def test_limits_out_of_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        load()
