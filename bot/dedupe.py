"""Remember handled updates so a replayed one changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.clock import Clock, to_db
from bot.models import ProcessedUpdate

# Dialects with INSERT ... ON CONFLICT DO NOTHING: one statement, no read, no savepoint.
_UPSERT: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def first_time(session: Session, clock: Clock, key: str) -> bool:
    """Record `key`; False when it was recorded before (by this or another worker)."""
    insert = _UPSERT.get(session.get_bind().dialect.name)
    if insert is not None:
        table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
        statement = (insert(table).values(key=key, at=to_db(clock.now()))
                     .on_conflict_do_nothing(index_elements=[table.c.key])
                     .returning(table.c.key))
        # RETURNING, not rowcount: psycopg reports rowcount -1 for this statement.
        return session.execute(statement).first() is not None
    if session.get(ProcessedUpdate, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ProcessedUpdate(key=key, at=to_db(clock.now())))
    except IntegrityError:
        return False
    return True
