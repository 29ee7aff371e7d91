"""The core (bot/) knows no channel: it imports no channel library and nothing from handlers/."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import bot
from tests.conftest import REPO_ROOT


def core_modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(bot.__path__, prefix="bot.")]
    return ["bot", *sorted(names)]


def test_the_core_modules_are_found() -> None:
    modules = core_modules()
    assert {"bot.workflow", "bot.models", "bot.sop.loader", "bot.outbox",
            "bot.conversations.router", "bot.conversations.core"} <= set(modules)


def test_importing_the_core_imports_no_channel_and_no_handlers() -> None:
    script = textwrap.dedent(
        """
        import importlib, sys
        for name in sys.argv[1:]:
            importlib.import_module(name)
        edge = ("telegram", "pywa", "handlers", "fakebotapi")
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in edge)
        print(",".join(leaked))
        """
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script, *core_modules()],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the core imported {result.stdout.strip()}"
