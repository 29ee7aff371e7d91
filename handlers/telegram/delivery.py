"""Telegram's sending side for the core's delivery loop (`bot.delivery`).

`TelegramChannel` sends one message per call and turns Telegram's answers into the loop's
typed errors. With a `commit` hook (broadcasts: at most once) the request goes through
`rawapi` when possible: the whole request is handed to the socket in the same event-loop
step as the commit. Otherwise (notifications, uploads, behind an HTTP proxy) it goes
through PTB. `start_delivery` / `stop_delivery` are the application's start-up and
shut-down hooks.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from telegram import Bot, InputFile
from telegram import Message as TgMessage
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot import delivery
from bot.conversations.output import CAPTION_LIMIT, Message, OutFile, clip
from bot.delivery import (
    Commit,
    DeliveryError,
    DeliveryLoop,
    RateLimited,
    Rejected,
    Sent,
    Transient,
    Unconfirmed,
    Unreachable,
)
from bot.files import FileStore
from bot.ratelimit import RateLimiter
from bot.services import Services
from handlers.telegram.outbound import call, keyboard, keyboard_json
from handlers.telegram.rawapi import Answer, Connection, NoAnswer, NotSent, RawBotApi
from handlers.telegram.request import LOST

log = logging.getLogger(__name__)

CHANNEL = "telegram"
BOT_DATA_KEY = "sender"
USE_RAW = True  # broadcasts through `rawapi` when possible (tests switch it off for PTB's)
PROGRESS_S = delivery.PROGRESS_S  # tests make it shorter
_GONE = ("chat not found", "user is deactivated")  # 400s that mean: nobody to write to


# =============================================================== errors


def _classify(exc: TelegramError) -> DeliveryError:
    """PTB's exception as the loop's typed error."""
    if isinstance(exc, RetryAfter):
        delay = exc.retry_after
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return RateLimited(seconds, f"429 retry after {seconds:g}")
    if isinstance(exc, Forbidden):
        return Unreachable(f"unreachable: {exc.message}")
    if isinstance(exc, BadRequest):
        gone = any(s in exc.message.lower() for s in _GONE)
        return (Unreachable if gone else Rejected)(f"bad request: {exc.message}")
    if isinstance(exc, NetworkError) and "not* sent" in exc.message:
        return Transient(exc.message)  # pool or connect failure: the request never left
    if isinstance(exc, TimedOut):
        return Unconfirmed(f"no answer: {exc.message}")
    if isinstance(exc, NetworkError):
        if exc.message.startswith("httpx.Connect"):  # never reached Telegram
            return Transient(exc.message)
        if exc.message.startswith(("httpx.", LOST)):  # cut off after sending: maybe delivered
            return Unconfirmed(f"no answer: {exc.message}")
    return Transient(exc.message)  # Telegram answered with an error (5xx): not delivered


def _refusal(answer: Answer) -> DeliveryError:
    """A Bot API error answer (raw path) as the loop's typed error."""
    error = f"{answer.error_code}: {answer.description}"
    if answer.error_code == 429 or answer.retry_after is not None:
        return RateLimited(answer.retry_after or 1.0, error)
    if answer.error_code == 403:
        return Unreachable(f"unreachable: {error}")
    if answer.error_code == 400:
        gone = any(s in answer.description.lower() for s in _GONE)
        return (Unreachable if gone else Rejected)(error)
    return Transient(error)  # 5xx and the like: Telegram answered, so not delivered


def _file_id(sent: TgMessage) -> str:
    if sent.photo:
        return sent.photo[-1].file_id
    return sent.document.file_id if sent.document else ""


# =============================================================== the channel


class TelegramChannel:
    """`bot.delivery.Channel` for Telegram."""

    name = CHANNEL

    def __init__(self, bot: Bot, files: FileStore, raw: RawBotApi | None = None) -> None:
        self.bot = bot
        self.files = files
        self.raw = raw
        self._idle: list[Connection] = []  # keep-alive connections not in use

    async def send(self, chat_id: str, message: Message, *,
                   commit: Commit | None = None) -> Sent:
        item = message.files[0] if message.files else None
        ours = item is None or bool(item.ref and item.channel == CHANNEL)
        if commit is not None and self.raw is not None and ours:
            return await self._send_raw(chat_id, message, commit)
        media = await self._media(item) if item is not None else None
        if commit is not None:
            await commit(None)
        try:
            if item is None or not isinstance(media, InputFile):
                # A text, or a file Telegram has (by file_id): plain JSON, no PTB objects.
                method, params = self._params(chat_id, message)
                result = await call(self.bot, method, **params)
                return Sent(int(result["message_id"]), "")
            sent = await self._upload(chat_id, message, item, media)
        except TelegramError as exc:
            raise _classify(exc) from exc
        return Sent(sent.message_id, _file_id(sent))

    async def _media(self, item: OutFile) -> str | InputFile:
        """The file_id to reuse, else the stored bytes to upload."""
        if item.ref and item.channel == CHANNEL:
            return item.ref
        if not item.blob or not self.files.has(item.blob):
            raise Rejected(f"file not available on {CHANNEL}")
        data = await asyncio.to_thread(self.files.get, item.blob)
        return InputFile(data, filename=item.name or None)

    async def _upload(self, chat_id: str, message: Message, item: OutFile,
                      media: InputFile) -> TgMessage:
        """An upload: PTB builds the multipart request and reads back the new file_id."""
        markup = keyboard(message.buttons)
        caption = clip(item.caption, CAPTION_LIMIT) if item.caption else None
        if item.kind == "photo":
            return await self.bot.send_photo(chat_id, media, caption=caption,
                                             reply_markup=markup)
        return await self.bot.send_document(chat_id, media, caption=caption,
                                            filename=item.name or None, reply_markup=markup)

    async def edit(self, chat_id: str, message_id: int, message: Message) -> None:
        """Replace a message's text and buttons; unchanged is fine."""
        try:
            await self.bot.edit_message_text(clip(message.text), chat_id, message_id,
                                             reply_markup=keyboard(message.buttons))
        except BadRequest as exc:
            if "not modified" not in exc.message:
                raise _classify(exc) from exc
        except TelegramError as exc:
            raise _classify(exc) from exc

    # -- the raw path -------------------------------------------------------------------

    @staticmethod
    def _params(chat_id: str, message: Message) -> tuple[str, dict[str, Any]]:
        chat: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        params: dict[str, Any] = {"chat_id": chat}
        if message.buttons:
            params["reply_markup"] = keyboard_json(message.buttons)
        if not message.files:
            return "sendMessage", {**params, "text": clip(message.text)}
        item = message.files[0]
        params[item.kind] = item.ref
        if item.caption:
            params["caption"] = clip(item.caption, CAPTION_LIMIT)
        return ("sendPhoto" if item.kind == "photo" else "sendDocument"), params

    async def _connection(self) -> Connection:
        assert self.raw is not None
        while self._idle:
            connection = self._idle.pop()
            if connection.fresh:
                return connection
            connection.close()
        try:
            return await self.raw.connect()
        except NotSent as exc:
            raise Transient(str(exc)) from exc

    async def _send_raw(self, chat_id: str, message: Message, commit: Commit) -> Sent:
        """Commit, then the whole request to the socket in the same event-loop step."""
        assert self.raw is not None
        request = self.raw.request(*self._params(chat_id, message))
        connection = await self._connection()
        reusable = False
        try:
            try:
                await commit(lambda: connection.write(request))
            except DeliveryError:  # withdrawn: nothing was written
                reusable = True
                raise
            answer = await connection.answer()
            reusable = True
        except NotSent as exc:  # it did not leave after all (closed connection)
            raise Transient(str(exc)) from exc
        except NoAnswer as exc:  # it left; maybe delivered
            raise Unconfirmed(str(exc)) from exc
        finally:
            if reusable and connection.fresh:
                self._idle.append(connection)
            else:
                connection.close()
        if not answer.ok:
            raise _refusal(answer)
        result = answer.result if isinstance(answer.result, dict) else {}
        return Sent(result.get("message_id"))

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


# =============================================================== the sender


class TelegramDelivery:
    """The Telegram sender: the core's delivery loop with the Telegram channel."""

    def __init__(self, svc: Services, bot: Bot, limiter: RateLimiter | None = None) -> None:
        raw = RawBotApi(bot.base_url) if USE_RAW else None
        self.channel = TelegramChannel(bot, svc.files,
                                       raw if raw is not None and raw.usable() else None)
        self.limiter = limiter or RateLimiter.from_settings(svc.settings)
        self.loop = DeliveryLoop(svc, self.channel, self.limiter, progress_s=PROGRESS_S)
        self.svc = svc
        self._started = False

    @property
    def bot(self) -> Bot:
        return self.channel.bot

    @bot.setter
    def bot(self, bot: Bot) -> None:
        self.channel.bot = bot

    @property
    def raw(self) -> RawBotApi | None:
        return self.channel.raw

    def wake(self) -> None:
        self.loop.wake()

    def cancelled(self, broadcast_id: int) -> bool:
        return self.loop.cancelled(broadcast_id)

    async def start(self) -> None:
        self.svc.outbox_wakers.append(self.wake)
        self._started = True
        await self.loop.start()

    async def stop(self) -> None:
        """Idempotent: stop waking, let sends in flight finish, close connections."""
        if self.wake in self.svc.outbox_wakers:
            self.svc.outbox_wakers.remove(self.wake)
        if not self._started:
            return
        self._started = False
        await self.loop.stop()
        self.channel.close()


async def start_delivery(app: Application[Any, Any, Any, Any, Any, Any],
                         svc: Services) -> TelegramDelivery:
    """Start-up hook: resume broadcasts, release stale claims, deliver in the background."""
    sender = TelegramDelivery(svc, app.bot)
    app.bot_data[BOT_DATA_KEY] = sender
    await sender.start()
    return sender


async def stop_delivery(sender: TelegramDelivery | None) -> None:
    """Shut-down hook (idempotent; None is fine)."""
    if sender is not None:
        await sender.stop()
