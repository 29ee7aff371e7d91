"""A local fake of the WhatsApp Cloud API (Graph API), served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import aiohttp
from aiohttp import web

from fakewa import outgoing, webhooks
from fakewa.models import (
    API_VERSION,
    APP_SECRET,
    DISPLAY_PHONE_NUMBER,
    PHONE_ID,
    TOKEN,
    VERIFY_TOKEN,
    WABA_ID,
    Call,
    JSONDict,
    StoredMedia,
    Template,
    WaError,
    WaMessage,
    WebhookDelivery,
    invalid,
)

log = logging.getLogger(__name__)

WINDOW_SECONDS = 24 * 3600
MAX_UPLOAD = 100 * 1024 * 1024
UPLOAD_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "video/mp4",
        "video/3gpp",
        "audio/aac",
        "audio/amr",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
DOWNLOAD_PATH = "/whatsapp_business/attachments/"

WindowErrors = Literal["response", "webhook"]


@dataclass
class _Fault:
    error: WaError
    wa_id: str | None
    remaining: int
    via: WindowErrors


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


class FakeWhatsApp:
    """A fake WhatsApp Cloud API for end-to-end tests: Graph endpoints + signed webhooks."""

    def __init__(
        self,
        *,
        phone_id: str = PHONE_ID,
        display_phone_number: str = DISPLAY_PHONE_NUMBER,
        waba_id: str = WABA_ID,
        token: str = TOKEN,
        app_secret: str = APP_SECRET,
        verify_token: str = VERIFY_TOKEN,
        webhook_url: str | None = None,
        webhook_retries: int = 3,
        retry_delay: float = 0.05,
        webhook_timeout: float = 30.0,
        auto_status: bool = True,
        pair_rate_limit: float | None = None,
        throughput_limit: int | None = None,
        window_errors: WindowErrors = "response",
        templates: Iterable[Template] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.phone_id = phone_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.token = token
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.webhook_url = webhook_url
        self.webhook_retries = webhook_retries
        self.retry_delay = retry_delay
        self.webhook_timeout = webhook_timeout
        self.auto_status = auto_status
        self.pair_rate_limit = pair_rate_limit
        self.throughput_limit = throughput_limit
        self.window_errors: WindowErrors = window_errors
        self.duplicate_deliveries = False
        # Extra condition for "the bot went quiet" (e.g. its background queue is empty).
        self.idle_check: Callable[[], bool] | None = None
        self.templates: dict[tuple[str, str], Template] | None = (
            None if templates is None else {(t.name, t.language): t for t in templates}
        )
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._event = asyncio.Event()
        self._offset = 0.0

        self.calls: list[Call] = []
        self.deliveries: list[WebhookDelivery] = []
        self.server_errors: list[BaseException] = []
        self.read_receipts: list[str] = []
        self.typing_indicators: list[str] = []
        self.inbound: dict[str, JSONDict] = {}

        self._messages: dict[str, list[WaMessage]] = {}
        self._by_id: dict[str, WaMessage] = {}
        self._changes: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._bsuids: dict[str, str] = {}
        self._last_inbound: dict[str, float] = {}
        self._last_sent: dict[str, float] = {}
        self._sent_times: deque[float] = deque()
        self._conversations: dict[str, tuple[str, float]] = {}
        self._faults: list[_Fault] = []
        self._media: dict[str, StoredMedia] = {}
        self._media_ids = itertools.count(1)
        self._wamids = itertools.count(1)
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight = 0
        self._last_activity: float | None = None
        self._clients: list[Any] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1 (a free port unless one was given)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        version = r"{version:v\d+(\.\d+)?}"
        app.router.add_post(f"/{version}/{{phone_id}}/messages", self._guard(self._messages_ep))
        app.router.add_post(f"/{version}/{{phone_id}}/media", self._guard(self._upload_ep))
        app.router.add_get(f"/{version}/{{object_id}}", self._guard(self._get_object_ep))
        app.router.add_delete(f"/{version}/{{object_id}}", self._guard(self._delete_media_ep))
        app.router.add_get(DOWNLOAD_PATH, self._guard(self._download_ep))
        app.router.add_route("*", "/{tail:.*}", self._guard(self._unknown_ep))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        log.debug("fake WhatsApp Cloud API listening on %s", self.root_url)

    async def stop(self) -> None:
        """Stop the server and cancel webhook deliveries still in flight."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self._notify()

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
            raise RuntimeError("FakeWhatsApp is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def graph_url(self) -> str:
        """The Graph API base URL (``http://127.0.0.1:PORT/v22.0``); any version is served."""
        return f"{self.root_url}/{API_VERSION}"

    def transport(self) -> Any:
        """An ``httpx.AsyncBaseTransport`` sending graph.facebook.com requests to this fake."""
        from fakewa.transport import RedirectTransport

        return RedirectTransport(self.root_url)

    def httpx_client(self, **kwargs: Any) -> Any:
        """An ``httpx.AsyncClient`` for ``pywa_async.WhatsApp(session=...)`` aimed at this fake.

        The fake closes it in ``stop()``.
        """
        import httpx

        kwargs.setdefault("timeout", 30.0)
        client = httpx.AsyncClient(transport=self.transport(), trust_env=False, **kwargs)
        self._clients.append(client)  # closed by stop()
        return client

    # ------------------------------------------------------------------ clock

    def now(self) -> float:
        """The fake clock: wall time plus what ``advance()`` added."""
        return time.time() + self._offset

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0) -> None:
        """Move the fake clock forward (24-hour window, pair rate, webhook timestamps)."""
        self._offset += seconds + 60 * minutes + 3600 * hours

    def last_inbound_at(self, wa_id: str) -> float | None:
        """Fake-clock time of the user's last message to the business (None if never)."""
        return self._last_inbound.get(wa_id)

    def window_open(self, wa_id: str) -> bool:
        """Whether free-form messages to ``wa_id`` are allowed now."""
        last = self._last_inbound.get(wa_id)
        return last is not None and self.now() - last < WINDOW_SECONDS

    def set_last_inbound(self, wa_id: str, at: float | None) -> None:
        """Pretend the user last wrote at ``at`` (fake clock); None = never."""
        if at is None:
            self._last_inbound.pop(wa_id, None)
        else:
            self._last_inbound[wa_id] = at

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._notify()

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        message: str | Callable[[], str] | None = None,
    ) -> None:
        """Wait until ``predicate()`` is true; raise AssertionError after ``timeout``.

        Re-checked on every state change of the fake and every 10 ms.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._event
            if predicate():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                text = message() if callable(message) else message
                raise AssertionError(text or f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.01))

    async def wait_for_messages(
        self,
        wa_id: str,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[WaMessage]:
        """Wait until the bot has sent at least ``count`` messages to ``wa_id``."""

        def describe() -> str:
            return (
                f"expected >= {count} bot messages to {wa_id} within {timeout}s, got "
                f"{len(self.messages(wa_id))}:\n{self.dump_chat(wa_id)}"
            )

        await self.wait_until(lambda: len(self.messages(wa_id)) >= count, timeout, message=describe)
        return self.messages(wa_id)

    async def wait_deliveries(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until no webhook delivery is in flight."""
        await self.wait_until(lambda: self._inflight == 0, timeout, message="webhooks in flight")

    @property
    def inflight_webhooks(self) -> int:
        """Webhook deliveries not finished yet (including retries)."""
        return self._inflight

    @property
    def last_activity_at(self) -> float | None:
        """``time.monotonic()`` of the last Graph request or finished webhook delivery."""
        return self._last_activity

    # ------------------------------------------------------------------ inspection

    def messages(self, wa_id: str, *, include_failed: bool = False) -> list[WaMessage]:
        """Messages the bot sent to ``wa_id``, oldest first (failed ones only on request)."""
        msgs = self._messages.get(wa_id, [])
        return list(msgs) if include_failed else [m for m in msgs if not m.failed]

    def all_messages(self) -> list[WaMessage]:
        """All messages the bot sent, to everyone."""
        return [m for msgs in self._messages.values() for m in msgs]

    def get_message(self, wamid: str) -> WaMessage | None:
        """A bot message by its wamid."""
        return self._by_id.get(wamid)

    def changes(self, wa_id: str) -> int:
        """Counter of messages the bot sent to ``wa_id`` (accepted sends)."""
        return self._changes.get(wa_id, 0)

    def calls_of(self, method: str, path_suffix: str = "") -> list[Call]:
        """Recorded requests with this HTTP method (and path ending)."""
        return [c for c in self.calls if c.method == method and c.path.endswith(path_suffix)]

    def failed_calls(self) -> list[Call]:
        """Requests answered with an error."""
        return [c for c in self.calls if not c.ok]

    def get_media(self, media_id: str) -> StoredMedia | None:
        """A stored media object by id."""
        return self._media.get(media_id)

    def dump_chat(self, wa_id: str, last: int = 10) -> str:
        """Readable listing of the last messages the bot sent to ``wa_id``."""
        msgs = self.messages(wa_id, include_failed=True)[-last:]
        if not msgs:
            return "  (no messages from the bot)"
        return "\n".join("  " + m.describe() for m in msgs)

    def name_of(self, wa_id: str) -> str | None:
        """The profile name a user registered with."""
        return self._names.get(wa_id)

    # ------------------------------------------------------------------ control

    def add_template(
        self, name: str, language: str, body: str, buttons: Iterable[str] = ()
    ) -> Template:
        """Register an approved template; from then on unknown templates are refused (132001)."""
        template = Template(name, language, body, list(buttons))
        if self.templates is None:
            self.templates = {}
        self.templates[(name, language)] = template
        return template

    def fail_next(
        self,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        wa_id: str | None = None,
        times: int = 1,
        http_status: int = 400,
        via: WindowErrors = "response",
    ) -> None:
        """Make the next ``times`` sends (optionally to one user) fail with Meta error ``code``.

        ``via="response"`` answers the send with the error; ``via="webhook"`` accepts the send
        (200 + wamid) and then reports it as a "failed" status webhook.
        """
        error = WaError(code, details, message=message, http_status=http_status)
        self._faults.append(_Fault(error, wa_id, times, via))

    def clear_faults(self) -> None:
        """Drop injected errors not yet used."""
        self._faults.clear()

    def register_user(self, wa_id: str, name: str) -> None:
        """Remember a user's profile name (used in webhook ``contacts``)."""
        self._names[wa_id] = name
        self._bsuids[webhooks.bsuid(wa_id)] = wa_id

    # ------------------------------------------------------------------ inbound (user -> bot)

    def _wamid(self, wa_id: str) -> str:
        raw = f"{wa_id}:{next(self._wamids)}:{secrets.token_hex(8)}".encode()
        return "wamid." + base64.b64encode(b"HBgN" + raw).decode()

    def push_message(
        self,
        wa_id: str,
        content: JSONDict,
        *,
        name: str | None = None,
        context: str | None = None,
    ) -> WebhookDelivery:
        """Deliver an inbound message (``content`` = ``{"type": .., <type>: {..}}``) to the bot."""
        if name is not None or wa_id not in self._names:
            self.register_user(wa_id, name or self._names.get(wa_id) or wa_id)
        now = self.now()
        message: JSONDict = {
            "from": wa_id,
            "id": self._wamid(wa_id),
            "timestamp": str(int(now)),
            **content,
        }
        if context is not None:
            message["context"] = {"from": self.display_phone_number, "id": context}
        self.inbound[message["id"]] = message
        self._last_inbound[wa_id] = now
        value = webhooks.message_value(wa_id, self._names.get(wa_id), message)
        delivery = self._schedule(self._envelope(value), wa_id, "message")
        if self.duplicate_deliveries:
            self._schedule(delivery.payload, wa_id, "message", body=delivery.body)
        return delivery

    def push_text(self, wa_id: str, text: str, *, context: str | None = None) -> WebhookDelivery:
        """Deliver a text message from ``wa_id``."""
        return self.push_message(wa_id, {"type": "text", "text": {"body": text}}, context=context)

    def store_media(
        self,
        data: bytes,
        mime_type: str,
        *,
        filename: str | None = None,
        origin: str = "user",
    ) -> StoredMedia:
        """Keep bytes as a media object and return it (its ``id`` is a Graph media id)."""
        media_id = str(1_000_000_000_000_000 + next(self._media_ids) * 7919)
        stored = StoredMedia(
            id=media_id,
            data=data,
            mime_type=mime_type,
            sha256=hashlib.sha256(data).hexdigest(),
            filename=filename,
            origin=origin,
        )
        self._media[media_id] = stored
        return stored

    def push_media(
        self,
        wa_id: str,
        kind: str,
        data: bytes,
        mime_type: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        extra: JSONDict | None = None,
    ) -> WebhookDelivery:
        """Deliver an image/document/video/audio/sticker message (bytes kept for download)."""
        stored = self.store_media(data, mime_type, filename=filename)
        part: JSONDict = {"mime_type": mime_type, "sha256": stored.sha256, "id": stored.id}
        if caption is not None:
            part["caption"] = caption
        if filename is not None:
            part["filename"] = filename
        part.update(extra or {})
        return self.push_message(wa_id, {"type": kind, kind: part})

    def push_status(
        self,
        wamid: str,
        status: str,
        *,
        error: WaError | None = None,
    ) -> WebhookDelivery:
        """Deliver a status webhook (sent/delivered/read/failed) for a bot message."""
        msg = self._by_id.get(wamid)
        if msg is None:
            raise KeyError(f"no bot message {wamid}")
        msg.statuses.append(status)
        if error is not None:
            msg.errors.append(error.status_error())
        conversation, expires = self._conversation(msg.to)
        value = webhooks.status_value(
            wamid=wamid,
            wa_id=msg.to,
            name=self._names.get(msg.to),
            status=status,
            timestamp=int(self.now()),
            conversation_id=conversation,
            category="utility" if msg.kind == "template" else "service",
            expiration=int(expires),
            errors=[error.status_error()] if error is not None else None,
            tracker=msg.payload.get("biz_opaque_callback_data"),
        )
        self._notify()
        return self._schedule(self._envelope(value), msg.to, "status")

    def _conversation(self, wa_id: str) -> tuple[str, float]:
        current = self._conversations.get(wa_id)
        if current is None or current[1] <= self.now():
            current = (secrets.token_hex(16), self.now() + WINDOW_SECONDS)
            self._conversations[wa_id] = current
        return current

    def _envelope(self, value: JSONDict) -> JSONDict:
        return webhooks.envelope(
            waba_id=self.waba_id,
            phone_id=self.phone_id,
            display_phone_number=self.display_phone_number,
            value=value,
        )

    # ------------------------------------------------------------------ webhook delivery

    def sign(self, body: bytes) -> str:
        """``X-Hub-Signature-256`` value for ``body`` with the app secret."""
        return webhooks.signature(body, self.app_secret)

    def _schedule(
        self,
        payload: JSONDict,
        wa_id: str | None,
        kind: str,
        *,
        body: bytes | None = None,
        signature: str | None = None,
        retries: int | None = None,
    ) -> WebhookDelivery:
        body = webhooks.encode(payload) if body is None else body
        delivery = WebhookDelivery(
            payload=payload,
            body=body,
            signature=self.sign(body) if signature is None else signature,
            wa_id=wa_id,
            kind=kind,
        )
        self.deliveries.append(delivery)
        self._inflight += 1
        task = asyncio.get_running_loop().create_task(
            self._deliver(delivery, self.webhook_retries if retries is None else retries)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    async def _deliver(self, delivery: WebhookDelivery, retries: int) -> None:
        # One user's webhooks arrive in order; different users in parallel.
        lock = self._locks.setdefault(delivery.wa_id or "", asyncio.Lock())
        try:
            async with lock:
                for attempt in range(retries + 1):
                    status = await self._post(delivery.body, delivery.signature)
                    delivery.attempts.append(status)
                    delivery.answered_at = time.monotonic()
                    self._touch()
                    if 200 <= status < 300 or self.webhook_url is None:
                        break
                    if attempt < retries:
                        await asyncio.sleep(self.retry_delay)
        finally:
            delivery.done = True
            self._inflight -= 1
            self._touch()

    async def _post(self, body: bytes, signature: str | None) -> int:
        if self.webhook_url is None or self._session is None:
            return 0
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        try:
            async with self._session.post(
                self.webhook_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("webhook delivery failed: %r", exc)
            return 0

    async def post_webhook(
        self,
        payload: JSONDict | None = None,
        *,
        body: bytes | None = None,
        signature: str | Literal["auto"] | None = "auto",
        wa_id: str | None = None,
    ) -> WebhookDelivery:
        """POST one raw webhook (no retries) and wait for the answer; for forged/unsigned tests.

        ``signature="auto"`` signs correctly, ``None`` sends no header, any string is sent as is.
        """
        if body is None:
            body = webhooks.encode(payload or {})
        if payload is None:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {}
        sig = self.sign(body) if signature == "auto" else signature
        delivery = WebhookDelivery(
            payload=payload or {}, body=body, signature=sig, wa_id=wa_id, kind="raw"
        )
        self.deliveries.append(delivery)
        self._inflight += 1
        await self._deliver(delivery, 0)
        return delivery

    async def replay(
        self, delivery: WebhookDelivery, *, same_bytes: bool = True, wait: bool = True
    ) -> WebhookDelivery:
        """Deliver an old webhook again (same message ids, validly signed).

        ``same_bytes=True``: the very same bytes and signature, as Meta's retries do (pywa's
        in-memory duplicate filter drops those). ``same_bytes=False``: the same payload
        serialised differently and signed again, so only a check of the message id catches it.
        """
        body = delivery.body if same_bytes else webhooks.encode(delivery.payload, sort_keys=True)
        again = self._schedule(
            delivery.payload,
            delivery.wa_id,
            delivery.kind,
            body=body,
            signature=delivery.signature if same_bytes else None,
        )
        if wait:
            await self.wait_until(lambda: again.done, self.webhook_timeout + 5)
        return again

    async def verify_webhook(
        self,
        verify_token: str | None = None,
        challenge: str | None = None,
        *,
        mode: str = "subscribe",
    ) -> tuple[int, str]:
        """Do Meta's GET handshake against ``webhook_url``; return (status, body text)."""
        if self.webhook_url is None or self._session is None:
            raise RuntimeError("webhook_url is not set (or the fake is not started)")
        params = {
            "hub.mode": mode,
            "hub.verify_token": self.verify_token if verify_token is None else verify_token,
            "hub.challenge": challenge or str(secrets.randbelow(10**9)),
        }
        async with self._session.get(self.webhook_url, params=params) as resp:
            return resp.status, await resp.text()

    # ------------------------------------------------------------------ HTTP layer

    def _guard(
        self, handler: Callable[[web.Request, Call], Awaitable[Any]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            call = Call(request.method, request.path, time.monotonic())
            self.calls.append(call)
            self._touch()
            try:
                if request.headers.get("Authorization") != f"Bearer {self.token}":
                    raise WaError(
                        190,
                        None,
                        message="Invalid OAuth access token - Cannot parse access token",
                        http_status=401,
                    )
                result = await handler(request, call)
            except WaError as err:
                body = err.as_dict()
                call.status, call.error = err.http_status, body["error"]
                self._touch()
                return web.json_response(body, status=err.http_status)
            except Exception as exc:
                log.exception("fake WhatsApp crashed on %s %s", request.method, request.path)
                self.server_errors.append(exc)
                call.status, call.error = 500, {"message": repr(exc)}
                self._touch()
                return web.json_response(
                    {"error": {"message": f"Internal error: {exc}", "code": 1, "type": "Fake"}},
                    status=500,
                )
            self._touch()
            if isinstance(result, web.StreamResponse):
                return result
            return web.json_response(result)

        return wrapped

    async def _unknown_ep(self, request: web.Request, call: Call) -> JSONDict:
        raise WaError(
            100,
            None,
            message=f"Unsupported {request.method.lower()} request.",
            error_type="GraphMethodException",
            subcode=33,
        )

    def _check_phone(self, request: web.Request) -> None:
        if request.match_info["phone_id"] != self.phone_id:
            raise WaError(
                100,
                None,
                message=(
                    f"Unsupported post request. Object with ID '{request.match_info['phone_id']}'"
                    " does not exist, cannot be loaded due to missing permissions, or does not "
                    "support this operation."
                ),
                error_type="GraphMethodException",
                subcode=33,
            )

    async def _messages_ep(self, request: web.Request, call: Call) -> JSONDict:
        self._check_phone(request)
        try:
            body = await request.json()
        except ValueError as exc:
            raise invalid("Request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise invalid("Request body must be a JSON object.")
        call.json = body
        if body.get("messaging_product") != "whatsapp":
            raise WaError(131008, "The parameter messaging_product is required.")
        if body.get("status") == "read":
            return self._mark_read(body)
        wa_id, contact = self._recipient(body)
        msg = WaMessage(
            id=self._wamid(wa_id),
            to=wa_id,
            kind=str(body.get("type") or "text"),
            payload=body,
            at=self.now(),
        )
        fault = self._take_fault(wa_id)
        if fault is not None and fault.via == "response":
            raise fault.error
        outgoing.parse(body, msg=msg, media=self._media.get, templates=self.templates)
        self._check_limits(wa_id)
        late: WaError | None = fault.error if fault is not None else None
        if (
            late is None
            and msg.kind not in outgoing.FREE_FORM_EXEMPT
            and not self.window_open(wa_id)
        ):
            if self.window_errors == "response":
                raise WaError(131047)
            late = WaError(131047)
        self._record(msg)
        if late is not None:
            self.push_status(msg.id, "failed", error=late)
        elif self.auto_status:
            self.push_status(msg.id, "sent")
            self.push_status(msg.id, "delivered")
        return {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [
                {"id": msg.id, "message_status": "accepted"}
                if msg.kind == "template"
                else {"id": msg.id}
            ],
        }

    def _mark_read(self, body: JSONDict) -> JSONDict:
        message_id = str(body.get("message_id") or "")
        if message_id not in self.inbound:
            raise invalid(f"Invalid message_id {message_id!r}.", code=100)
        if isinstance(body.get("typing_indicator"), dict):
            self.typing_indicators.append(message_id)
        self.read_receipts.append(message_id)
        return {"success": True}

    def _recipient(self, body: JSONDict) -> tuple[str, JSONDict]:
        to, recipient = body.get("to"), body.get("recipient")
        if to:
            wa_id = _digits(str(to))
            if not wa_id:
                raise invalid("Param to must be a valid phone number.")
            self._bsuids.setdefault(webhooks.bsuid(wa_id), wa_id)
            return wa_id, {"input": str(to), "wa_id": wa_id}
        if recipient:
            wa_id_or_none = self._bsuids.get(str(recipient))
            if wa_id_or_none is None:
                raise WaError(131026, f"Unknown recipient {recipient}.")
            return wa_id_or_none, {"input": str(recipient), "user_id": str(recipient)}
        raise WaError(131008, "The parameter to is required.")

    def _take_fault(self, wa_id: str) -> _Fault | None:
        for fault in self._faults:
            if fault.wa_id in (None, wa_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _check_limits(self, wa_id: str) -> None:
        now = self.now()
        if self.throughput_limit is not None:
            while self._sent_times and now - self._sent_times[0] >= 1.0:
                self._sent_times.popleft()
            if len(self._sent_times) >= self.throughput_limit:
                raise WaError(130429)
        last = self._last_sent.get(wa_id)
        if (
            self.pair_rate_limit is not None
            and last is not None
            and now - last < self.pair_rate_limit
        ):
            raise WaError(131056)

    def _record(self, msg: WaMessage) -> None:
        now = self.now()
        self._sent_times.append(now)
        self._last_sent[msg.to] = now
        self._messages.setdefault(msg.to, []).append(msg)
        self._by_id[msg.id] = msg
        self._changes[msg.to] = self._changes.get(msg.to, 0) + 1

    async def _upload_ep(self, request: web.Request, call: Call) -> JSONDict:
        self._check_phone(request)
        if request.content_type != "multipart/form-data":
            raise invalid("Upload must be multipart/form-data.")
        fields: dict[str, str] = {}
        data: bytes | None = None
        filename: str | None = None
        part_type: str | None = None
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.name == "file":
                data = await part.read(decode=False)
                filename = part.filename
                part_type = part.headers.get("Content-Type")
            else:
                fields[part.name] = await part.text()
        call.form = {**fields, "file": filename}
        if fields.get("messaging_product") != "whatsapp":
            raise WaError(131008, "The parameter messaging_product is required.")
        if data is None:
            raise WaError(131008, "The parameter file is required.")
        mime = fields.get("type") or part_type or ""
        if mime not in UPLOAD_TYPES:
            raise invalid(
                f"Param file must be a file with one of the supported types, got {mime!r}."
            )
        if len(data) > MAX_UPLOAD:
            raise WaError(131053, "File is too big.")
        stored = self.store_media(bytes(data), mime, filename=filename, origin="bot")
        return {"id": stored.id}

    def _media_or_error(self, object_id: str) -> StoredMedia:
        stored = self._media.get(object_id)
        if stored is None or stored.deleted:
            raise WaError(
                100,
                None,
                message=(
                    f"Unsupported get request. Object with ID '{object_id}' does not exist, "
                    "cannot be loaded due to missing permissions, or does not support this "
                    "operation."
                ),
                error_type="GraphMethodException",
                subcode=33,
            )
        return stored

    async def _get_object_ep(self, request: web.Request, call: Call) -> JSONDict:
        object_id = request.match_info["object_id"]
        if object_id == self.phone_id:
            return {
                "verified_name": "KIM-Bot",
                "display_phone_number": self.display_phone_number,
                "id": self.phone_id,
                "quality_rating": "GREEN",
            }
        stored = self._media_or_error(object_id)
        digest = hashlib.sha256(f"{stored.id}{self.token}".encode()).hexdigest()[:16]
        return {
            "url": f"{self.root_url}{DOWNLOAD_PATH}?mid={stored.id}&ext={int(self.now())}"
            f"&hash={digest}",
            "mime_type": stored.mime_type,
            "sha256": stored.sha256,
            "file_size": stored.file_size,
            "id": stored.id,
            "messaging_product": "whatsapp",
        }

    async def _delete_media_ep(self, request: web.Request, call: Call) -> JSONDict:
        stored = self._media_or_error(request.match_info["object_id"])
        stored.deleted = True
        return {"success": True}

    async def _download_ep(self, request: web.Request, call: Call) -> web.Response:
        stored = self._media.get(request.query.get("mid", ""))
        if stored is None or stored.deleted:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type)
