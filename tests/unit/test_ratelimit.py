"""The shared rate limiter on a fake clock: global rate, per-chat interval, 429, priority."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable

import pytest

from bot.ratelimit import RateLimiter
from bot.settings import Settings


class FakeTime:
    """Virtual time: `sleep` parks a task until `run` moves the clock to its wake-up.

    `late` is added to every wake-up, like a busy event loop waking sleepers late.
    """

    def __init__(self, late: float = 0.0) -> None:
        self.now = 0.0
        self.late = late
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        wake = self.now + max(0.0, seconds) + self.late
        heapq.heappush(self._sleepers, (wake, next(self._seq), future))
        await future

    async def run(self, until: float) -> None:
        """Let every task run until all sleep, wake the earliest, repeat up to `until`."""
        while True:
            for _ in range(20):
                await asyncio.sleep(0)
            if not self._sleepers or self._sleepers[0][0] > until:
                self.now = until
                return
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            future.set_result(None)


def limiter(clock: FakeTime, rate: float = 30, per_chat: float = 0.0) -> RateLimiter:
    return RateLimiter(rate, per_chat, now=clock.time, sleep=clock.sleep)


def sender(
    bucket: RateLimiter, clock: FakeTime, log: list[float], *, chat: Callable[[int], str | None]
    = lambda i: None, background: bool = False,
) -> Callable[[], Awaitable[None]]:
    async def loop() -> None:
        for i in itertools.count():
            await bucket.acquire(chat(i), background=background)
            log.append(clock.now)
    return loop


async def run_for(clock: FakeTime, seconds: float, *loops: Callable[[], Awaitable[None]]) -> None:
    tasks = [asyncio.create_task(loop()) for loop in loops]
    try:
        await clock.run(seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def most_in_any_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t <= start + 1.0) for start in times)


@pytest.mark.parametrize("background", [False, True], ids=["urgent", "background"])
async def test_the_global_rate_is_kept_by_many_senders(background: bool) -> None:
    clock = FakeTime()
    bucket = limiter(clock, rate=30)
    log: list[float] = []
    await run_for(clock, 10.0, *[sender(bucket, clock, log, background=background)] * 8)
    assert 299 <= len(log) <= 301
    assert most_in_any_second(log) <= 31  # as spaced slots: 30 intervals, 31 ends
    assert all(b - a >= 0.75 / 30 - 1e-9 for a, b in itertools.pairwise(log))


async def test_late_wake_ups_do_not_lower_the_rate() -> None:
    """A loop that wakes every sleeper 3 ms late still gets ≥ 99% of the rate."""
    clock = FakeTime(late=0.003)
    bucket = limiter(clock, rate=30)
    log: list[float] = []
    await run_for(clock, 20.0, sender(bucket, clock, log, background=True))
    assert len(log) / 20.0 >= 0.99 * 30
    assert most_in_any_second(log) <= 31


async def test_each_chat_gets_at_most_one_message_per_interval() -> None:
    clock = FakeTime()
    bucket = limiter(clock, rate=100, per_chat=1.0)
    to_a: list[float] = []
    to_others: list[float] = []
    others = itertools.count()
    await run_for(clock, 5.5,
                  sender(bucket, clock, to_a, chat=lambda i: "a"),
                  sender(bucket, clock, to_others, chat=lambda i: f"c{next(others)}"))
    assert to_a == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], abs=0.05)  # not starved
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(to_a))
    assert len(to_others) >= 530  # the rest of the 100/s went to other chats
    assert bucket.chat_wait("a") == pytest.approx(0.5, abs=0.05)
    bucket.note_chat("b")
    assert bucket.chat_wait("b") == pytest.approx(1.0)
    assert bucket.chat_wait("never") == 0.0


async def test_retry_after_pauses_everyone() -> None:
    clock = FakeTime()
    bucket = limiter(clock, rate=30)
    urgent: list[float] = []
    background: list[float] = []

    async def refused_at_one_second() -> None:
        await clock.sleep(1.0)
        bucket.pause(2.0)

    await run_for(clock, 4.0, sender(bucket, clock, urgent),
                  sender(bucket, clock, background, background=True), refused_at_one_second)
    assert not [t for t in urgent + background if 1.0 < t < 3.0]
    assert [t for t in urgent + background if t >= 3.0]
    assert bucket.paused_for == 0.0


async def test_notifications_go_before_a_running_broadcast() -> None:
    """The broadcaster takes a token only when no notification waits for one."""
    clock = FakeTime()
    bucket = limiter(clock, rate=30)
    broadcast: list[float] = []
    notices: list[float] = []

    async def outbox() -> None:
        # A batch of 10 notifications at t=2: all go out back to back, first in line.
        await clock.sleep(2.0)
        with bucket.urgent():
            for _ in range(10):
                await bucket.acquire()
                notices.append(clock.now)

    await run_for(clock, 4.0, *[sender(bucket, clock, broadcast, background=True)] * 4, outbox)
    assert notices[0] - 2.0 <= 1 / 30 + 1e-9  # the next token
    assert notices[-1] - notices[0] == pytest.approx(9 / 30, abs=1e-6)  # consecutive tokens
    assert not [t for t in broadcast if notices[0] <= t <= notices[-1]]
    assert [t for t in broadcast if t > notices[-1]]  # and then the broadcast goes on
    everything = sorted(broadcast + notices)
    assert most_in_any_second(everything) <= 31  # together still within the limit


def test_built_from_the_settings() -> None:
    settings = Settings(_env_file=None, KIMBOT_GLOBAL_RATE=12, KIMBOT_PER_CHAT_INTERVAL=2)  # type: ignore[call-arg]
    bucket = RateLimiter.from_settings(settings)
    assert (bucket.rate, bucket.per_chat_interval) == (12, 2)
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(1, -1)


async def test_the_real_clock_keeps_the_rate() -> None:
    """No fake clock: 30/s over 0.5 s of real time with asyncio.sleep."""
    bucket = RateLimiter(40)
    loop = asyncio.get_running_loop()
    start = loop.time()
    times = []
    for _ in range(21):
        await bucket.acquire(background=True)
        times.append(loop.time() - start)
    assert times[-1] == pytest.approx(0.5, abs=0.05)
