"""Shared fixtures for unit and end-to-end tests.

- No network: any connection to something other than loopback fails the test.
- `database_url` runs a test on SQLite, and on PostgreSQL when KIMBOT_TEST_DATABASE_URL is set
  (each test gets its own empty schema).
- `db`, `clock`, `registry`, `workflow`: the core wired up as the bot wires it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.db import Database
from bot.sop import SopRegistry
from bot.workflow import Workflow
from tests.support.db import POSTGRES_ENV, POSTGRES_SKIP_REASON, postgres_schema, sqlite_url

REPO_ROOT = Path(__file__).resolve().parent.parent
SOP_DIR = REPO_ROOT / "sop_steps"
JAKARTA = ZoneInfo("Asia/Jakarta")
# Monday, office hours, Lumajang time.
START = datetime(2026, 11, 23, 9, 0, tzinfo=JAKARTA)


# -- network guard -----------------------------------------------------------------------


class NetworkBlocked(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """Raised when a test tries to reach a non-loopback host (a BaseException: not swallowed)."""


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    host = host.split("%", 1)[0]  # IPv6 scope id
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed(family: Any, address: Any) -> bool:
    if getattr(socket, "AF_UNIX", None) is not None and family == socket.AF_UNIX:
        return True
    if isinstance(address, (str, bytes)):  # a path: a unix socket
        return True
    if isinstance(address, tuple) and address:
        return _is_loopback(address[0])
    return False


class NetworkGuard:
    """Records and refuses every connection attempt to a non-loopback address."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def refuse(self, address: Any) -> None:
        self.blocked.append(repr(address))
        raise NetworkBlocked(
            f"tests must not use the network: connection to {address!r} refused "
            "(only loopback and unix sockets are allowed)"
        )


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    guard = NetworkGuard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def connect(self: socket.socket, address: Any) -> Any:
        if not _allowed(self.family, address):
            guard.refuse(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not _allowed(self.family, address):
            guard.refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _allowed(None, address):
            guard.refuse(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield guard
    if guard.blocked:
        pytest.fail(f"test tried to reach the network: {', '.join(guard.blocked)}")


# -- files -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def file_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test keeps the files the bot stores in its own temporary folder."""
    root = tmp_path / "files"
    monkeypatch.setenv("KIMBOT_FILE_STORE", f"file://{root}")
    return root


# -- database ----------------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(POSTGRES_SKIP_REASON)
    with postgres_schema(base) as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema's URL (skipped without KIMBOT_TEST_DATABASE_URL)."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(POSTGRES_SKIP_REASON)
    with postgres_schema(base) as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The database migrated to the newest schema; disposed after the test."""
    database = Database(database_url)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()


# -- the core ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    """Monday 2026-11-23 09:00 WIB; moves only when a test moves it."""
    return ManualClock(START)


@pytest.fixture
def registry() -> SopRegistry:
    """The SOPs shipped in sop_steps/."""
    return SopRegistry.from_dir(SOP_DIR)


@pytest.fixture
def workflow(registry: SopRegistry, clock: ManualClock) -> Workflow:
    return Workflow(registry, clock)
