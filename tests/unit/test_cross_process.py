"""Several processes on one PostgreSQL: the replay guard, per-person locks, outbox claims."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from bot.clock import ManualClock
from bot.db import Database
from bot.dedupe import first_time, lock_person
from bot.models import Notification
from bot.outbox import claim_due, notify
from tests.support.factories import make_user

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    """A migrated database in a fresh PostgreSQL schema (SQLite has one writer anyway)."""
    database = Database(pg_url)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()


def test_two_transactions_recording_one_update_one_wins_the_other_sees_a_replay(
        pg: Database, clock: ManualClock) -> None:
    results: list[bool] = []
    first = Session(pg.engine)
    assert first_time(first, clock, "tg:1")  # not committed yet

    def second() -> None:
        with pg.session() as session:  # waits for the first transaction's key
            results.append(first_time(session, clock, "tg:1"))

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    assert results == []  # still waiting on the first
    first.commit()
    first.close()
    thread.join(10)
    assert results == [False]  # a replay, not a unique-violation traceback


def test_one_persons_updates_wait_for_each_other_others_do_not(
        pg: Database, clock: ManualClock) -> None:
    held = Session(pg.engine)
    lock_person(held, "telegram:1")
    order: list[str] = []

    def run(account: str) -> None:
        with pg.session() as session:
            lock_person(session, account)
            order.append(account)

    same = threading.Thread(target=run, args=("telegram:1",))
    other = threading.Thread(target=run, args=("telegram:2",))
    same.start()
    other.start()
    other.join(10)
    time.sleep(0.2)
    assert order == ["telegram:2"]  # the same person waits; someone else does not
    order.append("released")
    held.commit()
    held.close()
    same.join(10)
    assert order == ["telegram:2", "released", "telegram:1"]


def test_outbox_claims_skip_rows_another_worker_holds(pg: Database, clock: ManualClock) -> None:
    with pg.session() as session:
        user = make_user(session, name="Sari")
        assert user.id is not None
        for n in range(6):
            notify(session, clock, user.id, "notify.task", n=n)
    mine = Session(pg.engine)
    first = [row.id for row in claim_due(mine, clock, limit=3)]  # not committed yet
    started = time.monotonic()
    with pg.session() as session:  # another worker: neither waits nor takes the same rows
        second = [row.id for row in claim_due(session, clock, limit=10)]
    assert time.monotonic() - started < 2
    mine.commit()
    mine.close()
    assert len(first) == 3
    assert len(second) == 3
    assert not set(first) & set(second)
    with pg.session() as session:
        statuses = set(session.exec(select(Notification.status)))
    assert statuses == {"sending"}
