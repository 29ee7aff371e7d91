"""Webhook delivery for the fake Bot API, as Telegram does it after setWebhook.

Queued updates are POSTed as JSON to the webhook URL with the secret given at setWebhook in
`X-Telegram-Bot-Api-Secret-Token`. An update counts as delivered only on a 2xx answer; any
other answer or a failed connection is retried (on the next target, when `targets` names
several web processes behind a load balancer). Several updates are in flight at once
(`max_connections`), but one person's next update only after their previous one was
delivered, so each person's updates arrive in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
RETRY_S = 0.05
MAX_RETRY_S = 1.0


def update_key(update: dict[str, Any]) -> int:
    """Whose update it is (their updates are delivered one after another)."""
    for kind in ("message", "callback_query", "edited_message", "my_chat_member"):
        body = update.get(kind)
        if isinstance(body, dict):
            sender = body.get("from") or {}
            if "id" in sender:
                return int(sender["id"])
    return 0


@dataclass
class Pushed:
    """What the pusher did, for tests: per update id, the statuses it got."""

    answers: dict[int, list[int]] = field(default_factory=dict)
    refused: int = 0
    latency_s: dict[int, float] = field(default_factory=dict)  # the 2xx POST's round trip


class WebhookPusher:
    """Delivers `queue()` (a list of pending updates, in order) to the webhook."""

    def __init__(self, queue: Callable[[], list[Any]], delivered: Callable[[Any], None],
                 changed: Callable[[], None]) -> None:
        self._queue = queue
        self._delivered = delivered
        self._changed = changed
        self.url = ""
        self.secret = ""
        self.targets: list[str] | None = None  # a load balancer's backends, else `url`
        self.max_connections = 40
        self.pushed = Pushed()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._rotation = itertools.count()

    @property
    def active(self) -> bool:
        return bool(self.url)

    def configure(self, url: str, secret: str, max_connections: int) -> None:
        self.url, self.secret = url, secret
        self.max_connections = max(1, min(100, max_connections or 40))
        if self._task is None and url:
            self._task = asyncio.create_task(self._main(), name="fake-webhook")
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self.url = ""
        tasks = [t for t in (self._task, *self._in_flight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self._in_flight.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _target(self) -> str:
        targets = self.targets or [self.url]
        return targets[next(self._rotation) % len(targets)]

    async def _main(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        while True:
            self._wake.clear()
            if self.url:
                self._start_due()
            await self._wake.wait()

    def _start_due(self) -> None:
        blocked: set[int] = set()
        for pending in self._queue():
            if len(self._in_flight) >= self.max_connections:
                return
            key = update_key(pending.update)
            if pending.update_id in self._in_flight or key in blocked:
                blocked.add(key)
                continue
            blocked.add(key)
            self._in_flight[pending.update_id] = asyncio.create_task(self._deliver(pending))

    async def _deliver(self, pending: Any) -> None:
        delay = RETRY_S
        try:
            while self.url:
                began = time.monotonic()
                status = await self._post(pending.update)
                self.pushed.answers.setdefault(pending.update_id, []).append(status)
                if 200 <= status < 300:
                    self.pushed.latency_s[pending.update_id] = time.monotonic() - began
                    self._delivered(pending)
                    return
                if status in (401, 403):
                    self.pushed.refused += 1
                await asyncio.sleep(delay)
                delay = min(MAX_RETRY_S, delay * 2)
        finally:
            self._in_flight.pop(pending.update_id, None)
            self._changed()
            self.wake()

    async def _post(self, update: dict[str, Any]) -> int:
        assert self._session is not None
        headers = {SECRET_HEADER: self.secret} if self.secret else {}
        try:
            async with self._session.post(self._target(), json=update,
                                          headers=headers) as answer:
                await answer.read()
                return answer.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            return 0  # no answer: the process is down or died mid-request
