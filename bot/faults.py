"""Crash points for the crash test: `kill -9` at a chosen place in the code.

`crash_point(name)` is a no-op unless the environment variable `KIMBOT_CRASH_AT` names
that point when the process starts, e.g. ``KIMBOT_CRASH_AT=notify.after_part:2`` (the 2nd
time the point is reached). Several points may be given, comma-separated; a point without
a count fires the first time. When it fires, the process sends itself SIGKILL: no
`finally`, no commit, no flush, exactly what `kill -9` (or an OOM kill) does.

The points:

* ``update.after_guard`` — an inbound update's replay mark is written (in the update's
  transaction, `bot.dedupe.first_time`) and nothing of its work is done yet.
* ``update.before_commit`` — the update's work is done (dialog, case, outbox rows) and
  its transaction is not committed.
* ``notify.before_record`` — one part (a file) of a multi-part notification was delivered
  and is not recorded yet (`outbox.note_files_sent`): the one window where a retry repeats
  a part, as the channel has no idempotency key.
* ``notify.after_part`` — one part of a multi-part notification was delivered and recorded;
  the next part is not sent.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "KIMBOT_CRASH_AT"
POINTS = frozenset({"update.after_guard", "update.before_commit",
                    "notify.before_record", "notify.after_part"})


def _parse(value: str) -> dict[str, int]:
    """`name[:count]` items, comma-separated → {name: the hit that kills}."""
    armed: dict[str, int] = {}
    for item in value.split(","):
        name, _, count = item.strip().partition(":")
        if not name:
            continue
        if name not in POINTS:
            raise ValueError(f"{ENV}: unknown crash point {name!r}")
        armed[name] = int(count) if count else 1
    return armed


_ARMED = _parse(os.environ.get(ENV, ""))  # read once: empty in production
_hits: dict[str, int] = {}
_lock = threading.Lock()  # a caller may run in a worker thread


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when `KIMBOT_CRASH_AT` arms `name` for this hit."""
    if not _ARMED:
        return
    target = _ARMED.get(name)
    if target is None:
        return
    with _lock:
        _hits[name] = hit = _hits.get(name, 0) + 1
    if hit == target:
        os.kill(os.getpid(), signal.SIGKILL)
