"""Start-up of `kimbot run`: logging, then the SOPs, the database and the services.

Every problem an operator can fix by editing a setting or a file ends the start with ONE
line on stderr and exit code 2 (`Unstartable`), never a traceback: an office admin of an
unknown office, a broken SOP or survey file, an SQLite file in a missing or read-only
folder, a database that still refuses connections after the retries. Each retry is one
line too, so `docker compose logs` shows what the process is waiting for.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import logs
from bot.admin import check_office_admins
from bot.db import Database
from bot.services import Services, build_services
from bot.settings import Settings
from bot.sop import SopRegistry
from bot.sop.loader import SopError
from bot.survey import SkmError, load_form
from handlers.metrics import channels_configured

log = logging.getLogger("kimbot.startup")
T = TypeVar("T")
EXIT_SETTINGS = 2


class Unstartable(Exception):
    """A setting or file the operator must fix; the message says which, on one line."""


def configure_logging(settings: Settings) -> None:
    """Logging as KIMBOT_LOG_LEVEL and KIMBOT_LOG_JSON say, with every secret masked."""
    logs.configure(settings.log_level, json_lines=settings.log_json,
                   secrets=secret_values(settings))


def secret_values(settings: Settings) -> list[str]:
    """Values that must never reach a log: every secret setting and the database password."""
    values = [value.get_secret_value() for name in type(settings).model_fields
              if isinstance(value := getattr(settings, name), SecretStr)]
    password = make_url(settings.database_url).password
    if password:
        values.append(str(password))
    return [v for v in values if v]


def safe_url(url: str) -> str:
    """The database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def start_services(settings: Settings, *, sleep: Callable[[float], None] = time.sleep
                   ) -> Services:
    """Check the files and settings, wait for the database, migrate it, build the services;
    on a problem the operator must fix, log its one line and exit 2."""
    with exit_on_problem():
        registry = load_registry(settings)
        db = open_database(settings, sleep=sleep)
        try:
            svc = build_services(settings, registry=registry, db=db)
        except BaseException:
            db.dispose()
            raise
    log.info("%s", describe(svc))
    return svc


def migrate_database(settings: Settings, *, sleep: Callable[[float], None] = time.sleep
                     ) -> None:
    """`kimbot migrate`: wait for the database and migrate it (exit 2 with one line)."""
    with exit_on_problem():
        open_database(settings, sleep=sleep).dispose()


@contextmanager
def exit_on_problem() -> Iterator[None]:
    try:
        yield
    except Unstartable as exc:
        log.critical("KIM-Bot tidak dapat mulai / cannot start: %s", " ".join(str(exc).split()))
        raise SystemExit(EXIT_SETTINGS) from None


def open_database(settings: Settings, *,
                  sleep: Callable[[float], None] = time.sleep) -> Database:
    """The database, reachable (after retries) and at the newest schema."""
    check_sqlite_path(settings.database_url)
    db = Database(settings.database_url)
    try:
        with_retries(f"database {safe_url(db.url)}", lambda: _ping(db),
                     tries=settings.db_tries, delay=settings.db_retry_s, sleep=sleep)
        try:
            db.migrate()  # under a lock: processes starting together migrate once
        except SQLAlchemyError as exc:
            raise Unstartable(f"database {safe_url(db.url)}: migration failed: "
                              f"{_reason(exc)}") from exc
    except BaseException:
        db.dispose()
        raise
    return db


def load_registry(settings: Settings) -> SopRegistry:
    """The SOPs and offices, checked against the admin settings and the survey form."""
    try:
        registry = SopRegistry.from_dir(settings.sop_dir)
        load_form(settings.sop_dir)
    except (SopError, SkmError) as exc:
        raise Unstartable(f"{settings.sop_dir}: {exc} (check with `kimbot sop check`)") from exc
    try:
        check_office_admins(settings, registry.offices)
    except ValueError as exc:
        raise Unstartable(str(exc)) from exc
    return registry


def check_sqlite_path(url: str) -> None:
    """An SQLite file must be in a folder that exists and that this user may write to."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise Unstartable(f"DATABASE_URL: the folder {folder} of the SQLite file does not "
                          "exist (create it, or point DATABASE_URL elsewhere)")
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        raise Unstartable(f"DATABASE_URL: {target} is not writable by this user "
                          f"(uid {os.getuid()}); in Docker use sqlite:////data/kimbot.db")


def with_retries(what: str, attempt: Callable[[], T], *, tries: int, delay: float,
                 sleep: Callable[[float], None] = time.sleep,
                 retry_on: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)) -> T:
    """`attempt()`, tried `tries` times with pauses of delay, 2×delay, 4×delay …; one log
    line per failed try (errors of `retry_on` only; e.g. a channel's network errors for its
    start-up). After the last, Unstartable names `what` and the reason."""
    for number in range(1, tries + 1):
        try:
            return attempt()
        except retry_on as exc:
            reason = _reason(exc)
            if number == tries:
                raise Unstartable(f"{what} not reachable after {tries} "
                                  f"{'try' if tries == 1 else 'tries'}: {reason}") from exc
            pause = delay * 2 ** (number - 1)
            log.warning("%s not reachable (try %d of %d): %s; next try in %g s",
                        what, number, tries, reason, pause)
            sleep(pause)
    raise AssertionError("unreachable")  # the loop returns or raises


def _ping(db: Database) -> None:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _reason(exc: BaseException) -> str:
    """The driver's own first line (e.g. "Connection refused"), without SQLAlchemy's
    statement dump and background link."""
    origin = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(origin).splitlines() if line.strip()]
    return lines[0] if lines else type(origin).__name__


def describe(svc: Services, bot_name: str | None = None) -> str:
    """The start-up line: the bot, the database (no password), the SOPs and offices."""
    settings = svc.settings
    who = bot_name or ", ".join(channels_configured(settings)) or "no channel"
    sops = ", ".join(sorted(svc.registry.sops)) or "none"
    offices = ", ".join(svc.registry.offices) or "none"
    return (f"KIM-Bot {who}: database {safe_url(settings.database_url)}; "
            f"{len(svc.registry.sops)} SOPs ({sops}); offices {offices}")

