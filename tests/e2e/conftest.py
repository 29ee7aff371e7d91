"""End-to-end fixtures: the real bot, over real HTTP, against the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakebotapi import FakeBotApi
from tests.support.kimbot import KimBot


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def kimbot(api: FakeBotApi, database_url: str) -> AsyncIterator[KimBot]:
    bot = KimBot(api, database_url)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
