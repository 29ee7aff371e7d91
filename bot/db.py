"""Engine, sessions and schema migrations (Alembic)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock key held while migrating (any fixed bigint; "kimbot" in ASCII).
MIGRATION_LOCK = 0x6B696D626F74
CONNECT_TIMEOUT_S = 10  # PostgreSQL
SQLITE_BUSY_MS = 5000  # how long an SQLite write waits for another writer
SQLITE_WAIT_MS = 120_000  # ... and a migration for another process's migration
AFTER_COMMIT = "kimbot.after_commit"

log = logging.getLogger(__name__)


def after_commit(session: Session, work: Callable[[], None]) -> None:
    """Run `work` after this session's transaction has committed (see `Database.session`)."""
    session.info.setdefault(AFTER_COMMIT, []).append(work)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; NORMAL sync is safe with WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A host that drops packets would hold a connect (start-up, /readyz) for minutes.
    timeout = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT_S}
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                         connect_args=timeout)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest schema revision this code knows (Alembic's head)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


class Database:
    """One engine for the process; a session per unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`; processes starting together migrate one at a time."""
        with self._migrating() as config:
            command.upgrade(config, revision)

    def downgrade(self, revision: str) -> None:
        with self._migrating() as config:
            command.downgrade(config, revision)

    @contextmanager
    def _migrating(self) -> Iterator[Config]:
        """An Alembic config on one connection, in one transaction, under the migration lock.

        On PostgreSQL a session-level advisory lock on the same connection serialises
        migrations across processes: the second one waits, then finds the schema current
        (without it, two processes on an empty database both create the tables and one
        fails). On SQLite the file's write lock, taken first (BEGIN IMMEDIATE), does it.
        """
        with self.engine.connect() as connection:
            if not self.is_sqlite:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
            try:
                with connection.begin():
                    if self.is_sqlite:  # take the write lock now, not at the first write
                        connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_WAIT_MS}")
                        connection.exec_driver_sql("BEGIN IMMEDIATE")
                    config = alembic_config(self.url)
                    config.attributes["connection"] = connection
                    yield config
            finally:
                if self.is_sqlite:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
                else:
                    self._unlock(connection)

    @staticmethod
    def _unlock(connection: Connection) -> None:
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        except Exception:  # a broken connection: the server dropped the lock with it
            log.warning("could not release the migration lock", exc_info=True)
            connection.invalidate()

    def revision(self) -> str | None:
        """The schema revision the database is at (None: never migrated)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on error.

        Work registered with `after_commit` runs once the outermost commit is done (never
        on a rolled-back transaction; SQLAlchemy's own `after_commit` event also fires when
        a savepoint is released, which is too early for, e.g., deleting files).
        """
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            for work in session.info.pop(AFTER_COMMIT, []):
                work()

    def dispose(self) -> None:
        self.engine.dispose()
