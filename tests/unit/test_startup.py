"""Start-up as an operator meets it: one clear line and exit 2 for each bad setting, one
line per database retry, a start-up line, and logs (plain or JSON) that never show a
secret.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import Redactor
from bot.settings import Settings
from handlers.startup import (
    Unstartable,
    configure_logging,
    safe_url,
    start_services,
    with_retries,
)
from tests.conftest import SOP_DIR
from tests.support.db import sqlite_url

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
REFUSING = "postgresql://kimbot:hunter2-secret@127.0.0.1:1/kimbot"  # nothing listens on 1
CANNOT_START = "KIM-Bot tidak dapat mulai / cannot start: "


def kimbot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`kimbot ARGS` in a clean environment (no .env, none of the caller's settings)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("KIMBOT_", "TELEGRAM_", "WHATSAPP_", "DATABASE_URL"))}
    clean.update({"PYTHONPATH": str(REPO_ROOT), "TELEGRAM_BOT_TOKEN": TOKEN,
                  "DATABASE_URL": sqlite_url(tmp_path)}, **env)
    return subprocess.run([sys.executable, "-m", "handlers.cli", *args],  # noqa: S603
                          cwd=tmp_path, env=clean, capture_output=True, text=True,
                          timeout=120, check=False)


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.strip()]


# -- a bad setting: one line, exit 2 -------------------------------------------------------


def test_an_office_admin_of_an_unknown_office_stops_run_with_one_line(tmp_path: Path) -> None:
    result = kimbot(tmp_path, "run", KIMBOT_OFFICE_ADMINS="123:atlantis")
    assert result.returncode == 2
    [line] = lines(result)
    assert CANNOT_START + "KIMBOT_OFFICE_ADMINS names unknown offices atlantis" in line


def test_a_refusing_postgresql_is_retried_then_named_without_its_password(
        tmp_path: Path) -> None:
    result = kimbot(tmp_path, "run", DATABASE_URL=REFUSING, KIMBOT_DB_TRIES="3",
                    KIMBOT_DB_RETRY_DELAY="0.05", KIMBOT_LOG_JSON="true")
    assert result.returncode == 2
    records = [json.loads(line) for line in lines(result)]
    shown = "postgresql+psycopg://kimbot:***@127.0.0.1:1/kimbot"
    assert [(r["level"], r["message"].split(": connection")[0]) for r in records] == [
        ("WARNING", f"database {shown} not reachable (try 1 of 3)"),
        ("WARNING", f"database {shown} not reachable (try 2 of 3)"),
        ("CRITICAL", f"{CANNOT_START}database {shown} not reachable after 3 tries"),
    ]
    assert "Connection refused" in records[-1]["message"]
    assert "hunter2" not in result.stderr


def test_an_sqlite_file_in_a_missing_folder_stops_run_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = kimbot(tmp_path, "run", DATABASE_URL=f"sqlite:///{missing}/kimbot.db")
    assert result.returncode == 2
    [line] = lines(result)
    assert f"the folder {missing} of the SQLite file does not exist" in line


def test_a_broken_sop_file_stops_run_with_one_line_naming_it(tmp_path: Path) -> None:
    sops = tmp_path / "sops"
    sops.mkdir()
    for path in SOP_DIR.glob("*.yaml"):
        (sops / path.name).write_bytes(path.read_bytes())
    with (sops / "lumajang_pelayanan_kim.yaml").open("a") as broken:
        broken.write("prosedur: [unclosed\n")
    result = kimbot(tmp_path, "run", KIMBOT_SOP_DIR=str(sops))
    assert result.returncode == 2
    [line] = lines(result)
    assert "lumajang_pelayanan_kim.yaml: bukan YAML yang sah" in line


def test_an_invalid_value_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = kimbot(tmp_path, "run", KIMBOT_LOG_LEVEL="LOUD", KIMBOT_DB_TRIES="0")
    assert result.returncode == 2
    assert [line.split(": ")[1] for line in lines(result)] == [
        "KIMBOT_LOG_LEVEL", "KIMBOT_DB_TRIES"]


def test_kimbot_migrate_waits_for_the_database_too(tmp_path: Path) -> None:
    result = kimbot(tmp_path, "migrate", DATABASE_URL=REFUSING, KIMBOT_DB_TRIES="2",
                    KIMBOT_DB_RETRY_DELAY="0")
    assert result.returncode == 2
    assert [line.split(" kimbot.startup ")[0][-8:] for line in lines(result)] == [
        " WARNING", "CRITICAL"]


# -- retries and the start-up line ---------------------------------------------------------


def test_retries_back_off_doubling_and_stop_at_the_first_success() -> None:
    pauses: list[float] = []
    tries = iter([OSError("refused"), OSError("refused"), None])

    def attempt() -> str:
        error = next(tries)
        if error is not None:
            raise error
        return "up"

    assert with_retries("db", attempt, tries=5, delay=1, sleep=pauses.append) == "up"
    assert pauses == [1, 2]

    pauses.clear()
    with pytest.raises(Unstartable, match=r"^db not reachable after 5 tries: refused$"):
        with_retries("db", lambda: (_ for _ in ()).throw(OSError("refused")), tries=5,
                     delay=1, sleep=pauses.append)
    assert pauses == [1, 2, 4, 8]


def test_the_start_up_line_names_the_channels_database_sops_and_offices(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, TELEGRAM_BOT_TOKEN=TOKEN,  # type: ignore[call-arg]
                        DATABASE_URL=sqlite_url(tmp_path))
    with caplog.at_level(logging.INFO, logger="kimbot.startup"):
        svc = start_services(settings)
    svc.db.dispose()
    [line] = [r.getMessage() for r in caplog.records if r.name == "kimbot.startup"]
    assert line.startswith(f"KIM-Bot telegram: database {sqlite_url(tmp_path)}; ")
    assert "lmj-layanan-kim" in line
    assert line.endswith("offices lumajang, kolaka")
    assert safe_url("postgresql+psycopg://kimbot:pw@db/kimbot") == (
        "postgresql+psycopg://kimbot:***@db/kimbot")


# -- logs never show a secret ----------------------------------------------------------------


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What `configure_logging` would write to stderr; the test's logging is restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, sys.excepthook)
    stream = io.StringIO()
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        sys.excepthook = saved[2]
        for name in ("httpx", "httpcore", "alembic", "apscheduler", "hpack"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def _configure(stream: io.StringIO, **env: str) -> None:
    settings = Settings(_env_file=None, **env)  # type: ignore[arg-type]
    configure_logging(settings)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)


def test_tokens_secrets_and_invitation_codes_never_reach_the_log(
        log_output: io.StringIO) -> None:
    _configure(log_output, TELEGRAM_BOT_TOKEN=TOKEN, WHATSAPP_TOKEN="EAAGm0PX4ZCpsBAwa",
               WHATSAPP_APP_SECRET="0f9c2b7e5a1d4c3b", DATABASE_URL=REFUSING)
    logging.getLogger("httpx").warning('HTTP Request: POST https://api.telegram.org/bot%s/getMe '
                                       '"HTTP/1.1 401 Unauthorized"', TOKEN)
    logging.getLogger("telegram.ext").error("The token `%s` was rejected by the server.",
                                            TOKEN.replace("123456789", "987"))
    logging.getLogger("pywa").info("Authorization: Bearer EAAGm0PX4ZCpsBAwa")
    try:
        raise RuntimeError("signature with 0f9c2b7e5a1d4c3b; db password hunter2-secret")
    except RuntimeError:
        logging.getLogger("kimbot").exception("update failed")
    logging.getLogger("bot.x").info("invite link https://t.me/kimbot?start=Ab3_x9ZkQ-2mLp0w; "
                                    "typed: /start Zx8-Qw7_Er6tYu5i, start listening")
    crash = RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    sys.excepthook(RuntimeError, crash, crash.__traceback__)  # uncaught: logged, masked
    text = log_output.getvalue()
    assert "CRITICAL kimbot stopped by an unexpected error" in text
    assert "RuntimeError: The token `***` was rejected by the server." in text
    for secret in ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "EAAGm0PX4ZCpsBAwa",
                   "0f9c2b7e5a1d4c3b", "hunter2-secret", "Ab3_x9ZkQ-2mLp0w",
                   "Zx8-Qw7_Er6tYu5i"):
        assert secret not in text
    assert "https://api.telegram.org/bot***/getMe" in text
    assert "?start=***; typed: /start ***, start listening" in text
    assert "RuntimeError: signature with ***; db password ***" in text  # the traceback too


def test_json_lines_and_the_log_level(log_output: io.StringIO) -> None:
    _configure(log_output, KIMBOT_LOG_JSON="true", KIMBOT_LOG_LEVEL="warning")
    logging.getLogger("bot.delivery").info("not shown at WARNING")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("bot.delivery").exception("pass failed for %s", "telegram")
    [record] = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert set(record) == {"time", "level", "logger", "message", "exc"}
    assert (record["level"], record["logger"], record["message"]) == (
        "ERROR", "bot.delivery", "pass failed for telegram")
    assert record["exc"].endswith("ZeroDivisionError: division by zero")
    assert record["time"].endswith("+00:00")


def test_a_redactor_leaves_ordinary_text_alone() -> None:
    assert Redactor(["x"]).redact("start-up at 12:30:00, case 001/SM/X/2026") == (
        "start-up at 12:30:00, case 001/SM/X/2026")


def test_an_unreachable_telegram_is_retried_then_named_without_the_token(
        tmp_path: Path) -> None:
    """The network is not up yet: each try is a line, then one reason and exit 2."""
    result = kimbot(tmp_path, "run", KIMBOT_TELEGRAM_BASE_URL="http://127.0.0.1:1/bot",
                    KIMBOT_DB_TRIES="3", KIMBOT_DB_RETRY_DELAY="0.05", KIMBOT_LISTEN="127.0.0.1:0")
    assert result.returncode == 2
    shown = lines(result)
    tries = [line for line in shown if "Telegram not reachable (try" in line]
    assert len(tries) == 2
    assert CANNOT_START + "Telegram not reachable after 3 tries" in shown[-1]
    assert TOKEN.split(":")[1] not in result.stderr
