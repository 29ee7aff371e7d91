"""A local fake of the Telegram Bot API, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import BodyPartReader, web

from fakebotapi.formatting import (
    EntityParseError,
    command_entities,
    format_text,
    image_size,
)
from fakebotapi.models import (
    BOT_FIRST_NAME,
    BOT_ID,
    BOT_USERNAME,
    ApiError,
    Call,
    CallbackAnswer,
    JSONDict,
    SentMessage,
    StoredFile,
    Upload,
    bad_request,
)
from fakebotapi.webhooks import WebhookPusher, update_key

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"

# Form/multipart values are strings; these are kept verbatim, all others are JSON-decoded.
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "data",
        "query",
        "callback_query_id",
        "inline_query_id",
        "file_id",
        "photo",
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "parse_mode",
        "url",
        "action",
        "language_code",
        "phone_number",
        "first_name",
        "last_name",
        "title",
        "description",
        "name",
        "short_description",
        "emoji",
        "secret_token",
        "business_connection_id",
        "inline_message_id",
        "message_effect_id",
        "ip_address",
        "certificate",
        "payload",
        "provider_token",
        "currency",
        "start_parameter",
        "vcard",
        "address",
        "foursquare_id",
        "question",
        "explanation",
        "custom_title",
    }
)

# Methods that deliver something to a chat: refused with 403 for blocked chats.
_SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendChatAction",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendSticker",
        "sendAnimation",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "sendDice",
        "copyMessages",
        "forwardMessages",
    }
)

_BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")

_REQUEST: contextvars.ContextVar[web.Request] = contextvars.ContextVar("fakebotapi_request")

Handler = Callable[[JSONDict, dict[str, Upload]], Awaitable[Any]]


@dataclass
class _Fault:
    method: str
    error: ApiError
    chat_id: int | None
    remaining: int


@dataclass
class _Pending:
    update: JSONDict
    forced: bool = False
    handed_out: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


@dataclass
class _CallbackState:
    chat_id: int | None
    answer: CallbackAnswer | None = None
    answered_at: float | None = None


def _client_gone() -> bool:
    request = _REQUEST.get(None)
    if request is None:
        return False
    transport = request.transport
    return transport is None or transport.is_closing()


def _param_chat_id(params: JSONDict) -> int | None:
    value = params.get("chat_id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _now() -> int:
    return int(time.time())


def _unique_id(seed: str) -> str:
    return "AgAD" + hashlib.sha256(seed.encode()).hexdigest()[:12]


def _chat_instance(chat_id: int) -> str:
    return str(int(hashlib.sha256(f"ci{chat_id}".encode()).hexdigest()[:15], 16))


class FakeBotApi:
    """A fake Telegram Bot API server for end-to-end tests (any token is accepted)."""

    def __init__(
        self,
        *,
        bot_id: int = BOT_ID,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._event = asyncio.Event()

        self.calls: list[Call] = []
        self.answered_callbacks: list[JSONDict] = []
        self.delivered_update_ids: list[int] = []
        self.server_errors: list[BaseException] = []

        self._queue: list[_Pending] = []
        self._update_ids = itertools.count(1)
        self._poll_generation = 0
        self._faults: list[_Fault] = []
        self._blocked: set[int] = set()

        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._messages: dict[int, list[SentMessage]] = {}
        self._by_id: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._deleted_user_messages: set[tuple[int, int]] = set()
        self._next_message_id: dict[int, int] = {}
        self._media_groups = itertools.count(1)

        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = itertools.count(1)

        self._callbacks: dict[str, _CallbackState] = {}
        self._callback_counter = itertools.count(1)

        self._chat_changes: dict[int, int] = {}
        self._chat_last_call: dict[int, float] = {}
        self._last_call_at: float | None = None

        self.commands: dict[str, list[JSONDict]] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.webhook: JSONDict = {}
        # After setWebhook, queued updates are POSTed to it (fakebotapi/webhooks.py).
        self._delivered_waiters: dict[int, list[asyncio.Future[None]]] = {}
        self.webhooks = WebhookPusher(lambda: self._queue, self._webhook_delivered, self._notify)

        self._handlers: dict[str, tuple[str, Handler]] = {}
        for name, handler in self._method_table().items():
            self._handlers[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1 (a free port unless one was given)."""
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        log.debug("fake Bot API listening on %s", self.base_url)

    async def stop(self) -> None:
        """Stop the server; waiting long polls return immediately."""
        self._closing = True
        self._notify()
        await self.webhooks.stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port (valid after ``start()``)."""
        return self._port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._runner is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url(...)``."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.root_url}/file/bot"

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        message: str | Callable[[], str] | None = None,
    ) -> None:
        """Wait until ``predicate()`` is true; raise AssertionError after ``timeout``.

        The predicate is re-checked on every server state change and every 10 ms
        (so it may also look at state outside the server).
        """
        if not await self._wait(predicate, timeout, poll=0.01):
            text = message() if callable(message) else message
            raise AssertionError(text or f"condition not met within {timeout}s")

    async def _wait(
        self, predicate: Callable[[], bool], seconds: float, *, poll: float | None = None
    ) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            event = self._event
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            delay = remaining if poll is None else min(remaining, poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), delay)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id``."""

        def describe() -> str:
            return (
                f"expected >= {count} bot messages in chat {chat_id} within {timeout}s, "
                f"got {len(self.messages(chat_id))}:\n{self.dump_chat(chat_id)}"
            )

        await self.wait_until(
            lambda: len(self.messages(chat_id)) >= count, timeout, message=describe
        )
        return self.messages(chat_id)

    async def wait_for_call(
        self,
        method: str,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        since: int = 0,
    ) -> Call:
        """Wait for a call of ``method`` recorded at index >= ``since`` in ``calls``."""
        found: list[Call] = []

        def check() -> bool:
            found[:] = [c for c in self.calls[since:] if c.method == method]
            return bool(found)

        await self.wait_until(check, timeout, message=f"no {method} call within {timeout}s")
        return found[0]

    # ------------------------------------------------------------------ inspection

    def messages(self, chat_id: int, *, include_deleted: bool = True) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id``, oldest first."""
        msgs = self._messages.get(chat_id, [])
        return list(msgs) if include_deleted else [m for m in msgs if not m.deleted]

    def all_messages(self) -> list[SentMessage]:
        """All messages the bot sent, in every chat."""
        return [m for msgs in self._messages.values() for m in msgs]

    def get_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """A bot message by id."""
        return self._by_id.get((chat_id, message_id))

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method."""
        return [c for c in self.calls if c.method == method]

    def callback_answer(self, callback_query_id: str) -> CallbackAnswer | None:
        """The answer the bot gave to a callback query, if any."""
        state = self._callbacks.get(callback_query_id)
        return state.answer if state else None

    def get_file(self, file_id: str) -> StoredFile | None:
        """A stored file by file_id."""
        return self._files.get(file_id)

    def chat_changes(self, chat_id: int) -> int:
        """Counter of bot sends/edits/deletes in a chat."""
        return self._chat_changes.get(chat_id, 0)

    def last_chat_call_at(self, chat_id: int) -> float | None:
        """``time.monotonic()`` of the last bot call touching this chat."""
        return self._chat_last_call.get(chat_id)

    @property
    def last_call_at(self) -> float | None:
        """``time.monotonic()`` of the bot's last API call or update hand-out."""
        return self._last_call_at

    @property
    def queued_updates(self) -> int:
        """Updates not yet confirmed by the bot (handed out or not)."""
        return len(self._queue)

    @property
    def pending_updates(self) -> int:
        """Updates never handed out by getUpdates."""
        return sum(1 for p in self._queue if not p.handed_out)

    def queued_for(self, user_id: int) -> int:
        """Updates from this user not yet confirmed (by getUpdates or a 2xx webhook answer)."""
        return sum(1 for p in self._queue if update_key(p.update) == user_id)

    def is_update_pending(self, update_id: int) -> bool:
        """Whether an update is still queued and was never handed out."""
        return any(p.update_id == update_id and not p.handed_out for p in self._queue)

    def dump_chat(self, chat_id: int, last: int = 10) -> str:
        """Readable listing of the last messages the bot sent to a chat."""
        msgs = self.messages(chat_id)[-last:]
        if not msgs:
            return "  (no messages from the bot)"
        return "\n".join("  " + m.describe() for m in msgs)

    # ------------------------------------------------------------------ control

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
        parameters: JSONDict | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (optionally for one chat) fail."""
        params = dict(parameters or {})
        if retry_after is not None:
            params["retry_after"] = retry_after
        name = self._handlers.get(method.lower(), (method, None))[0]
        self._faults.append(
            _Fault(name, ApiError(error_code, description, params or None), chat_id, times)
        )

    def clear_faults(self) -> None:
        """Drop all pending injected faults."""
        self._faults.clear()

    def block(self, chat_id: int) -> None:
        """Every send to ``chat_id`` answers 403 "bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo ``block``."""
        self._blocked.discard(chat_id)

    def register_user(self, user: JSONDict) -> None:
        """Remember a user (and its private chat) so chat objects carry their names."""
        self._users[int(user["id"])] = dict(user)
        chat: JSONDict = {"id": int(user["id"]), "type": "private"}
        for key in ("first_name", "last_name", "username"):
            if user.get(key):
                chat[key] = user[key]
        self._chats.setdefault(int(user["id"]), chat)

    def register_chat(self, chat: JSONDict) -> None:
        """Remember a chat object (e.g. a group with its title)."""
        self._chats[int(chat["id"])] = dict(chat)

    # ------------------------------------------------------------------ updates

    def _enqueue(self, update: JSONDict, *, forced: bool = False) -> JSONDict:
        for key in ("message", "edited_message", "channel_post"):
            message = update.get(key)
            if isinstance(message, dict) and "chat" in message and "message_id" in message:
                chat_id, message_id = int(message["chat"]["id"]), int(message["message_id"])
                self._chats.setdefault(chat_id, dict(message["chat"]))
                self._user_messages.setdefault((chat_id, message_id), message)
                if self._next_message_id.get(chat_id, 1) <= message_id:
                    self._next_message_id[chat_id] = message_id + 1
        self._queue.append(_Pending(update, forced=forced))
        self._notify()
        self.webhooks.wake()
        return update

    def _webhook_delivered(self, pending: _Pending) -> None:
        """The bot's webhook answered 2xx: the update is confirmed."""
        pending.handed_out = True
        self._queue = [p for p in self._queue if p is not pending]
        self.delivered_update_ids.append(pending.update_id)
        self._last_call_at = time.monotonic()
        key = update_key(pending.update)
        if key in self._delivered_waiters and self.queued_for(key) == 0:
            for waiter in self._delivered_waiters.pop(key):
                if not waiter.done():
                    waiter.set_result(None)
        self._notify()

    async def all_delivered(self, user_id: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until every queued update from this user was answered 2xx by the webhook
        (woken by the delivery itself: cheap with many waiting people)."""
        if self.queued_for(user_id) == 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._delivered_waiters.setdefault(user_id, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise AssertionError(f"updates of {user_id} not handled within {timeout}s") from None

    def push_update(self, payload: JSONDict) -> JSONDict:
        """Queue an update built from ``payload`` (e.g. ``{"message": {...}}``) with a new id."""
        update = {"update_id": next(self._update_ids), **payload}
        return self._enqueue(update)

    def push_raw(self, update: JSONDict) -> JSONDict:
        """Queue ``update`` exactly as given (same update_id): delivered once more."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            chat_id = (query.get("message") or {}).get("chat", {}).get("id")
            self._callbacks[str(query["id"])] = _CallbackState(chat_id)
        return self._enqueue(copy.deepcopy(update), forced=True)

    def push_message(
        self,
        user: JSONDict,
        text: str | None = None,
        *,
        photo: bytes | None = None,
        document: tuple[str, bytes, str] | None = None,
        caption: str | None = None,
        contact: JSONDict | None = None,
        chat: JSONDict | None = None,
        reply_to: SentMessage | None = None,
        entities: list[JSONDict] | None = None,
    ) -> JSONDict:
        """Queue a message from ``user`` (private chat unless ``chat`` is given)."""
        user = {"is_bot": False, **user}
        if int(user["id"]) not in self._users:
            self.register_user(user)
        if chat is not None:
            self.register_chat(chat)
            chat_id = int(chat["id"])
        else:
            chat_id = int(user["id"])
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "date": _now(),
            "chat": self._chat_json(chat_id),
            "from": user,
        }
        if text is not None:
            message["text"] = text
            ents = entities if entities is not None else command_entities(text)
            if ents:
                message["entities"] = ents
        if photo is not None:
            stored = self._store_file(photo, kind="photo", mime_type="image/jpeg")
            message["photo"] = [stored.photo_size()]
        if document is not None:
            filename, data, mime = document
            stored = self._store_file(data, kind="document", file_name=filename, mime_type=mime)
            message["document"] = stored.document()
        if caption is not None:
            message["caption"] = caption
        if contact is not None:
            message["contact"] = dict(contact)
        if reply_to is not None:
            message["reply_to_message"] = reply_to.as_dict()
        return self.push_update({"message": message})

    def push_callback(
        self,
        user: JSONDict,
        message: SentMessage,
        data: str,
        *,
        chat_instance: str | None = None,
    ) -> JSONDict:
        """Queue a callback query as if ``user`` pressed a button on ``message``."""
        user = {"is_bot": False, **user}
        query_id = f"{int(user['id'])}{next(self._callback_counter):08d}"
        self._callbacks[query_id] = _CallbackState(message.chat_id)
        query: JSONDict = {
            "id": query_id,
            "from": user,
            "message": message.as_dict(),
            "chat_instance": chat_instance or _chat_instance(message.chat_id),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._queue = self._queue[offset:]
            return
        keep: list[_Pending] = []
        for pending in self._queue:
            if pending.update_id < offset and not (pending.forced and not pending.handed_out):
                if pending.handed_out:
                    self.delivered_update_ids.append(pending.update_id)
                continue
            keep.append(pending)
        if len(keep) != len(self._queue):
            self._queue = keep
            self._notify()

    def _batch(self, limit: int) -> list[_Pending]:
        batch: list[_Pending] = []
        for pending in self._queue:
            if len(batch) >= limit:
                break
            if batch and pending.update_id <= batch[-1].update_id:
                break  # keep ids increasing so offset = last + 1 confirms the whole batch
            batch.append(pending)
        return batch

    # ------------------------------------------------------------------ HTTP layer

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None or stored.data is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _handle_method(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        raw_method = request.match_info["method"]
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        try:
            params, uploads = await self._read_params(request)
        except ValueError as exc:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"},
                status=400,
            )
        call = Call(name, params, time.monotonic(), uploads, token=token)
        self.calls.append(call)
        self._touch_call(name, params)
        _REQUEST.set(request)
        try:
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            self._check_faults(name, params)
            result = await handler(params, uploads)
        except ApiError as err:
            call.error = err.as_dict()
            self._notify()
            return web.json_response(err.as_dict(), status=err.error_code)
        except Exception as exc:
            log.exception("fake Bot API crashed in %s", name)
            self.server_errors.append(exc)
            call.error = {"ok": False, "error_code": 500, "description": repr(exc)}
            self._notify()
            return web.json_response(
                {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc}"},
                status=500,
            )
        self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, Upload]]:
        params: JSONDict = dict(request.query)
        uploads: dict[str, Upload] = {}
        ctype = request.content_type
        if ctype == "application/json":
            if request.can_read_body:
                try:
                    body = await request.json()
                except json.JSONDecodeError as exc:
                    raise ValueError("can't parse JSON body") from exc
                if isinstance(body, dict):
                    return {**params, **body}, uploads
            return params, uploads
        if ctype == "multipart/form-data":
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    uploads[part.name] = Upload(
                        part.filename,
                        bytes(await part.read()),
                        part.headers.get("Content-Type"),
                    )
                else:
                    params[part.name] = await part.text()
        elif ctype == "application/x-www-form-urlencoded":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
        return {k: self._decode(k, v) for k, v in params.items()}, uploads

    @staticmethod
    def _decode(key: str, value: Any) -> Any:
        if not isinstance(value, str) or key in _STRING_FIELDS:
            return value
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return value if isinstance(decoded, str) else decoded

    def _touch_call(self, method: str, params: JSONDict) -> None:
        now = time.monotonic()
        if method != "getUpdates":
            self._last_call_at = now
        chat_id = _param_chat_id(params)
        if chat_id is not None:
            self._chat_last_call[chat_id] = now
        query_id = params.get("callback_query_id")
        if isinstance(query_id, str) and query_id in self._callbacks:
            state_chat = self._callbacks[query_id].chat_id
            if state_chat is not None:
                self._chat_last_call[state_chat] = time.monotonic()

    def _check_faults(self, method: str, params: JSONDict) -> None:
        chat_id = _param_chat_id(params)
        for fault in self._faults:
            if fault.method != method:
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            raise fault.error
        if method in _SEND_METHODS and chat_id in self._blocked:
            raise ApiError(403, BLOCKED)

    # ------------------------------------------------------------------ helpers

    def _chat_json(self, chat_id: int) -> JSONDict:
        known = self._chats.get(chat_id)
        if known is not None:
            return dict(known)
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        chat_type = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
        return {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}

    def _new_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _changed(self, chat_id: int) -> None:
        self._chat_changes[chat_id] = self._chat_changes.get(chat_id, 0) + 1
        self._chat_last_call[chat_id] = self._last_call_at = time.monotonic()

    @staticmethod
    def _chat_id(params: JSONDict, key: str = "chat_id") -> int:
        value = params.get(key)
        if value is None or value == "":
            raise bad_request(f"{key} is empty")
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad_request("chat not found") from None

    @staticmethod
    def _int(params: JSONDict, key: str) -> int:
        value = params.get(key)
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request(f"{key} is empty" if value is None else f"invalid {key}") from None

    def _store_file(
        self,
        data: bytes | None,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        n = next(self._file_counter)
        folder = "photos" if kind == "photo" else "documents"
        if kind == "photo":
            suffix = ".png" if (data or b"").startswith(b"\x89PNG") else ".jpg"
        else:
            suffix = ""
            if file_name and "." in file_name:
                suffix = "." + file_name.rsplit(".", 1)[1]
        size = image_size(data) if (data is not None and kind == "photo") else None
        stored = StoredFile(
            file_id=f"FAKE{kind[:3].upper()}{n:06d}{_unique_id(str(n))[4:]}",
            file_unique_id=_unique_id(f"{kind}-{n}"),
            data=data,
            file_path=f"{folder}/file_{n}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
            width=size[0] if size else None,
            height=size[1] if size else None,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _input_file(
        self, params: JSONDict, uploads: dict[str, Upload], key: str, kind: str
    ) -> StoredFile:
        value = params.get(key)
        upload = uploads.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"file must be non-empty: {value}")
            value = None
        if upload is not None:
            if not upload.data:
                raise bad_request("file must be non-empty")
            mime = upload.content_type
            if kind == "photo":
                mime = "image/png" if upload.data.startswith(b"\x89PNG") else "image/jpeg"
            return self._store_file(
                upload.data, kind=kind, file_name=upload.filename, mime_type=mime
            )
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {kind} in the request")
        known = self._files.get(value)
        if known is not None:
            return known
        if value.startswith(("http://", "https://")):
            name = value.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self._store_file(None, kind=kind, file_name=name)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _text(
        self, params: JSONDict, key: str, *, caption: bool
    ) -> tuple[str | None, list[JSONDict]]:
        raw = params.get(key)
        if raw is None or (caption and raw == ""):
            return None, []
        entities_key = "caption_entities" if caption else "entities"
        given = params.get(entities_key)
        try:
            text, entities = format_text(
                str(raw), params.get("parse_mode"), given if isinstance(given, list) else None
            )
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        limit = MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH
        if len(text) > limit:
            raise bad_request("message caption is too long" if caption else "message is too long")
        return text, entities

    def _message_text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        text, entities = self._text(params, "text", caption=False)
        if text is None or not text.strip():
            raise bad_request("message text is empty")
        return text, entities

    @staticmethod
    def _markup(params: JSONDict) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is not None:
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request('field "inline_keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    FakeBotApi._check_button(button)
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad_request("can't parse inline keyboard button: Text is not specified")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str):
                raise bad_request(
                    "can't parse inline keyboard button: "
                    'Field "callback_data" must be of type String'
                )
            if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
            return
        actions = {
            "url",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "callback_game",
            "pay",
            "web_app",
            "copy_text",
        }
        if not actions & button.keys():
            raise bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the "
                "inline keyboard"
            )
        url = button.get("url")
        if url is not None and not (isinstance(url, str) and re.match(r"^(https?|tg)://\S+$", url)):
            raise bad_request("BUTTON_URL_INVALID")

    @staticmethod
    def _inline(markup: JSONDict | None) -> JSONDict | None:
        if markup is not None and "inline_keyboard" in markup:
            return markup
        return None

    def _edited_markup(self, msg: SentMessage, markup: JSONDict | None) -> JSONDict | None:
        """Inline markup after an edit; a reply keyboard sent with the message stays."""
        inline = self._inline(markup)
        if inline is None and msg.reply_markup is not None and not msg.has_inline_keyboard:
            return msg.reply_markup
        return inline

    def _reply_to(self, chat_id: int, params: JSONDict) -> int | None:
        reply = params.get("reply_parameters")
        target: Any = params.get("reply_to_message_id")
        allow = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            target = reply.get("message_id")
            allow = allow or bool(reply.get("allow_sending_without_reply"))
            if reply.get("chat_id") not in (None, chat_id):
                return None
        if target is None:
            return None
        key = (chat_id, int(target))
        exists = (key in self._by_id and not self._by_id[key].deleted) or (
            key in self._user_messages and key not in self._deleted_user_messages
        )
        if not exists:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return int(target)

    def _reply_json(self, chat_id: int, message_id: int) -> JSONDict | None:
        bot_msg = self._by_id.get((chat_id, message_id))
        if bot_msg is not None:
            return bot_msg.as_dict()
        user_msg = self._user_messages.get((chat_id, message_id))
        return copy.deepcopy(user_msg) if user_msg is not None else None

    def _new_message(
        self,
        chat_id: int,
        *,
        kind: str,
        params: JSONDict,
        text: str | None = None,
        caption: str | None = None,
        entities: list[JSONDict] | None = None,
        markup: JSONDict | None = None,
        media: JSONDict | None = None,
        photo: str | None = None,
        document: str | None = None,
        media_group_id: str | None = None,
        extra: JSONDict | None = None,
    ) -> SentMessage:
        reply_to = self._reply_to(chat_id, params)
        msg = SentMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            text=text,
            caption=caption,
            reply_markup=markup,
            photo=photo,
            document=document,
            kind=kind,
            date=_now(),
            parse_mode=params.get("parse_mode"),
            source_text=params.get("text") if text is not None else params.get("caption"),
            entities=list(entities or []),
            media_group_id=media_group_id,
            reply_to_message_id=reply_to,
            chat=self._chat_json(chat_id),
            sender=dict(self.bot_user),
            media=dict(media or {}),
            extra=dict(extra or {}),
        )
        if reply_to is not None:
            reply_json = self._reply_json(chat_id, reply_to)
            if reply_json is not None:
                reply_json.pop("reply_to_message", None)
                msg.extra["reply_to_message"] = reply_json
        self._messages.setdefault(chat_id, []).append(msg)
        self._by_id[(chat_id, msg.message_id)] = msg
        self._changed(chat_id)
        return msg

    def _editable(self, params: JSONDict) -> SentMessage | None:
        if params.get("inline_message_id"):
            return None
        chat_id = self._chat_id(params)
        msg = self._by_id.get((chat_id, self._int(params, "message_id")))
        if msg is None or msg.deleted:
            if (chat_id, params.get("message_id")) in self._user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return msg

    def _apply_edit(self, msg: SentMessage) -> JSONDict:
        msg.edited_count += 1
        msg.edit_date = _now()
        self._changed(msg.chat_id)
        return msg.as_dict()

    # ------------------------------------------------------------------ methods

    def _method_table(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "close": self._true,
            "logOut": self._true,
            "setMyDescription": self._true,
            "setMyShortDescription": self._true,
            "setMyName": self._true,
            "setMessageReaction": self._true,
            "pinChatMessage": self._true,
            "unpinChatMessage": self._true,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendMediaGroup": self._send_media_group,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
        }

    async def _true(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        return True

    async def _get_me(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        return dict(self.bot_user)

    async def _get_updates(self, params: JSONDict, uploads: dict[str, Upload]) -> list[JSONDict]:
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                           "active; use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset is not None:
            self._confirm(int(offset))
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()

        def ready() -> bool:
            return self._closing or generation != self._poll_generation or bool(self._batch(1))

        await self._wait(ready, timeout)
        if self._closing or _client_gone():
            return []  # nobody is listening any more: hand nothing out
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            )
        batch = self._batch(max(1, min(limit, 100)))
        for pending in batch:
            pending.handed_out = True
        if batch:
            self._last_call_at = time.monotonic()
        return [copy.deepcopy(p.update) for p in batch]

    async def _delete_webhook(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        self.webhook = {}
        await self.webhooks.stop()
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _set_webhook(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        self.webhook = dict(params)
        self.webhooks.configure(str(params.get("url") or ""), str(params.get("secret_token") or ""),
                                int(params.get("max_connections") or 40))
        return True

    async def _get_webhook_info(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        return {
            "url": str(self.webhook.get("url", "")),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    @staticmethod
    def _commands_key(params: JSONDict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    async def _set_my_commands(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND.match(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[self._commands_key(params)] = [dict(c) for c in commands]
        return True

    async def _get_my_commands(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> list[JSONDict]:
        return [dict(c) for c in self.commands.get(self._commands_key(params), [])]

    async def _delete_my_commands(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_chat_menu_button(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        chat_id = params.get("chat_id")
        button = params.get("menu_button") or {"type": "default"}
        self.menu_buttons[int(chat_id) if chat_id is not None else None] = dict(button)
        return True

    async def _get_chat_menu_button(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat_id = params.get("chat_id")
        key = int(chat_id) if chat_id is not None else None
        return dict(
            self.menu_buttons.get(key) or self.menu_buttons.get(None) or {"type": "default"}
        )

    async def _send_message(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat_id = self._chat_id(params)
        text, entities = self._message_text(params)
        markup = self._markup(params)
        msg = self._new_message(
            chat_id, kind="text", params=params, text=text, entities=entities, markup=markup
        )
        return msg.as_dict()

    async def _send_photo(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat_id = self._chat_id(params)
        caption, entities = self._text(params, "caption", caption=True)
        markup = self._markup(params)
        stored = self._input_file(params, uploads, "photo", "photo")
        msg = self._new_message(
            chat_id,
            kind="photo",
            params=params,
            caption=caption,
            entities=entities,
            markup=markup,
            media={"photo": [stored.photo_size()]},
            photo=stored.file_id,
        )
        return msg.as_dict()

    async def _send_document(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat_id = self._chat_id(params)
        caption, entities = self._text(params, "caption", caption=True)
        markup = self._markup(params)
        stored = self._input_file(params, uploads, "document", "document")
        msg = self._new_message(
            chat_id,
            kind="document",
            params=params,
            caption=caption,
            entities=entities,
            markup=markup,
            media={"document": stored.document()},
            document=stored.file_id,
        )
        return msg.as_dict()

    async def _send_media_group(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> list[JSONDict]:
        chat_id = self._chat_id(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the media group: must be 2-10 items")
        prepared: list[tuple[str, StoredFile, str | None, list[JSONDict]]] = []
        for item in media:
            if not isinstance(item, dict):
                raise bad_request("can't parse InputMedia JSON object")
            kind = "photo" if item.get("type") == "photo" else "document"
            stored = self._input_file({"media": item.get("media")}, uploads, "media", kind)
            caption, entities = self._text(item, "caption", caption=True)
            prepared.append((kind, stored, caption, entities))
        self._reply_to(chat_id, params)
        group_id = str(10_000_000 + next(self._media_groups))
        result: list[JSONDict] = []
        for kind, stored, caption, entities in prepared:
            body = (
                {"photo": [stored.photo_size()]}
                if kind == "photo"
                else {"document": stored.document()}
            )
            msg = self._new_message(
                chat_id,
                kind=kind,
                params=params,
                caption=caption,
                entities=entities,
                media=body,
                photo=stored.file_id if kind == "photo" else None,
                document=stored.file_id if kind == "document" else None,
                media_group_id=group_id,
            )
            result.append(msg.as_dict())
        return result

    async def _send_chat_action(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        self._chat_id(params)
        if not params.get("action"):
            raise bad_request("action is empty")
        return True

    async def _edit_message_text(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> JSONDict | bool:
        msg = self._editable(params)
        if msg is None:
            return True
        if msg.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._message_text(params)
        markup = self._markup(params)
        if (
            text == msg.text
            and entities == msg.entities
            and self._inline(markup) == self._inline(msg.reply_markup)
        ):
            raise bad_request(NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.text = text
        msg.entities = entities
        msg.source_text = params.get("text")
        msg.parse_mode = params.get("parse_mode")
        msg.reply_markup = self._edited_markup(msg, markup)
        return self._apply_edit(msg)

    async def _edit_message_caption(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> JSONDict | bool:
        msg = self._editable(params)
        if msg is None:
            return True
        if msg.text is not None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._text(params, "caption", caption=True)
        markup = self._markup(params)
        if (
            caption == msg.caption
            and entities == msg.entities
            and self._inline(markup) == self._inline(msg.reply_markup)
        ):
            raise bad_request(NOT_MODIFIED)
        msg.history.append(msg.caption)
        msg.caption = caption
        msg.entities = entities
        msg.source_text = params.get("caption")
        msg.parse_mode = params.get("parse_mode")
        msg.reply_markup = self._edited_markup(msg, markup)
        return self._apply_edit(msg)

    async def _edit_message_reply_markup(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> JSONDict | bool:
        msg = self._editable(params)
        if msg is None:
            return True
        markup = self._inline(self._markup(params))
        if markup == self._inline(msg.reply_markup):
            raise bad_request(NOT_MODIFIED)
        msg.reply_markup = self._edited_markup(msg, markup)
        return self._apply_edit(msg)

    async def _delete_message(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        chat_id = self._chat_id(params)
        if not self._delete_one(chat_id, self._int(params, "message_id")):
            raise bad_request("message to delete not found")
        return True

    async def _delete_messages(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        chat_id = self._chat_id(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must contain 1-100 items")
        for message_id in ids:
            self._delete_one(chat_id, int(message_id))
        return True

    def _delete_one(self, chat_id: int, message_id: int) -> bool:
        key = (chat_id, message_id)
        msg = self._by_id.get(key)
        if msg is not None and not msg.deleted:
            msg.deleted = True
            self._changed(chat_id)
            return True
        if key in self._user_messages and key not in self._deleted_user_messages:
            self._deleted_user_messages.add(key)
            self._changed(chat_id)
            return True
        return False

    async def _answer_callback_query(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        state = self._callbacks.get(query_id)
        if state is None or state.answer is not None:
            raise bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        state.answer = CallbackAnswer(
            callback_query_id=query_id,
            text=None if text is None else str(text),
            show_alert=bool(params.get("show_alert")),
            url=params.get("url"),
            cache_time=params.get("cache_time"),
        )
        state.answered_at = time.monotonic()
        self.answered_callbacks.append(dict(params))
        return True

    async def _get_file(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.file()

    async def _get_chat(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._chat_json(self._chat_id(params))
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return chat

    def _source_message(self, params: JSONDict, verb: str) -> JSONDict:
        from_chat = self._chat_id(params, "from_chat_id")
        message_id = self._int(params, "message_id")
        key = (from_chat, message_id)
        bot_msg = self._by_id.get(key)
        if bot_msg is not None and not bot_msg.deleted:
            return bot_msg.as_dict()
        user_msg = self._user_messages.get(key)
        if user_msg is not None and key not in self._deleted_user_messages:
            return copy.deepcopy(user_msg)
        raise bad_request(f"message to {verb} not found")

    def _clone(
        self,
        source: JSONDict,
        chat_id: int,
        params: JSONDict,
        *,
        kind_prefix: str,
        extra: JSONDict | None = None,
        override_caption: bool = False,
    ) -> SentMessage:
        media: JSONDict = {k: source[k] for k in ("photo", "document", "contact") if k in source}
        text = source.get("text")
        caption = source.get("caption")
        entities = list(source.get("entities") or source.get("caption_entities") or [])
        if override_caption and "caption" in params and text is None:
            caption, entities = self._text(params, "caption", caption=True)
        kind = (
            "photo"
            if "photo" in media
            else "document"
            if "document" in media
            else ("contact" if "contact" in media else "text")
        )
        photo = media["photo"][-1]["file_id"] if "photo" in media else None
        document = media["document"]["file_id"] if "document" in media else None
        return self._new_message(
            chat_id,
            kind=kind if not kind_prefix else f"{kind_prefix}:{kind}",
            params=params,
            text=text,
            caption=caption,
            entities=entities,
            markup=self._markup(params),
            media=media,
            photo=photo,
            document=document,
            extra=extra,
        )

    async def _copy_message(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat_id = self._chat_id(params)
        source = self._source_message(params, "copy")
        msg = self._clone(source, chat_id, params, kind_prefix="", override_caption=True)
        return {"message_id": msg.message_id}

    async def _forward_message(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat_id = self._chat_id(params)
        source = self._source_message(params, "forward")
        sender = source.get("from") or dict(self.bot_user)
        origin = {"type": "user", "date": source.get("date", _now()), "sender_user": sender}
        msg = self._clone(
            source,
            chat_id,
            {k: v for k, v in params.items() if k != "reply_markup"},
            kind_prefix="forward",
            extra={"forward_origin": origin},
        )
        return msg.as_dict()
