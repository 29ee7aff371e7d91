"""Remember handled updates so a replayed one changes nothing."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.clock import Clock, to_db
from bot.models import ProcessedUpdate


def first_time(session: Session, clock: Clock, key: str) -> bool:
    """Record `key`; False when it was recorded before (by this or another worker)."""
    if session.get(ProcessedUpdate, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ProcessedUpdate(key=key, at=to_db(clock.now())))
    except IntegrityError:
        return False
    return True
