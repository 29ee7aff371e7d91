"""Telegram webhook ingress: one POSTed update handled before it is answered.

Telegram sends every update to our URL with the secret given at setWebhook in
`X-Telegram-Bot-Api-Secret-Token`; a request without it (or with another) is refused and
changes nothing. The answer is 200 only once the update's transaction has committed: if the
process dies before, Telegram posts the update again and it is handled afresh; after, the
core's replay guard recognises it. A database that cannot be reached is answered 503 (nothing
was committed: Telegram tries again later).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from urllib.parse import urlsplit

from sqlalchemy.exc import InterfaceError, OperationalError
from telegram import Update

from bot.conversations.core import Conversations
from handlers.telegram.app import CONVERSATIONS, App, answer, apologise
from handlers.telegram.inbound import to_inbound

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
DEFAULT_PATH = "/telegram"


class TelegramWebhook:
    """Handles the POSTs of one bot's webhook; each person's updates one at a time here
    (and across processes: the core's per-person database lock)."""

    def __init__(self, app: App, secret: str) -> None:
        self.app = app
        self._secret = secret.encode()
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}  # requests holding or awaiting each person's lock
        self.in_flight = 0

    def refused(self, secret: str | None) -> int | None:
        """401 without the secret, 403 with a wrong one, None when it matches."""
        if not secret:
            return 401
        if not hmac.compare_digest(secret.encode(), self._secret):
            return 403
        return None

    async def post(self, body: bytes, secret: str | None) -> int:
        """Handle one POST; the HTTP status to answer with."""
        refused = self.refused(secret)
        if refused is not None:
            log.warning("telegram webhook: refused a request (%s)", refused)
            return refused
        try:
            data = json.loads(body)
            update = Update.de_json(data, self.app.bot)
        except (ValueError, TypeError, KeyError):
            return 400
        if update is None:
            return 400
        user = update.effective_user
        key = user.id if user is not None else 0
        lock = self._locks.setdefault(key, asyncio.Lock())
        # Counted, not `lock.locked()`: between a release and the next waiter's wake-up the
        # lock looks free, and dropping it then would let a third request run beside it.
        self._waiting[key] = self._waiting.get(key, 0) + 1
        self.in_flight += 1
        try:
            async with lock:
                return await self._handle(update)
        finally:
            self.in_flight -= 1
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def _handle(self, update: Update) -> int:
        inbound = to_inbound(update, self.app.bot)
        if inbound is None:
            return 200  # nothing a person sent us: nothing to do
        conversations: Conversations = self.app.bot_data[CONVERSATIONS]
        try:
            outcome = await conversations.handle(inbound)
        except (OperationalError, InterfaceError):
            log.warning("telegram update %s not handled: database unavailable; Telegram "
                        "will send it again", update.update_id)
            return 503
        except Exception as exc:
            await apologise(self.app, update, exc)
            return 200  # the same update would fail again; it changed nothing
        # Committed: from here on a failure must not make Telegram send it again.
        try:
            await answer(self.app, update, outcome)
        except Exception as exc:
            await apologise(self.app, update, exc)
        return 200


def webhook_path(url: str | None) -> str:
    """The path of the public webhook URL (served here as it is; /telegram if none)."""
    path = urlsplit(url or "").path
    return path if path and path != "/" else DEFAULT_PATH
