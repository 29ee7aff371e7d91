"""Process different people's updates concurrently, each person's strictly in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Key = tuple[str, int]


def update_keys(update: object) -> tuple[Key, ...]:
    """What an update must be ordered against: its sender and its chat."""
    if not isinstance(update, Update):
        return ()
    keys: list[Key] = []
    if update.effective_user is not None:
        keys.append(("user", update.effective_user.id))
    if update.effective_chat is not None:
        keys.append(("chat", update.effective_chat.id))
    return tuple(keys)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """While one update waits on Telegram (sending its replies), another person's runs.

    An update starts only after every earlier update of the same sender or chat has
    finished, so each conversation sees exactly what one-at-a-time processing shows it.
    Handlers commit their transaction before their first ``await``, so two updates never
    share or interleave a transaction; across people the order of work was never promised
    (several workers may run against one database).

    PTB calls ``do_process_update`` in arrival order (one task per update, created in
    order, behind a FIFO semaphore), and the chain for an update is set up before its
    first ``await``: that fixes the order.

    A few updates in flight are enough to keep the CPU busy while replies travel; more
    only cost: httpcore's pool does O(connections²) work per request, and every update
    in flight keeps a connection open.
    """

    def __init__(self, max_concurrent_updates: int = 4) -> None:
        super().__init__(max_concurrent_updates)
        self._last: dict[Key, asyncio.Future[None]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        keys = update_keys(update)
        if not keys:
            await coroutine
            return
        earlier = {id(f): f for k in keys if (f := self._last.get(k)) is not None}
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._last[key] = mine
        try:
            if earlier:
                # wait() does not cancel what it waits for when this task is cancelled.
                await asyncio.wait(earlier.values())
            await coroutine
        finally:
            if inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(
                    coroutine) == inspect.CORO_CREATED:
                coroutine.close()  # cancelled before it could run: no "never awaited"
            with contextlib.suppress(asyncio.InvalidStateError):
                mine.set_result(None)
            for key in keys:
                if self._last.get(key) is mine:
                    del self._last[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB waits for running updates before shutting down."""
