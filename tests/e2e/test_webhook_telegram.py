"""Telegram by webhook: the secret header, a whole request through the webhook, /readyz."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from bot.models import ProcessedUpdate, User
from bot.services import build_services
from fakebotapi import FakeBotApi
from handlers.telegram.app import build_application, serving
from handlers.telegram.webhook import SECRET_HEADER, TelegramWebhook, webhook_path
from handlers.web import Health, build_web
from handlers.web import serving as web_serving
from tests.support.db import count
from tests.support.kimbot import KimBot, text

SECRET = "s3cret-Webhook_token-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WebhookBot(KimBot):
    """The bot as a web process would run it: Telegram posts to its webhook."""

    def __init__(self, api: FakeBotApi, database_url: str, **overrides: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/kimbot/telegram"
        super().__init__(api, database_url, TELEGRAM_WEBHOOK_URL=self.url,
                         TELEGRAM_WEBHOOK_SECRET=SECRET, **overrides)
        self.health: Health | None = None

    async def start(self) -> None:
        self.svc = build_services(self.settings(), clock=self.clock)
        self._stack = AsyncExitStack()
        self.app = build_application(self.svc)
        await self._stack.enter_async_context(
            serving(self.app, inbound="webhook", outbound=True))
        self.health = Health(self.svc)
        web = build_web(telegram=TelegramWebhook(self.app, SECRET),
                        telegram_path=webhook_path(self.url), health=self.health)
        await self._stack.enter_async_context(web_serving(web, f"127.0.0.1:{self.port}"))
        self.health.started = True


@pytest.fixture
async def hooked(api: FakeBotApi, database_url: str) -> AsyncIterator[WebhookBot]:
    bot = WebhookBot(api, database_url)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def handled(bot: WebhookBot) -> tuple[int, int]:
    assert bot.svc is not None
    with bot.svc.db.session() as session:
        return count(session, User), count(session, ProcessedUpdate)


async def test_a_request_goes_through_the_webhook(api: FakeBotApi, hooked: WebhookBot) -> None:
    # setWebhook named our URL and the secret; nobody long-polls.
    assert api.webhook["url"] == hooked.url
    assert api.webhook["secret_token"] == SECRET

    wati = await hooked.member("Wati Susanti")
    staf = await hooked.official("Sari", "staf")
    agenda = await hooked.submit(wati)

    assert "/SM/" in agenda
    await hooked.task(staf, 1)  # the notification went out through the delivery loop
    assert api.calls_of("getUpdates") == []
    assert api.pending_updates == 0
    # Every update was answered 200 the first time: no retry was needed.
    assert all(statuses == [200] for statuses in api.webhooks.pushed.answers.values())


async def test_a_post_without_the_right_secret_is_refused_and_changes_nothing(
        api: FakeBotApi, hooked: WebhookBot) -> None:
    update = {"update_id": 777, "message": {
        "message_id": 1, "date": 0, "text": "/start",
        "chat": {"id": 4242, "type": "private", "first_name": "Eve"},
        "from": {"id": 4242, "is_bot": False, "first_name": "Eve"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    before = handled(hooked)
    calls = len(api.calls)
    async with httpx.AsyncClient() as client:
        missing = await client.post(hooked.url, json=update)
        wrong = await client.post(hooked.url, json=update,
                                  headers={SECRET_HEADER: "not-the-secret-0123456789"})
        assert (missing.status_code, wrong.status_code) == (401, 403)
        assert handled(hooked) == before
        assert len(api.calls) == calls  # nothing was sent to anyone

        right = await client.post(hooked.url, json=update, headers={SECRET_HEADER: SECRET})
        assert right.status_code == 200
        # Answered before the 200: the reply was sent while the request was handled.
        assert [m.text for m in api.messages(4242)][:1] == [text("reg.welcome")]
        again = await client.post(hooked.url, content=json.dumps(update),
                                  headers={SECRET_HEADER: SECRET,
                                           "Content-Type": "application/json"})
        assert again.status_code == 200
    # The replay changed nothing and said nothing.
    assert handled(hooked) == (before[0] + 1, before[1] + 1)
    assert len(api.messages(4242)) == 2  # welcome + the first question, once


async def test_readyz_reports_its_checks_and_turns_false_when_stopping(
        hooked: WebhookBot) -> None:
    base = f"http://127.0.0.1:{hooked.port}"
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).status_code == 200
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "checks": {
            "process": "ok", "database": "ok", "schema": "ok", "channel": "ok"}}
        assert hooked.health is not None
        hooked.health.stopping = True
        stopping = await client.get(f"{base}/readyz")
        assert stopping.status_code == 503
        assert stopping.json()["checks"]["process"] == "stopping"


async def test_metrics_count_the_updates_the_webhook_handled(
        api: FakeBotApi, hooked: WebhookBot) -> None:
    await hooked.member("Wati Susanti")
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{hooked.port}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    handled_tg = [line for line in lines
                  if line.startswith("kimbot_updates_total{") and 'channel="telegram"' in line]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in handled_tg) >= 7
    assert any(line.startswith("kimbot_outbox_depth") for line in lines)
