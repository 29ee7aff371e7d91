"""`kimbot run --role web` and `--role worker` as separate processes on one PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlmodel import select

from bot.db import Database
from bot.models import Notification
from fakebotapi import FakeBotApi
from tests.support.db import sqlite_url
from tests.support.kimbot import KimBot
from tests.support.processes import BotProcess


def statuses(url: str) -> list[str]:
    database = Database(url)
    try:
        with database.session() as session:
            return list(session.exec(select(Notification.status)))
    finally:
        database.dispose()


@pytest.mark.postgres
async def test_a_web_process_answers_and_a_worker_process_delivers(
        api: FakeBotApi, pg_url: str, tmp_path: Path) -> None:
    web = BotProcess(api, pg_url, "web", tmp_path, "web")
    worker = BotProcess(api, pg_url, "worker", tmp_path, "worker")
    people = KimBot(api, pg_url)  # only its scripted people: the bot runs in the children
    await web.start()
    try:
        assert api.webhook["url"] == web.webhook
        wati = await people.member("Wati Susanti")
        staf = await people.official("Sari", "staf")
        agenda = await people.submit(wati)  # the receipt is the web process's own answer
        assert "/SM/" in agenda
        # Nobody delivers notifications without a worker: the task waits in the outbox.
        assert "pending" in statuses(pg_url)
        assert people._task_message(staf, 1) is None

        await worker.start()
        await people.task(staf, 1, timeout=10)  # the worker polled the outbox and sent it
        await api.wait_until(lambda: "pending" not in statuses(pg_url), timeout=10)

        # A broadcast confirmed in the web process is sent and reported by the worker.
        admin = people.admin
        await admin.send("/siaran")
        await admin.send("Rapat KIM Jumat pagi.")
        await admin.click("Semua anggota")
        await admin.click("Kirim")
        await api.wait_until(
            lambda: any(m.content == "Rapat KIM Jumat pagi." for m in wati.messages),
            timeout=10, message=lambda: api.dump_chat(wati.chat_id))
        await api.wait_until(
            lambda: any(m.content.startswith(("📊 Laporan siaran", "📊 Broadcast"))
                        for m in admin.messages),
            timeout=15, message=lambda: api.dump_chat(admin.chat_id))
    finally:
        codes = [await web.terminate(), await worker.terminate()]
    # SIGTERM drains and exits cleanly.
    assert codes == [0, 0], web.log_tail() + worker.log_tail()
    assert web.tracebacks() == worker.tracebacks() == []
    assert "stopped" in web.log_text()
    assert "stopped" in worker.log_text()
    assert api.calls_of("getUpdates") == []


@pytest.mark.postgres
async def test_a_web_role_without_a_webhook_url_gives_one_line_and_exit_2(
        api: FakeBotApi, pg_url: str, tmp_path: Path) -> None:
    web = BotProcess(api, pg_url, "web", tmp_path, "web", TELEGRAM_WEBHOOK_URL="")
    with pytest.raises(RuntimeError, match="exited"):
        await web.start(timeout=20)
    assert web.proc is not None
    assert web.proc.returncode == 2
    assert "--role web takes Telegram updates by webhook" in web.log_text()
    assert web.tracebacks() == []


async def test_role_all_long_polls_without_a_webhook_url(api: FakeBotApi, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    bot = BotProcess(api, url, "all", tmp_path, "all", TELEGRAM_WEBHOOK_URL="")
    await bot.start()
    try:
        people = KimBot(api, url)
        wati = await people.member("Wati Susanti")
        staf = await people.official("Sari", "staf")
        await people.submit(wati)
        await people.task(staf, 1, timeout=10)  # delivered by the same process
        assert api.calls_of("getUpdates")
        assert api.webhook == {}
    finally:
        assert await bot.terminate() == 0, bot.log_tail()
    assert bot.tracebacks() == []


@pytest.mark.postgres
async def test_a_commit_in_the_web_process_wakes_the_worker_at_once(
        api: FakeBotApi, pg_url: str, tmp_path: Path) -> None:
    web = BotProcess(api, pg_url, "web", tmp_path, "web")
    # The worker would poll the outbox only every 60 s: NOTIFY must wake it.
    worker = BotProcess(api, pg_url, "worker", tmp_path, "worker", KIMBOT_OUTBOX_POLL=60)
    await asyncio.gather(web.start(), worker.start())
    people = KimBot(api, pg_url)
    try:
        wati = await people.member("Wati Susanti")
        staf = await people.official("Sari", "staf")
        await asyncio.sleep(1)  # the worker's first pass is over: it sleeps on its poll
        await people.submit(wati)
        started = time.monotonic()
        await people.task(staf, 1, timeout=10)
        assert time.monotonic() - started < 5
    finally:
        codes = [await web.terminate(), await worker.terminate()]
    assert codes == [0, 0]
