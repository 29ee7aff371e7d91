"""WhatsApp's sending side for the core's delivery loop (`bot.delivery`).

WhatsApp allows free-form messages only within 24 hours of the person's last own message
(`ChannelAccount.last_inbound_at`). Outside that window a notification goes as the
configured template (`WHATSAPP_TEMPLATE_NOTIFY`, one body parameter: the notification's
text on one line, and a quick reply that brings the person back: `tugas` when the
notification offered actions, else `status`); its files wait until the person writes
(they see them in the task or the status). Broadcasts always go as the broadcast template
(`WHATSAPP_TEMPLATE_BROADCAST`): announcements are business-initiated.

Errors 131056 (too many messages to one person) and 130429 (throughput) are the loop's
RateLimited, like Telegram's 429; 131047 (window closed after all) falls back to the
template. Every message sent is recorded (`ChannelMessage`) with the outbox row or
broadcast delivery it carried, so status webhooks (sent/delivered/read/failed) land on it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot import delivery, outbox
from bot.clock import from_db, to_db
from bot.conversations.output import Message, clip
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
from bot.models import ChannelAccount, ChannelMessage, Notification, User
from bot.people import language_of
from bot.ratelimit import RateLimiter
from bot.services import Services
from handlers.whatsapp import outbound

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=10)  # last_inbound_at is noted coarsely; stay on the safe side
PARAM_LIMIT = 900  # a template body parameter (one line)
PAIR_LIMIT = 131056  # too many messages to one person: wait the per-person interval
_LIMITED = {130429: 1.0, 4: 60.0, 80007: 60.0, 131048: 60.0}
_GONE = {131026, 131030, 131045, 133010}  # undeliverable, not on WhatsApp, unregistered
_WINDOW_CLOSED = 131047


def classify(exc: Exception, pair_wait: float = 6.0) -> DeliveryError:
    """A pywa / httpx failure as the loop's typed error (codes only, never contents)."""
    if isinstance(exc, WhatsAppError):
        code = int(exc.code)
        if code == PAIR_LIMIT:
            return RateLimited(pair_wait, f"{code} pair rate limited")
        if code in _LIMITED:
            return RateLimited(_LIMITED[code], f"{code} rate limited")
        if code in _GONE:
            return Unreachable(f"unreachable: {code}")
        response = exc.raw_response
        status = response.status_code if response is not None else 400
        return (Transient if status >= 500 else Rejected)(f"refused: {code}")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Transient(f"not sent: {type(exc).__name__}")
    if isinstance(exc, httpx.TransportError):
        return Unconfirmed(f"no answer: {type(exc).__name__}")
    return Transient(f"error: {type(exc).__name__}")


def one_line(text: str) -> str:
    """A template parameter: no new lines, tabs or runs of spaces (WhatsApp refuses them)."""
    parts = [" ".join(line.split()) for line in text.splitlines()]
    return clip(" · ".join(p for p in parts if p), PARAM_LIMIT)


class WhatsAppChannel:
    """`bot.delivery.Channel` for WhatsApp."""

    name = CHANNEL

    def __init__(self, svc: Services, wa: WhatsApp) -> None:
        self.svc = svc
        self.wa = wa

    def _recipient(self, chat_id: str) -> tuple[bool, str]:
        """(window open, language) of the person behind `chat_id`."""
        svc = self.svc
        with svc.db.session() as session:
            found = session.exec(
                select(ChannelAccount, User).join(User, col(User.id) == col(ChannelAccount.user_id))
                .where(ChannelAccount.channel == CHANNEL).where(ChannelAccount.chat_id == chat_id)
            ).first()
        if found is None:
            return False, svc.settings.default_language
        account, user = found
        lang = language_of(user, svc.settings.default_language)
        last = account.last_inbound_at
        is_open = last is not None and svc.clock.now() - from_db(last) < WINDOW - WINDOW_MARGIN
        return is_open, lang

    async def send(self, chat_id: str, message: Message, *,
                   commit: Commit | None = None) -> Sent:
        current = delivery.SENDING.get()
        is_open, lang = self._recipient(chat_id)
        broadcast = commit is not None or (current is not None and current[0] == delivery.BROADCAST)
        if commit is not None:
            await commit(None)
        try:
            if broadcast:
                text = message.text or (message.files[0].caption if message.files else "")
                wamid = await self._template(chat_id, self.svc.settings.whatsapp_template_broadcast,
                                             lang, text, "menu")
                self._record(wamid, current)
                return Sent()
            if not is_open:
                if message.files:
                    return Sent()  # media cannot go outside the window: seen when they write
                return self._sent(await self._notify_template(chat_id, message, lang), current)
            outs = outbound.plan_message(message)
            wamid, uploaded = "", ""
            for out in outs:
                try:
                    wamid, uploaded = await outbound.send_out(self.wa, self.svc, chat_id, out)
                except WhatsAppError as exc:
                    if int(exc.code) != _WINDOW_CLOSED or out.file is not None:
                        raise
                    wamid = await self._notify_template(chat_id, message, lang)
                    break
            self._record(wamid, current)
            return Sent(file_ref=uploaded)
        except DeliveryError:
            raise
        except FileNotFoundError as exc:
            raise Rejected("file not available on whatsapp") from exc
        except Exception as exc:
            raise classify(exc, self.svc.settings.whatsapp_per_chat_interval_s) from exc

    def _sent(self, wamid: str, current: tuple[str, int] | None) -> Sent:
        self._record(wamid, current)
        return Sent()

    async def _notify_template(self, chat_id: str, message: Message, lang: str) -> str:
        word = "tugas" if message.buttons else "status"
        return await self._template(chat_id, self.svc.settings.whatsapp_template_notify, lang,
                                    message.text, word)

    async def _template(self, chat_id: str, name: str, lang: str, text: str,
                        reply: str) -> str:
        """The template `name` in `lang` with the text as its one body parameter and the
        quick reply's payload `reply` (a command word)."""
        body: dict[str, Any] = {"name": name, "language": {"code": lang}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": one_line(text) or "-"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0",
             "parameters": [{"type": "payload", "payload": reply}]},
        ]}
        return await outbound.post(self.wa, chat_id, "template", body)

    def _record(self, wamid: str, current: tuple[str, int] | None) -> None:
        """Remember which row `wamid` carried, for its status webhooks."""
        if not wamid:
            return
        links: dict[str, int] = {}
        if current is not None:
            kind, row_id = current
            links["notification_id" if kind == delivery.NOTIFICATION else "delivery_id"] = row_id
        # A status webhook may have come first (it wrote the row): then only link it.
        _upsert(self.svc, wamid, links)

    async def edit(self, chat_id: str, message_id: int, message: Message) -> None:
        """WhatsApp has no edits: a broadcast's progress is not repeated (the final report
        is sent as a message)."""


class WhatsAppDelivery:
    """The WhatsApp sender: the core's delivery loop with the WhatsApp channel."""

    def __init__(self, svc: Services, wa: WhatsApp, limiter: RateLimiter | None = None) -> None:
        settings = svc.settings
        self.svc = svc
        self.channel = WhatsAppChannel(svc, wa)
        # ~80 messages a second per number; about one per 6 s to one person.
        self.limiter = limiter or RateLimiter(settings.whatsapp_rate_per_s,
                                              settings.whatsapp_per_chat_interval_s)
        self.loop = DeliveryLoop(svc, self.channel, self.limiter)
        self._started = False

    def wake(self) -> None:
        self.loop.wake()

    def cancelled(self, broadcast_id: int) -> bool:
        return self.loop.cancelled(broadcast_id)

    async def start(self) -> None:
        self.svc.outbox_wakers.append(self.wake)
        self._started = True
        await self.loop.start()

    async def stop(self) -> None:
        if self.wake in self.svc.outbox_wakers:
            self.svc.outbox_wakers.remove(self.wake)
        if self._started:
            self._started = False
            await self.loop.stop()


ORDER = ("accepted", "sent", "delivered", "read")


def _upsert(svc: Services, wamid: str, values: dict[str, Any], *, create: bool = True) -> None:
    """Create or update the record of message `wamid` (two writers may race: the send
    that made it, and its first status webhook)."""
    for _ in range(2):
        try:
            with svc.db.session() as session:
                now = to_db(svc.clock.now())
                row = session.exec(select(ChannelMessage)
                                   .where(ChannelMessage.channel == CHANNEL)
                                   .where(ChannelMessage.message_id == wamid[:128])).first()
                if row is None and not create:
                    return
                if row is None:
                    row = ChannelMessage(channel=CHANNEL, message_id=wamid[:128],
                                         created_at=now, updated_at=now)
                status = values.get("status")
                for name, value in values.items():
                    if name == "status" and not _moves(row.status, str(value)):
                        status = None
                        continue
                    if name != "error" or status is not None:
                        setattr(row, name, value)
                row.updated_at = now
                session.add(row)
            return
        except IntegrityError:  # the other writer inserted it meanwhile: update theirs
            continue


def _moves(current: str, status: str) -> bool:
    """Statuses may arrive out of order: never step back (failed always wins)."""
    if status == "failed" or current not in ORDER or status not in ORDER:
        return True
    return ORDER.index(status) > ORDER.index(current)


def note_status(svc: Services, wamid: str, status: str, error: str = "") -> None:
    """Record a status webhook (sent/delivered/read/failed) on the message it is about.

    Only the bot's own deliveries are recorded (replies are not): a status of a message not
    recorded yet is kept only when it is a failure (its send is recorded a moment later)."""
    _upsert(svc, wamid, {"status": status[:16], "error": error[:256]},
            create=status == "failed")
    if status == "failed" and error == str(_WINDOW_CLOSED):
        _window_closed(svc, wamid)


def _window_closed(svc: Services, wamid: str) -> bool:
    """WhatsApp says the window was closed after all (131047, reported by webhook): close
    it for that person and send the notification again (as the template). False when the
    message carried no notification."""
    with svc.db.session() as session:
        row = session.exec(select(ChannelMessage).where(ChannelMessage.channel == CHANNEL)
                           .where(ChannelMessage.message_id == wamid[:128])).first()
        notice = session.get(Notification, row.notification_id) if row and row.notification_id \
            else None
        if notice is None or notice.id is None:
            return False
        for account in session.exec(select(ChannelAccount)
                                    .where(ChannelAccount.user_id == notice.recipient_id)
                                    .where(ChannelAccount.channel == CHANNEL)):
            account.last_inbound_at = None
            session.add(account)
        outbox.mark_retry(session, svc.clock, notice.id, f"{_WINDOW_CLOSED}: window closed",
                          timedelta(0))
    svc.kick_outbox()
    return True


def note_inbound(svc: Services, wa_id: str) -> None:
    """The person wrote: their 24-hour window opens (noted at most once a minute)."""
    now = svc.clock.now()
    with svc.db.session() as session:
        account = session.exec(select(ChannelAccount).where(ChannelAccount.channel == CHANNEL)
                               .where(ChannelAccount.account_id == wa_id)).first()
        if account is None:
            return
        last = account.last_inbound_at
        if last is None or now - from_db(last) >= timedelta(minutes=1):
            account.last_inbound_at = to_db(now)
            session.add(account)
