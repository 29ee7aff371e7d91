"""All WhatsApp wiring in one place: the pywa client around the core's conversations.

Every webhook is checked (pywa: the X-Hub-Signature-256 HMAC with the app secret), then
each message goes through one handler: translate (`inbound`), let the core decide and
commit (`Conversations.handle`, which also drops a replayed message id), then show the
outcome (`outbound`). Each person's messages are handled in arrival order; different
people's concurrently. Status webhooks are recorded on the message they are about.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import httpx
from pywa_async import WhatsApp
from pywa_async.handlers import (
    CallbackButtonHandler,
    CallbackSelectionHandler,
    MessageHandler,
    MessageStatusHandler,
)
from pywa_async.types import MessageStatus

from bot.conversations import broadcast
from bot.conversations.broadcast import BroadcastStopped, LaunchBroadcast
from bot.conversations.core import Conversations
from bot.conversations.output import Outcome, say
from bot.services import Services
from handlers.whatsapp import outbound
from handlers.whatsapp.delivery import WhatsAppDelivery, note_inbound, note_status
from handlers.whatsapp.inbound import Update, to_inbound

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
GRAPH = "https://graph.facebook.com"
NOTE_EVERY_S = 60.0
NOTED_MAX = 50_000


def build_client(svc: Services, session: httpx.AsyncClient | None = None) -> WhatsApp:
    """The pywa client: validates webhooks with the app secret, sends through the Graph API
    (KIMBOT_WHATSAPP_GRAPH_URL points it elsewhere: the fake in tests and the demo)."""
    s = svc.settings
    token, secret, verify = s.whatsapp_token, s.whatsapp_app_secret, s.whatsapp_verify_token
    if token is None or secret is None or verify is None:
        raise ValueError("WHATSAPP_TOKEN, WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN are needed")
    wa = WhatsApp(phone_id=s.whatsapp_phone_id, token=token.get_secret_value(),
                  session=session, server=None,
                  verify_token=verify.get_secret_value(),
                  app_secret=secret.get_secret_value(),
                  validate_updates=True, filter_updates=True,
                  # The core's replay guard (same message id) decides, in the same
                  # transaction as the message's effects; pywa's in-memory one would not
                  # survive a restart.
                  skip_duplicate_updates=False)
    if s.whatsapp_graph_url:
        api: Any = wa.api
        current = str(api._session.base_url)  # pywa fixes graph.facebook.com/vNN.N/
        api._session.base_url = current.replace(GRAPH, s.whatsapp_graph_url.rstrip("/"))
    return wa


class WhatsAppBot:
    """The WhatsApp side of one bot process: webhooks in, replies and deliveries out."""

    def __init__(self, svc: Services, session: httpx.AsyncClient | None = None) -> None:
        self.svc = svc
        self.wa = build_client(svc, session)
        self.conversations = Conversations(svc)
        self.delivery = WhatsAppDelivery(svc, self.wa)
        self._locks: dict[str, asyncio.Lock] = {}
        self._noted: dict[str, float] = {}  # wa_id -> when its window was last written
        # pywa_async's handler types name the sync client; the callbacks are right for it.
        on_update: Any = self._on_update
        on_status: Any = self._on_status
        self.wa.add_handlers(MessageHandler(on_update), CallbackButtonHandler(on_update),
                             CallbackSelectionHandler(on_update), MessageStatusHandler(on_status))

    # -- life -----------------------------------------------------------------------------

    async def start(self, *, deliver: bool = True) -> None:
        """Ready for webhooks; `deliver`: this process runs the delivery loop too (not in a
        web-only process: a worker does)."""
        number = self.svc.settings.whatsapp_number.lstrip("+")
        self.svc.invite_links[CHANNEL] = (
            (lambda code: f"https://wa.me/{number}?text={quote(f'start {code}')}")
            if number else (lambda code: f"start {code}"))
        if deliver:
            await self.delivery.start()

    async def stop(self) -> None:
        await self.delivery.stop()
        self.svc.invite_links.pop(CHANNEL, None)
        api: Any = self.wa.api
        await api._session.aclose()  # pywa's HTTP client: its keep-alive connections
        outbound.close(self.wa)  # and those of the lean message posts

    # -- webhooks ---------------------------------------------------------------------------

    async def challenge(self, verify_token: str | None, challenge: str | None) -> tuple[str, int]:
        """The GET handshake: the challenge back when the verify token matches."""
        body, status = await self.wa.webhook_challenge_handler(verify_token, challenge)
        return body or "", status

    async def webhook(self, body: bytes, signature: str | None) -> tuple[str, int]:
        """A POST: refused (401/403) unless signed with the app secret; else handled."""
        refused = await self.wa.webhook_update_validator(body, signature)
        if refused is not None:
            return refused
        return await self.wa.webhook_update_handler(body)

    # -- updates ----------------------------------------------------------------------------

    async def _on_update(self, _client: WhatsApp, update: Update) -> None:
        wa_id = str(update.from_user.wa_id or "")
        lock = self._locks.setdefault(wa_id, asyncio.Lock())
        try:
            async with lock:  # one person's messages in arrival order
                await self._handle(wa_id, update)
        except Exception:
            log.exception("error while handling WhatsApp update %s", update.id)
            await self._apologise(wa_id)
        finally:
            if not lock.locked() and self._locks.get(wa_id) is lock:
                del self._locks[wa_id]

    async def _handle(self, wa_id: str, update: Update) -> None:
        inbound = await to_inbound(self.wa, update)
        if inbound is None:
            return
        outcome = await self.conversations.handle(inbound)
        self._note_inbound(wa_id)
        if outcome is None:
            return  # a replay: it was answered the first time
        await outbound.render(self.wa, self.svc, wa_id, outcome)
        for effect in outcome.effects:
            if not await self._effect(effect, wa_id):
                log.error("no way to carry out %s on WhatsApp", type(effect).__name__)

    def _note_inbound(self, wa_id: str) -> None:
        """The person's window opens; written at most once a minute per person (a busy
        chat costs no extra write per message)."""
        now = self.svc.clock.now().timestamp()  # the bot's clock: the window is measured on it
        if abs(now - self._noted.get(wa_id, -NOTE_EVERY_S)) < NOTE_EVERY_S:
            return
        note_inbound(self.svc, wa_id)
        self._noted[wa_id] = now
        if len(self._noted) > NOTED_MAX:  # forget the oldest half
            for key in list(self._noted)[: NOTED_MAX // 2]:
                del self._noted[key]

    async def _apologise(self, wa_id: str) -> None:
        text = self.svc.tr.text(self.svc.settings.default_language, "error.internal")
        try:
            await outbound.render(self.wa, self.svc, wa_id, say(text))
        except Exception:
            log.exception("could not send the error apology")

    async def _on_status(self, _client: WhatsApp, status: MessageStatus) -> None:
        error = ""
        if status.error is not None:
            error = f"{status.error.code}"
        value = str(getattr(status.status, "value", status.status))
        await asyncio.to_thread(note_status, self.svc, str(status.id), value, error)

    # -- broadcast effects ------------------------------------------------------------------

    async def _effect(self, effect: object, wa_id: str) -> bool:
        """Launch or report a broadcast an admin confirmed here (no edits on WhatsApp: the
        progress is not shown while it runs; the report comes at the end)."""
        svc = self.svc
        if isinstance(effect, LaunchBroadcast):
            # WhatsApp messages cannot be edited: no message to keep up to date (id 0).
            launched = broadcast.launch(svc, effect, wa_id, 0)
            shown = Outcome([launched.progress])
            await outbound.render(self.wa, svc, wa_id, shown)
            if launched.running:
                self.delivery.wake()
            return True
        if isinstance(effect, BroadcastStopped):
            if self.delivery.cancelled(effect.broadcast_id):
                return True
            _progress, report = broadcast.stopped_report(svc, effect)
            await outbound.render(self.wa, svc, wa_id, Outcome([report]))
            return True
        return False
