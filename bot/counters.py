"""Running numbers per office per year (Buku Agenda, complaints), gap-free and unique."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.models import AgendaCounter, ComplaintCounter

C = TypeVar("C", AgendaCounter, ComplaintCounter)


def next_number(session: Session, model: type[C], office: str, year: int) -> int:
    """The next running number; the row lock serialises concurrent workers on PostgreSQL."""
    for _ in range(3):
        counter = session.exec(
            select(model).where(model.office == office).where(model.year == year)
            .with_for_update()
        ).first()
        if counter is not None:
            counter.last += 1
            session.add(counter)
            session.flush()
            return counter.last
        try:
            with session.begin_nested():
                session.add(model(office=office, year=year, last=0))
        except IntegrityError:
            continue  # another worker created it first; lock theirs
    raise RuntimeError(f"{model.__name__} of {office} {year} could not be locked")
