"""A report's worker process dies (bot/offload.py): through Telegram the admin gets the usual
apology, and the next /laporan works with a new worker."""

from __future__ import annotations

import os

import pytest

from bot.conversations import reports
from bot.offload import Pieces
from tests.e2e.test_reports_e2e import ask
from tests.support.kimbot import KimBot, text


def die(_pieces: Pieces, *_args: object) -> object:
    """A worker killed in the middle of a job (run in the worker process)."""
    os._exit(3)


async def test_a_dead_report_worker_is_an_apology_and_the_next_report_works(
        kimbot: KimBot, monkeypatch: pytest.MonkeyPatch) -> None:
    assert kimbot.svc is not None
    assert kimbot.svc.settings.report_processes == 1  # the default: a worker process
    real = reports.read_report
    monkeypatch.setattr(reports, "read_report", die)
    [sorry] = await ask(kimbot, kimbot.admin, "/laporan", 1)
    assert sorry.text == text("error.internal")
    monkeypatch.setattr(reports, "read_report", real)
    [summary] = await ask(kimbot, kimbot.admin, "/laporan", 1)  # nothing happened: no chart
    assert (summary.text or "").startswith("📊 ")
    assert text("report.nothing") in (summary.text or "")
