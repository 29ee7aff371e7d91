"""One pace for everything the bot sends on its own initiative on one channel.

Telegram allows about 30 messages a second overall and about one a second per chat; past
that it answers 429 "retry after N". A channel's delivery loop (`bot.delivery`) sends its
notifications and its broadcast deliveries through one `RateLimiter`, so together they
stay within both limits:

* **Global rate**: a token bucket in its GCRA form. A send is allowed at `t` once
  `t >= tat` (the theoretical arrival time of the next token); taking it moves `tat` one
  interval on. A sender that wakes up a little late (event-loop jitter) does not lose that
  time: up to a quarter of an interval is caught up, so a steady stream keeps its full
  rate. Any closed one-second window still holds at most `rate + 1` sends, as with plain
  spaced slots.
* **Per chat**: at least `per_chat_interval` seconds between two sends to one chat.
* **429**: `pause(seconds)` holds every sender until Telegram's `retry_after` has passed.
* **Priority**: notifications (`acquire()`) go first. A background sender (broadcast
  deliveries, `acquire(background=True)`) takes a token only while no urgent sender is
  waiting, so a large broadcast never delays the notifications officials and members are
  waiting for. The loop holds `urgent()` while it works through a batch of notifications,
  so broadcast deliveries do not slip between their messages.

Replies to a person's own update are not paced here: they answer someone who is waiting.
Time and sleep are injectable, for tests with a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

CATCH_UP = 0.25  # of an interval: lateness of a sender that is not lost
PRUNE_AT = 4096  # per-chat entries kept before old ones are dropped


class RateLimiter:
    """Async token bucket with a global rate, a per-chat interval, pauses and priorities."""

    def __init__(
        self,
        rate_per_s: float,
        per_chat_interval_s: float = 0.0,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if per_chat_interval_s < 0:
            raise ValueError("per_chat_interval_s must not be negative")
        self.rate = float(rate_per_s)
        self.per_chat_interval = float(per_chat_interval_s)
        self.interval = 1.0 / self.rate
        self._now = now
        self._sleep = sleep
        self._tat = 0.0
        self._paused_until = 0.0
        self._last_by_chat: dict[str, float] = {}
        self._urgent = 0
        self._waiters: list[_Waiter] = []
        self.taken = 0  # tokens handed out, for reports

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """KIMBOT_GLOBAL_RATE and KIMBOT_PER_CHAT_INTERVAL."""
        return cls(settings.global_rate_per_s, settings.per_chat_interval_s)

    # -- per chat -------------------------------------------------------------------------

    def chat_wait(self, chat_id: str) -> float:
        """Seconds until this chat may get another message."""
        last = self._last_by_chat.get(str(chat_id))
        if last is None or self.per_chat_interval <= 0:
            return 0.0
        return max(0.0, last + self.per_chat_interval - self._now())

    def note_chat(self, chat_id: str) -> None:
        """Record a send to this chat now (the per-chat interval starts again)."""
        now = self._now()
        if len(self._last_by_chat) >= PRUNE_AT:
            horizon = now - self.per_chat_interval
            self._last_by_chat = {c: t for c, t in self._last_by_chat.items() if t > horizon}
        self._last_by_chat[str(chat_id)] = now

    # -- 429 ------------------------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Telegram said "retry after": nobody sends until then."""
        self._paused_until = max(self._paused_until, self._now() + max(0.0, seconds))

    @property
    def paused_for(self) -> float:
        """Seconds left of a 429 pause (0 when none)."""
        return max(0.0, self._paused_until - self._now())

    # -- priority -------------------------------------------------------------------------

    @property
    def urgent_waiting(self) -> int:
        return self._urgent

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Urgent work is under way: background senders hold back until it ends."""
        self._urgent += 1
        try:
            yield
        finally:
            self._urgent -= 1

    # -- tokens ---------------------------------------------------------------------------

    def _chat_free_at(self, chat_id: str | None) -> float:
        if chat_id is None or self.per_chat_interval <= 0:
            return 0.0
        last = self._last_by_chat.get(str(chat_id))
        return 0.0 if last is None else last + self.per_chat_interval

    def _ready_at(self, chat_id: str | None) -> float:
        return max(self._tat, self._paused_until, self._chat_free_at(chat_id))

    def _turn(self, now: float) -> _Waiter | None:
        """Who takes the token now: the longest-waiting urgent sender whose chat is free;
        when no urgent work is under way at all, the longest-waiting background one."""
        for waiter in self._waiters:
            if not waiter.background and self._chat_free_at(waiter.chat_id) <= now:
                return waiter
        if self._urgent:
            return None
        for waiter in self._waiters:
            if self._chat_free_at(waiter.chat_id) <= now:
                return waiter
        return None

    def _take(self, now: float, chat_id: str | None) -> None:
        self._tat = max(self._tat, now - CATCH_UP * self.interval) + self.interval
        self.taken += 1
        if chat_id is not None:
            self.note_chat(chat_id)

    async def acquire(self, chat_id: str | None = None, *, background: bool = False) -> None:
        """Wait for a token (and for `chat_id` to be free, when given), then take it.

        Fair: among senders of one priority whose chat is free, the one waiting longest
        goes first, so a sender held back for its chat is not overtaken for ever.
        """
        me = _Waiter(chat_id, background)
        self._waiters.append(me)
        if not background:
            self._urgent += 1
        try:
            while True:
                now = self._now()
                ready = self._ready_at(chat_id)
                if now < ready:
                    await self._sleep(ready - now)
                elif self._turn(now) is me:
                    self._take(now, chat_id)
                    return
                else:  # someone else's turn (or urgent work): look again a token later
                    await self._sleep(max(self.interval, 0.001))
        finally:
            self._waiters.remove(me)
            if not background:
                self._urgent -= 1


@dataclass(eq=False)
class _Waiter:
    chat_id: str | None
    background: bool
