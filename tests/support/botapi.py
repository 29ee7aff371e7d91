"""Test helpers around the fake Telegram Bot API (``fakebotapi``) for PTB v22 apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from fakebotapi import (
    TINY_PNG,
    ApiError,
    Call,
    CallbackAnswer,
    FakeBotApi,
    FakeUser,
    SentMessage,
    StoredFile,
)

__all__ = [
    "TEST_TOKEN",
    "TINY_PNG",
    "ApiError",
    "Call",
    "CallbackAnswer",
    "FakeBotApi",
    "FakeUser",
    "SentMessage",
    "StoredFile",
    "fake_builder",
    "running_bot",
]

TEST_TOKEN = "123:TEST"


def _request(pool_size: int) -> HTTPXRequest:
    # trust_env=False: never route 127.0.0.1 through an HTTP(S)_PROXY from the environment.
    return HTTPXRequest(connection_pool_size=pool_size, httpx_kwargs={"trust_env": False})


AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def fake_builder(
    api: FakeBotApi, token: str = TEST_TOKEN
) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """An ``ApplicationBuilder`` wired to ``api`` (never the real network)."""
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .request(_request(8))
        .get_updates_request(_request(1))
    )


@asynccontextmanager
async def running_bot(
    app: AnyApplication, *, poll_timeout: int = 1
) -> AsyncIterator[AnyApplication]:
    """Run ``app`` in polling mode for the duration of the block, then shut it down cleanly."""
    await app.initialize()
    try:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=poll_timeout)
        try:
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
    finally:
        await app.shutdown()
