"""Updates of different people run concurrently; one person's run strictly in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from handlers.telegram.updates import PerChatUpdateProcessor, update_keys

_ids = iter(range(1, 10_000))


def message_from(user_id: int) -> Update:
    user = User(id=user_id, first_name=f"U{user_id}", is_bot=False)
    chat = Chat(id=user_id, type=Chat.PRIVATE)
    message = Message(message_id=next(_ids), date=datetime.now(UTC), chat=chat, from_user=user)
    return Update(update_id=next(_ids), message=message)


async def run_all(processor: PerChatUpdateProcessor,
                  work: list[tuple[Update, float, str]], log: list[str]) -> None:
    """Hand the updates over in order, one task each, as PTB does with concurrent updates."""

    async def handle(name: str, delay: float) -> None:
        log.append(f"start {name}")
        await asyncio.sleep(delay)
        log.append(f"end {name}")

    async with processor:
        tasks = [asyncio.create_task(processor.process_update(update, handle(name, delay)))
                 for update, delay, name in work]
        await asyncio.gather(*tasks)


async def test_one_persons_updates_run_one_after_the_other_in_order() -> None:
    log: list[str] = []
    a = [message_from(1) for _ in range(3)]
    await run_all(PerChatUpdateProcessor(8),
                  [(a[0], 0.03, "a1"), (a[1], 0.0, "a2"), (a[2], 0.01, "a3")], log)
    assert log == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]


async def test_other_peoples_updates_run_meanwhile() -> None:
    log: list[str] = []
    await run_all(PerChatUpdateProcessor(8),
                  [(message_from(1), 0.03, "a1"), (message_from(2), 0.0, "b1")], log)
    assert log.index("end b1") < log.index("end a1")


async def test_at_most_max_concurrent_updates_run_at_once() -> None:
    running = peak = 0

    async def handle() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    processor = PerChatUpdateProcessor(2)
    async with processor:
        await asyncio.gather(*(processor.process_update(message_from(100 + i), handle())
                               for i in range(6)))
    assert peak == 2


async def test_a_cancelled_update_lets_the_next_one_of_that_person_run() -> None:
    log: list[str] = []

    async def handle(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        log.append(name)

    processor = PerChatUpdateProcessor(4)
    first, second = message_from(7), message_from(7)
    async with processor:
        slow = asyncio.create_task(processor.process_update(first, handle("a1", 10)))
        nxt = asyncio.create_task(processor.process_update(second, handle("a2", 0)))
        await asyncio.sleep(0.01)
        slow.cancel()
        await asyncio.wait_for(nxt, 1)
    assert log == ["a2"]


def test_keys_are_the_sender_and_the_chat() -> None:
    assert update_keys(message_from(5)) == (("user", 5), ("chat", 5))
    assert update_keys("not an update") == ()
