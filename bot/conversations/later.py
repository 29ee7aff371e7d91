"""Work an outcome leaves for after the commit (`Outcome.later`: reports, exports), run off
the event loop so that nobody else's turn waits for it: in a worker process (bot/offload.py)
when one is configured and can open the database, else in a thread."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot import offload
from bot.conversations.output import Message, Outcome

if TYPE_CHECKING:
    from bot.services import Services

R = TypeVar("R")

# While such work runs, CPython hands the GIL on every 0.5 ms instead of every 5 ms. Each
# database call of a turn on the event loop lets the GIL go and then waits for the busy
# thread to give it back (the convoy effect): with the default slice a turn of 30 calls took
# several times longer while a report was being read, and the turns queued up.
GIL_SLICE_S = 0.0005
_running = 0
_default_slice = sys.getswitchinterval()


@dataclass
class Job(Generic[R]):
    """Reading left for after the commit, in two halves: `read(pieces, *args)` reads and
    draws (a module-level function taking and returning plain data, so that a worker
    process can run it), then `show(result)` makes the messages, here."""

    svc: Services
    read: Callable[..., R]
    args: tuple[Any, ...]
    show: Callable[[R], list[Message]]

    def __call__(self) -> list[Message]:
        """Both halves in this process (the thread path)."""
        return self.show(self.read(offload.local_pieces(self.svc), *self.args))


async def finish(outcome: Outcome) -> Outcome:
    """The outcome with its `later` work done off the loop: those messages follow the others."""
    work = outcome.later
    if work is None:
        return outcome
    env = offload.env_for(work.svc) if isinstance(work, Job) else None
    if isinstance(work, Job) and env is not None:
        result = await offload.run(work.svc.settings.report_processes, env, work.read,
                                   *work.args)
        messages = work.show(result)
    else:
        with _short_gil_slices():
            messages = await asyncio.to_thread(work)
    return replace(outcome, messages=[*outcome.messages, *messages], later=None)


@contextmanager
def _short_gil_slices() -> Iterator[None]:
    global _running  # only the event loop's thread changes it
    if not _running:
        sys.setswitchinterval(GIL_SLICE_S)
    _running += 1
    try:
        yield
    finally:
        _running -= 1
        if not _running:
            sys.setswitchinterval(_default_slice)
