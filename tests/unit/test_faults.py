"""bot/faults.py: a crash point kills the process with SIGKILL at the chosen hit only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = """
from bot.faults import crash_point
for n in range(1, 4):
    crash_point("notify.after_part")
    crash_point("update.after_guard")
    print(n, flush=True)
"""


def _run(crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KIMBOT_CRASH_AT"}
    if crash_at is not None:
        env["KIMBOT_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT,  # noqa: S603
                          capture_output=True, text=True, timeout=30, check=False)


def test_without_the_variable_nothing_happens() -> None:
    run = _run(None)
    assert (run.returncode, run.stdout.split()) == (0, ["1", "2", "3"])


@pytest.mark.parametrize(("crash_at", "printed"), [
    ("notify.after_part:2", ["1"]),
    ("update.after_guard", []),  # no count: the first time
    ("notify.before_record, update.after_guard:3", ["1", "2"]),
])
def test_the_chosen_hit_dies_of_sigkill(crash_at: str, printed: list[str]) -> None:
    run = _run(crash_at)
    assert run.returncode == -signal.SIGKILL
    assert run.stdout.split() == printed


def test_an_unknown_point_is_refused_at_start() -> None:
    run = _run("notify.afterpart")
    assert run.returncode == 1
    assert "unknown crash point 'notify.afterpart'" in run.stderr
