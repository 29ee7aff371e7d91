"""Slow reading (reports, exports) in worker processes, so that the event loop never waits.

A thread is not enough: reading and drawing a year of a large office is Python work that
holds the GIL, and every turn on the event loop waits for it (p99 ~300 ms at 100,000 cases).
A worker process has a GIL of its own. It is sent a job (a module-level function and plain
arguments) with the settings it needs (`Env`), opens the database, the SOPs and the catalogs
itself (once per process: only the first job pays) and sends back plain data (texts, bytes).

The pool is started on first use with the `spawn` context (a forked child would inherit the
bot's threads, event loop and database connections) and shut down when the process exits.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import make_url

from bot.db import Database
from bot.i18n import Translator
from bot.sop import SopRegistry

if TYPE_CHECKING:
    from bot.services import Services

R = TypeVar("R")
KEEP_DATABASES = 2  # engines a worker keeps open (tests give each test its own database)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Env:
    """What a worker needs to open what the bot reads with (plain, picklable)."""

    database_url: str
    sop_dir: str
    locales_dir: str
    default_language: str


@dataclass
class Pieces:
    """What a job reads with: the database, the SOPs and the catalogs."""

    db: Database
    registry: SopRegistry
    tr: Translator


def local_pieces(svc: Services) -> Pieces:
    """The bot's own pieces (the thread path)."""
    return Pieces(svc.db, svc.registry, svc.tr)


def env_for(svc: Services) -> Env | None:
    """The settings a worker process rebuilds the services from; None: use a thread.

    A thread when no worker is configured (KIMBOT_REPORT_PROCESSES=0) or when another
    process could not see this database (in-memory SQLite). The SOPs and catalogs are read
    from the configured folders, as `build_services` reads them.
    """
    settings = svc.settings
    if not settings.report_processes or _in_memory(svc.db.url):
        return None
    return Env(svc.db.url, str(settings.sop_dir), str(settings.locales_dir),
               settings.default_language)


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return False
    return parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"


async def run(processes: int, env: Env, job: Callable[..., R], *args: Any) -> R:
    """`job(pieces, *args)` in a worker process; a worker that died takes its pool with it
    (BrokenProcessPool is raised: the person is told of an internal error) and the next job
    starts a new one."""
    pool = _executor(processes)
    try:
        return await asyncio.wrap_future(pool.submit(_work, env, job, args))
    except BrokenProcessPool:
        log.error("a report worker process died; the next report starts a new one")
        _discard(pool)
        raise


# -- the parent's pool -------------------------------------------------------------------

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0


def _executor(processes: int) -> ProcessPoolExecutor:
    global _pool, _size
    with _lock:
        if _pool is not None and _size != processes:  # another configuration (tests)
            _pool.shutdown(wait=False)
            _pool = None
        if _pool is None:
            _pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_ignore_interrupts)
            _size = processes
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def shutdown() -> None:
    """Stop the workers (waits for a job still running)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


# -- in the worker -----------------------------------------------------------------------

_databases: dict[str, Database] = {}  # oldest first


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the bot stops its workers itself (at exit).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(env: Env, job: Callable[..., R], args: tuple[Any, ...]) -> R:
    pieces = Pieces(_database(env.database_url), _registry(env.sop_dir),
                    _translator(env.locales_dir, env.default_language))
    return job(pieces, *args)


def _database(url: str) -> Database:
    db = _databases.pop(url, None) or Database(url)  # the bot migrated it already
    _databases[url] = db
    while len(_databases) > KEEP_DATABASES:
        _databases.pop(next(iter(_databases))).dispose()
    return db


@functools.lru_cache(maxsize=4)
def _registry(sop_dir: str) -> SopRegistry:
    return SopRegistry.from_dir(Path(sop_dir))


@functools.lru_cache(maxsize=4)
def _translator(locales_dir: str, default_language: str) -> Translator:
    return Translator(Path(locales_dir), default_language)
