"""End-to-end tests of ``fakebotapi`` driving a real python-telegram-bot v22 Application."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from fakebotapi.formatting import EntityParseError, parse_html
from tests.support.botapi import (
    TINY_PNG,
    AnyApplication,
    FakeBotApi,
    FakeUser,
    fake_builder,
    running_bot,
)

Ctx = ContextTypes.DEFAULT_TYPE


@dataclass
class Harness:
    """The running bot plus what its handlers observed."""

    app: AnyApplication
    errors: list[Exception] = field(default_factory=list)
    update_ids: list[int] = field(default_factory=list)
    downloads: list[bytes] = field(default_factory=list)


def _build(api: FakeBotApi, harness_box: list[Harness]) -> AnyApplication:
    app = fake_builder(api).build()

    def seen() -> Harness:
        return harness_box[0]

    async def track(update: Update, context: Ctx) -> None:
        seen().update_ids.append(update.update_id)

    async def start(update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Setuju", callback_data="yes"),
                    InlineKeyboardButton("Tolak", callback_data="no"),
                ],
                [InlineKeyboardButton("Bantuan", url="https://example.org/help")],
            ]
        )
        await update.effective_message.reply_text("Halo! Pilih:", reply_markup=keyboard)

    async def long(update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("x" * 5000)

    async def bigbutton(update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("big", callback_data="d" * 65)]])
        await update.effective_message.reply_text("pilih", reply_markup=keyboard)

    async def on_click(update: Update, context: Ctx) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"Dipilih: {query.data}", show_alert=query.data == "no")
        await query.edit_message_text(f"Pilihan: {query.data}")

    async def on_photo(update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None
        photo = message.photo[-1]
        tg_file = await photo.get_file()
        data = bytes(await tg_file.download_as_bytearray())
        seen().downloads.append(data)
        await message.reply_text(f"foto {len(data)} bytes")
        await message.reply_photo(photo.file_id, caption="sama")
        await message.reply_document(data, filename="salinan.png", caption="salinan")

    async def ask_contact(update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        keyboard = ReplyKeyboardMarkup([[KeyboardButton("Bagikan nomor", request_contact=True)]])
        await update.effective_message.reply_text("Kirim nomor Anda", reply_markup=keyboard)

    async def on_contact(update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None
        assert message.contact is not None
        assert message.from_user is not None
        assert message.contact.user_id == message.from_user.id
        await message.reply_text(
            f"nomor {message.contact.phone_number}", reply_markup=ReplyKeyboardRemove()
        )

    async def on_document(update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None
        assert message.document is not None
        data = await (await message.document.get_file()).download_as_bytearray()
        await message.reply_text(f"dok {message.document.file_name} {len(data)}")

    async def silent(update: Update, context: Ctx) -> None:
        return None

    async def cleanup(update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None
        temp = await message.reply_text("memproses...")
        await temp.delete()
        await message.reply_text("selesai")

    async def notify_other(update: Update, context: Ctx) -> None:
        await context.bot.send_message(7002, "ada surat baru")

    async def echo(update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        assert update.effective_message.text is not None
        await update.effective_message.reply_text(update.effective_message.text)

    async def on_error(update: object, context: Ctx) -> None:
        assert isinstance(context.error, Exception)
        seen().errors.append(context.error)

    app.add_handler(MessageHandler(filters.ALL, track), group=-1)
    app.add_handler(CallbackQueryHandler(track), group=-1)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("long", long))
    app.add_handler(CommandHandler("bigbutton", bigbutton))
    app.add_handler(CallbackQueryHandler(on_click))
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    app.add_handler(CommandHandler("kontak", ask_contact))
    app.add_handler(MessageHandler(filters.CONTACT, on_contact))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(CommandHandler("diam", silent))
    app.add_handler(CommandHandler("hapus", cleanup))
    app.add_handler(CommandHandler("teruskan", notify_other))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_error_handler(on_error)
    return app


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    # PTB 22 warns (an error under -W error) when RetryAfter uses int seconds.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeBotApi() as server:
        yield server
    assert server.server_errors == []


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Harness]:
    box: list[Harness] = []
    app = _build(api, box)
    box.append(Harness(app))
    async with running_bot(app):
        yield box[0]
    # The poll cancelled at shutdown must not show up as a 409 Conflict.
    assert [c.error for c in api.calls_of("getUpdates") if not c.ok] == []


@pytest.fixture
def user(api: FakeBotApi) -> FakeUser:
    return FakeUser(api, 5001, "Siti", username="siti")


async def _first_error(api: FakeBotApi, bot: Harness) -> Exception:
    await api.wait_until(lambda: bool(bot.errors), 5.0, message="bot saw no error")
    return bot.errors[0]


async def test_echo(bot: Harness, user: FakeUser) -> None:
    replies = await user.send("halo dunia")
    assert [m.text for m in replies] == ["halo dunia"]
    reply = replies[0]
    assert reply.chat_id == user.chat_id
    assert reply.sender["username"] == "kimbot_fake_bot"
    assert reply.reply_to_message_id is None  # PTB does not quote in private chats
    assert user.texts() == ["halo dunia"]
    await user.expect_silence(0.1)


async def test_command_and_click_edits_and_answers(bot: Harness, user: FakeUser) -> None:
    [menu] = await user.send("/start")
    assert menu.text == "Halo! Pilih:"
    assert user.buttons() == [[("Setuju", "yes"), ("Tolak", "no")], [("Bantuan", None)]]

    changed = await user.click("Setuju")
    assert changed == [menu]
    assert menu.text == "Pilihan: yes"
    assert menu.edited_count == 1
    assert menu.history == ["Halo! Pilih:"]
    assert not menu.has_inline_keyboard
    answer = user.last_callback_answer
    assert answer is not None
    assert (answer.text, answer.show_alert) == ("Dipilih: yes", False)
    assert len(user.messages) == 1

    # A forged payload on a message whose keyboard is gone still reaches the bot.
    await user.click(data="forged", message=menu)
    assert menu.text == "Pilihan: forged"
    assert user.last_callback_answer is not None
    assert user.last_callback_answer.text == "Dipilih: forged"


async def test_click_unknown_button_lists_available(bot: Harness, user: FakeUser) -> None:
    await user.send("/start")
    with pytest.raises(AssertionError, match="available: 'Setuju', 'Tolak', 'Bantuan'"):
        await user.click("Hapus")
    with pytest.raises(AssertionError, match="not a callback button"):
        await user.click("Bantuan")
    await user.click("Tol")  # unique substring
    assert user.last_callback_answer is not None
    assert user.last_callback_answer.show_alert is True


async def test_photo_download_roundtrip(api: FakeBotApi, bot: Harness, user: FakeUser) -> None:
    replies = await user.send_photo(TINY_PNG)
    assert bot.downloads == [TINY_PNG]
    assert [m.kind for m in replies] == ["text", "photo", "document"]
    text, photo, document = replies
    assert text.text == f"foto {len(TINY_PNG)} bytes"
    sent_photo = user.last_update["message"]["photo"][-1] if user.last_update else {}
    assert photo.photo == sent_photo["file_id"]
    assert photo.caption == "sama"
    assert document.document is not None
    stored = api.get_file(document.document)
    assert stored is not None
    assert stored.data == TINY_PNG
    assert stored.file_name == "salinan.png"


async def test_retry_after_is_injected(api: FakeBotApi, bot: Harness, user: FakeUser) -> None:
    api.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
        chat_id=user.chat_id,
    )
    api.push_message(user.user, "halo")
    err = await _first_error(api, bot)
    assert isinstance(err, RetryAfter)
    assert err.retry_after == dt.timedelta(seconds=7)
    # Only the next call failed: the bot works again afterwards.
    assert [m.text for m in await user.send("lagi")] == ["lagi"]


async def test_blocked_user_is_forbidden(api: FakeBotApi, bot: Harness, user: FakeUser) -> None:
    api.block(user.chat_id)
    api.push_message(user.user, "halo")
    err = await _first_error(api, bot)
    assert isinstance(err, Forbidden)
    assert "bot was blocked by the user" in str(err)
    assert api.messages(user.chat_id) == []
    api.unblock(user.chat_id)
    assert len(await user.send("lagi")) == 1


async def test_too_long_text_is_refused(api: FakeBotApi, bot: Harness, user: FakeUser) -> None:
    api.push_message(user.user, "/long")
    err = await _first_error(api, bot)
    assert isinstance(err, BadRequest)
    assert err.message == "Message is too long"
    failed = [c for c in api.calls_of("sendMessage") if not c.ok]
    assert failed
    assert failed[0].error is not None
    assert failed[0].error["description"] == "Bad Request: message is too long"


async def test_callback_data_over_64_bytes_is_refused(
    api: FakeBotApi, bot: Harness, user: FakeUser
) -> None:
    api.push_message(user.user, "/bigbutton")
    err = await _first_error(api, bot)
    assert isinstance(err, BadRequest)
    assert "button_data_invalid" in err.message.lower()
    assert api.messages(user.chat_id) == []


async def test_updates_are_confirmed_and_not_redelivered(
    api: FakeBotApi, bot: Harness, user: FakeUser
) -> None:
    ids = []
    for word in ("satu", "dua", "tiga"):
        await user.send(word)
        assert user.last_update is not None
        ids.append(user.last_update["update_id"])
    await api.wait_until(lambda: api.queued_updates == 0)
    assert set(ids) <= set(api.delivered_update_ids)
    await user.expect_silence(0.3)
    assert user.texts() == ["satu", "dua", "tiga"]
    assert [bot.update_ids.count(i) for i in ids] == [1, 1, 1]
    offsets = [c.params.get("offset") for c in api.calls_of("getUpdates")]
    assert max(o or 0 for o in offsets) == ids[-1] + 1


async def test_replayed_update_is_delivered_again(
    api: FakeBotApi, bot: Harness, user: FakeUser
) -> None:
    await user.send("ulang")
    assert user.last_update is not None
    update_id = user.last_update["update_id"]
    api.push_raw(user.last_update)
    await api.wait_for_messages(user.chat_id, 2)
    assert bot.update_ids.count(update_id) == 2
    # Normal updates keep flowing after the replay.
    assert [m.text for m in await user.send("baru")] == ["baru"]
    await api.wait_until(lambda: api.queued_updates == 0)


async def test_bot_api_methods_through_ptb(api: FakeBotApi, bot: Harness, user: FakeUser) -> None:
    ptb = bot.app.bot
    await ptb.set_my_commands([BotCommand("start", "Mulai"), BotCommand("bantuan", "Bantuan")])
    assert [c.command for c in await ptb.get_my_commands()] == ["start", "bantuan"]
    await ptb.delete_my_commands()
    assert await ptb.get_my_commands() == ()

    chat = await ptb.get_chat(user.chat_id)
    assert chat.first_name == "Siti"

    msg = await ptb.send_message(user.chat_id, "<b>Tebal</b> biasa", parse_mode="HTML")
    assert msg.text == "Tebal biasa"
    assert msg.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="not modified"):
        await ptb.edit_message_text(
            "<b>Tebal</b> biasa",
            chat_id=user.chat_id,
            message_id=msg.message_id,
            parse_mode="HTML",
        )
    with pytest.raises(BadRequest, match="Message text is empty"):
        await ptb.send_message(user.chat_id, "   ")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await ptb.send_photo(user.chat_id, TINY_PNG, caption="c" * 1025)
    with pytest.raises(BadRequest, match="parse entities"):
        await ptb.send_message(user.chat_id, "<foo>x</foo>", parse_mode="HTML")

    copied = await ptb.copy_message(user.chat_id, user.chat_id, msg.message_id)
    assert api.get_message(user.chat_id, copied.message_id) is not None
    forwarded = await ptb.forward_message(user.chat_id, user.chat_id, msg.message_id)
    assert forwarded.forward_origin is not None

    group = await ptb.send_media_group(
        user.chat_id,
        [
            InputMediaPhoto(TINY_PNG, caption="a"),
            InputMediaPhoto(TINY_PNG),
        ],
    )
    assert len(group) == 2
    assert group[0].media_group_id == group[1].media_group_id

    assert await ptb.delete_message(user.chat_id, msg.message_id)
    stored = api.get_message(user.chat_id, msg.message_id)
    assert stored is not None
    assert stored.deleted
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await ptb.delete_message(user.chat_id, msg.message_id)
    await ptb.send_chat_action(user.chat_id, "typing")

    api.fail_next("getMe", error_code=502, description="Bad Gateway", times=2)
    for _ in range(2):
        with pytest.raises(TelegramError):
            await ptb.get_me()
    assert (await ptb.get_me()).username == "kimbot_fake_bot"


async def test_fault_targets_one_chat(api: FakeBotApi, bot: Harness) -> None:
    alice = FakeUser(api, 7001, "Alice")
    budi = FakeUser(api, 7002, "Budi")
    api.fail_next(
        "sendMessage",
        error_code=403,
        description="Forbidden: bot was blocked by the user",
        chat_id=alice.chat_id,
    )
    assert [m.text for m in await budi.send("hai")] == ["hai"]
    api.push_message(alice.user, "hai")
    err = await _first_error(api, bot)
    assert isinstance(err, Forbidden)
    assert api.messages(alice.chat_id) == []


async def test_send_timeout_dumps_chat(api: FakeBotApi, user: FakeUser) -> None:
    # No bot is running: the user's message is never fetched.
    user.timeout = 0.2
    with pytest.raises(AssertionError, match="never fetched by getUpdates"):
        await user.send("halo?")


async def _post(session: aiohttp.ClientSession, url: str, **data: Any) -> tuple[int, Any]:
    async with session.post(url, json=data) as resp:
        return resp.status, await resp.json()


async def test_raw_http_long_polling_and_unknown_method(api: FakeBotApi) -> None:
    url = f"{api.base_url}123:TEST"
    async with aiohttp.ClientSession() as session:
        status, body = await _post(session, f"{url}/fooBar")
        assert (status, body) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
        )

        started = time.monotonic()
        status, body = await _post(session, f"{url}/getUpdates", timeout=0.2)
        assert (status, body) == (200, {"ok": True, "result": []})
        assert time.monotonic() - started >= 0.15

        async def push_later() -> None:
            await asyncio.sleep(0.1)
            api.push_message({"id": 9, "first_name": "Raw"}, "/start now")

        started = time.monotonic()
        pusher = asyncio.create_task(push_later())
        status, body = await _post(session, f"{url}/getUpdates", timeout=10)
        await pusher
        assert time.monotonic() - started < 2
        [update] = body["result"]
        assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        assert api.queued_updates == 1
        status, body = await _post(
            session, f"{url}/getUpdates", offset=update["update_id"] + 1, timeout=0
        )
        assert body["result"] == []
        assert api.queued_updates == 0
        assert api.delivered_update_ids == [update["update_id"]]

        # A second concurrent poller terminates the first one, like Telegram.
        first = asyncio.create_task(_post(session, f"{url}/getUpdates", timeout=5))
        await api.wait_until(lambda: len(api.calls_of("getUpdates")) == 4)
        status, body = await _post(session, f"{url}/getUpdates", timeout=0)
        assert (status, body) == (200, {"ok": True, "result": []})
        status, body = await first
        assert status == 409
        assert body["description"].startswith("Conflict: terminated by other getUpdates")

        form = aiohttp.FormData()
        form.add_field("chat_id", "9")
        form.add_field("text", "123")
        form.add_field(
            "reply_markup", '{"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}'
        )
        async with session.post(f"{url}/sendMessage", data=form) as resp:
            body = await resp.json()
        assert body["result"]["text"] == "123"
        assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
        assert body["result"]["chat"]["type"] == "private"


async def test_contact_document_and_reply_keyboard(bot: Harness, user: FakeUser) -> None:
    await user.send("/kontak")
    assert user.reply_keyboard() == [["Bagikan nomor"]]
    [reply] = await user.share_contact("+628123456789")
    assert reply.text == "nomor +628123456789"
    assert user.reply_keyboard() == []
    [reply] = await user.send_document("surat.pdf", b"%PDF-1.4 fake", "application/pdf")
    assert reply.text == "dok surat.pdf 13"


async def test_deleted_and_silent_and_other_chat(
    api: FakeBotApi, bot: Harness, user: FakeUser
) -> None:
    assert [m.text for m in await user.send("/hapus")] == ["selesai"]
    assert [m.text for m in user.all_messages] == ["memproses...", "selesai"]
    assert user.all_messages[0].deleted
    assert user.texts() == ["selesai"]

    assert await user.send("/diam", expect_reply=False) == []
    assert api.queued_updates <= 1

    boss = FakeUser(api, 7002, "Kepala")
    assert await user.send("/teruskan", expect_reply=False) == []
    assert boss.texts() == ["ada surat baru"]


def test_html_parsing_matches_telegram() -> None:
    text, entities = parse_html('<b>Surat</b> &amp; <a href="https://x.id">tautan</a> 😀<i>x</i>')
    assert text == "Surat & tautan 😀x"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "text_link", "url": "https://x.id", "offset": 8, "length": 6},
        {"type": "italic", "offset": 17, "length": 1},  # the emoji counts 2 UTF-16 units
    ]
    for bad in ("<b>open", "<foo>x</foo>", "<b>x</i>", "a<br/>b"):
        with pytest.raises(EntityParseError):
            parse_html(bad)
