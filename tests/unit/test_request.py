"""handlers.telegram.request: PTB's Bot on the lean keep-alive client, against the fake Bot API
(texts, buttons, an upload, a download, Telegram's errors and transport failures)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    User,
)
from telegram import Message as TgMessage
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.conversations.output import Edit
from fakebotapi import TINY_PNG, FakeBotApi
from handlers.telegram.delivery import _classify
from handlers.telegram.outbound import call, edit
from handlers.telegram.request import LeanRequest, lean_request

TOKEN = "123:LEAN"
CHAT = 4242


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    request = LeanRequest(4)
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url,
                   request=request, get_updates_request=LeanRequest(1)) as the_bot:
        yield the_bot


async def test_messages_buttons_and_edits_reach_the_chat(api: FakeBotApi, bot: Bot) -> None:
    assert bot.username  # getMe went through on initialize
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya ✓", callback_data="yes")]])
    sent = await bot.send_message(CHAT, "Halo, Sari — apa kabar?", reply_markup=markup)
    await bot.edit_message_text("Sudah dijawab", CHAT, sent.message_id)

    shown = api.messages(CHAT)
    assert len(shown) == 1
    assert shown[0].text == "Sudah dijawab"
    assert api.calls_of("sendMessage")[0].params["reply_markup"] == markup.to_dict()


async def test_an_upload_and_its_download(api: FakeBotApi, bot: Bot) -> None:
    photo = await bot.send_photo(CHAT, InputFile(TINY_PNG, filename="foto.png"),
                                 caption="Foto surat")
    document = await bot.send_document(CHAT, InputFile(b"%PDF-1.4 isi", filename="surat.pdf"),
                                       caption="Surat")

    assert api.messages(CHAT)[0].caption == "Foto surat"
    assert document.document is not None
    assert document.document.file_name == "surat.pdf"
    file = await bot.get_file(document.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 isi"
    big = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await big.download_as_bytearray()) == TINY_PNG


async def test_a_large_upload_goes_out_whole(api: FakeBotApi, bot: Bot) -> None:
    data = bytes(range(256)) * 12_000  # 3 MB: more than a socket buffer takes at once
    sent = await bot.send_document(CHAT, InputFile(data, filename="besar.pdf"))
    assert sent.document is not None
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == data


async def test_telegrams_errors_keep_their_ptb_types(api: FakeBotApi, bot: Bot,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as handlers.telegram.app sets it
    api.fail_next("sendMessage", error_code=429, description="Too Many Requests: retry after 7",
                  retry_after=7)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(CHAT, "satu")
    assert limited.value.retry_after == timedelta(seconds=7)

    api.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(CHAT, "dua")

    await bot.send_message(CHAT, "tiga")  # the connection is still good
    assert [m.text for m in api.messages(CHAT)] == ["tiga"]


async def test_a_dead_server_is_not_sent_and_a_silent_one_times_out() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    request = LeanRequest(1, connect_timeout=1)
    with pytest.raises(NetworkError, match=r"\*not\* sent") as refused:
        await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    assert type(_classify(refused.value)).__name__ == "Transient"  # safe to send again

    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        await release.wait()
        writer.close()

    quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = quiet.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TimedOut) as late:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", read_timeout=0.2)
        assert type(_classify(late.value)).__name__ == "Unconfirmed"  # it may have arrived
    finally:
        release.set()
        await asyncio.sleep(0.01)
        await request.shutdown()
        quiet.close()
        await quiet.wait_closed()


async def test_a_full_pool_times_out_without_sending() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        await asyncio.sleep(0.3)
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/bot{TOKEN}/getMe"
    request = LeanRequest(1, pool_timeout=0.1)
    busy = asyncio.create_task(request.post(url))
    await asyncio.sleep(0.1)
    try:
        with pytest.raises(TimedOut, match=r"\*not\* sent"):
            await request.post(url)
    finally:
        with pytest.raises(NetworkError):  # the slow server hung up without answering
            await busy
        await request.shutdown()
        server.close()
        await server.wait_closed()


async def test_a_server_closing_an_idle_connection_is_retried_on_a_new_one(
        api: FakeBotApi) -> None:
    request = LeanRequest(1)
    url = f"{api.base_url}{TOKEN}/getMe"
    await request.post(url)
    for connections in request._pool._idle.values():
        for connection in connections:
            connection.writer.transport.abort()  # as a server does after its idle timeout
    await asyncio.sleep(0)
    assert (await request.post(url))["username"]
    await request.shutdown()


def test_behind_a_proxy_ptbs_own_request_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert isinstance(lean_request("https://api.telegram.org/bot", 8), HTTPXRequest)
    monkeypatch.setenv("no_proxy", "api.telegram.org")
    assert isinstance(lean_request("https://api.telegram.org/bot", 8), LeanRequest)


@pytest.mark.parametrize("request_kind", ["lean", "httpx"])
async def test_a_reply_call_sends_plain_json_on_either_request_layer(
        api: FakeBotApi, request_kind: str) -> None:
    # HTTPXRequest is the fallback behind a proxy: the reply's parameters must reach Telegram
    # the same way through it.
    request = LeanRequest(2) if request_kind == "lean" else HTTPXRequest(2)
    markup = {"inline_keyboard": [[{"text": "Kirim ✓", "callback_data": "r send ab12"}]]}
    async with Bot(TOKEN, base_url=api.base_url, request=request) as the_bot:
        sent = await call(the_bot, "sendMessage", chat_id=CHAT, text="Ringkasan — 2 berkas",
                          reply_markup=markup, parse_mode=None)
        with pytest.raises(BadRequest):
            await call(the_bot, "editMessageText", chat_id=CHAT, message_id=999_999, text="x")

    assert sent["text"] == "Ringkasan — 2 berkas"
    [shown] = api.messages(CHAT)
    assert shown.text == "Ringkasan — 2 berkas"
    assert api.calls_of("sendMessage")[0].params["reply_markup"] == markup
    assert "parse_mode" not in api.calls_of("sendMessage")[0].params  # None is left out


def _press_on(message_id: int, text: str) -> CallbackQuery:
    chat = Chat(CHAT, "private")
    person = User(CHAT, "Wati", is_bot=False)
    message = TgMessage(message_id, datetime.now(UTC), chat, text=text, from_user=person)
    return CallbackQuery("q1", person, "ci", message=message, data="s lmj-layanan-kim")


async def test_an_edit_that_cannot_be_made_comes_as_a_new_message(
        api: FakeBotApi, bot: Bot) -> None:
    # The service menu becomes the purpose question by an edit; when the menu is gone
    # (deleted, too old), the question must still reach the person.
    menu = await bot.send_message(CHAT, "Pilih layanan:")
    await edit(bot, _press_on(menu.message_id, "Pilih layanan:"), Edit(text="Tulis maksud"))
    await edit(bot, _press_on(999_999, "Pilih layanan:"), Edit(text="Tulis maksud lagi"))
    await edit(bot, _press_on(menu.message_id, "Tulis maksud"), Edit(text="Tulis maksud"))

    assert [m.text for m in api.messages(CHAT)] == ["Tulis maksud", "Tulis maksud lagi"]
