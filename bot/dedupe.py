"""Remember handled updates so a replayed one changes nothing."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.clock import Clock, to_db
from bot.models import ProcessedUpdate

# Dialects with INSERT ... ON CONFLICT DO NOTHING: one statement, no read, no savepoint.
_UPSERT: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


# The advisory-lock key space of per-person locks (two int4 keys; single-key locks, e.g. a
# migration lock, live in another space).
PERSON_LOCKS = 0x4B494D  # "KIM"


def lock_person(session: Session, account: str) -> None:
    """On PostgreSQL, wait until no other transaction handles this person's update; held
    until this transaction ends. (SQLite has one writer at a time anyway.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:account))"),
                        {"space": PERSON_LOCKS, "account": account})


@functools.cache
def _mark(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING key, built once (building it per update
    cost more than running it)."""
    table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    return (_UPSERT[dialect](table).values(key=bindparam("k"), at=bindparam("t"))
            .on_conflict_do_nothing(index_elements=[table.c.key]).returning(table.c.key))


def first_time(session: Session, clock: Clock, key: str) -> bool:
    """Record `key`; False when it was recorded before (by this or another worker)."""
    dialect = session.get_bind().dialect.name
    if dialect in _UPSERT:
        # A Core statement on the session's connection: the ORM has nothing to add here.
        # RETURNING, not rowcount: psycopg reports rowcount -1 for this statement.
        found = session.connection().execute(_mark(dialect), {"k": key,
                                                              "t": to_db(clock.now())})
        return found.first() is not None
    if session.get(ProcessedUpdate, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ProcessedUpdate(key=key, at=to_db(clock.now())))
    except IntegrityError:
        return False
    return True
