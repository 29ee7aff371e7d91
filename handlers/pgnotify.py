"""Wake a worker's delivery loops as soon as another process commits outbox rows.

A web process cannot wake a worker in memory; `bot.outbox.notify` sends a PostgreSQL
NOTIFY with the transaction, and here a worker LISTENs on its own connection. The outbox
poll (KIMBOT_OUTBOX_POLL) stays as the fallback: a lost connection only costs latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from bot.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)
RETRY_S = 5.0


def conninfo(database_url: str) -> str:
    """The libpq URL of a SQLAlchemy postgresql+psycopg URL (options kept)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class OutboxListener:
    """LISTEN for committed outbox rows and call `wake` for each notification."""

    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        self.database_url = database_url
        self.wake = wake
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._main(), name="outbox-listen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _main(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        conninfo(self.database_url), autocommit=True) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.wake()  # rows committed while we were not listening
                    async for _notice in connection.notifies():
                        self.wake()
            except psycopg.Error as exc:
                log.warning("outbox listener: %s; polling only, again in %s s",
                            type(exc).__name__, RETRY_S)
            await asyncio.sleep(RETRY_S)
