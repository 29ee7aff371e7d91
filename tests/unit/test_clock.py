"""Time as a dependency: the manual clock, and how times go into and out of the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.clock import ManualClock, from_db, to_db
from bot.db import Database
from bot.models import ProcessedUpdate

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_the_test_clock_starts_monday_morning_in_lumajang(clock: ManualClock) -> None:
    now = clock.now()
    assert now.tzinfo is UTC
    local = now.astimezone(JAKARTA)
    assert (local.year, local.month, local.day, local.hour, local.minute) == (2026, 11, 23, 9, 0)
    assert local.strftime("%A") == "Monday"


def test_the_manual_clock_moves_only_when_told(clock: ManualClock) -> None:
    start = clock.now()
    assert clock.now() == start
    clock.advance(timedelta(minutes=90))
    assert clock.now() - start == timedelta(minutes=90)
    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=JAKARTA))
    assert clock.now() == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_from_db_gives_utc_whatever_the_driver_returns() -> None:
    assert from_db(datetime(2026, 11, 23, 2, 0)) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert from_db(datetime(2026, 11, 23, 9, 0, tzinfo=JAKARTA)) == datetime(
        2026, 11, 23, 2, 0, tzinfo=UTC
    )


def test_to_db_keeps_the_instant_in_utc_and_refuses_naive_times() -> None:
    stored = to_db(datetime(2026, 11, 23, 9, 0, tzinfo=JAKARTA))
    assert stored == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        to_db(datetime(2026, 11, 23, 9, 0))


def test_a_time_prepared_by_to_db_is_stored_and_read_back_unchanged(
    db: Database, clock: ManualClock
) -> None:
    with db.session() as s:
        s.add(ProcessedUpdate(key="update-1", at=to_db(clock.now())))
    with db.session() as s:
        row = s.exec(select(ProcessedUpdate)).one()
    assert from_db(row.at) == clock.now()
