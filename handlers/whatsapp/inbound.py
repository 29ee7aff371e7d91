"""Translate a pywa update (message, button reply, list reply) into the core's `Inbound`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pywa_async import WhatsApp
from pywa_async.types import CallbackButton, CallbackSelection, Message, MessageType

from bot.conversations import intents
from bot.conversations.events import (
    Contact,
    Event,
    File,
    Inbound,
    Press,
    Sender,
    Text,
    Unsupported,
)

CHANNEL = "whatsapp"
PHOTO_NAME = "foto.jpg"
Update = Message | CallbackButton | CallbackSelection
Fetch = Callable[[], Awaitable[bytes]]
# What a person may send that no flow takes (a reaction is not a message to answer).
_IGNORED = ("reaction", "system", "request_welcome")


def sender_of(wa_id: str, name: str) -> Sender:
    """A WhatsApp person: their number is their account, their chat and a verified phone."""
    return Sender(channel=CHANNEL, account_id=wa_id, chat_id=wa_id, display_name=name,
                  private=True, slash_commands=False, phone=f"+{wa_id}")


async def to_inbound(wa: WhatsApp, update: Update) -> Inbound | None:
    """The core's view of `update`; None for what nobody needs to answer."""
    user = update.from_user
    wa_id = str(user.wa_id or "")
    if not wa_id:
        return None
    event = await _event(wa, update)
    if event is None:
        return None
    return Inbound(sender=sender_of(wa_id, user.name or ""), event=event,
                   key=f"wa:{update.id}")


async def _event(wa: WhatsApp, update: Update) -> Event | None:
    if isinstance(update, CallbackButton) and update.type == MessageType.BUTTON:
        # A template's quick reply: its payload is a word (e.g. "tugas"), as if typed.
        return Text(str(update.data) or "menu")
    if isinstance(update, CallbackButton | CallbackSelection):
        data = str(update.data)
        return Press(intents.parse(data), data)
    kind = str(update.type.value if update.type else "")
    if update.type == MessageType.TEXT:
        return Text(update.text or "")
    if update.type in (MessageType.IMAGE, MessageType.DOCUMENT):
        return await _file(wa, update)
    if update.type == MessageType.CONTACTS and update.contacts:
        phones = [p.phone or "" for c in update.contacts for p in (c.phones or ())]
        ids = {str(p.wa_id or "") for c in update.contacts for p in (c.phones or ())}
        if not phones:
            return Unsupported("contacts")
        return Contact(phones[0], own=str(update.from_user.wa_id) in ids)
    if kind in _IGNORED:
        return None
    return Unsupported(kind or "other")


async def _file(wa: WhatsApp, message: Message) -> File:
    """A photo or document; its size comes from the media's metadata (one Graph call)."""
    media = message.image if message.type == MessageType.IMAGE else message.document
    assert media is not None
    media_id = str(media.id)
    found = await wa.get_media_url(media_id)
    photo = message.type == MessageType.IMAGE
    name = PHOTO_NAME if photo else (getattr(media, "filename", None) or "")
    return File(kind="photo" if photo else "document", ref=media_id, name=name,
                mime=found.mime_type or media.mime_type or "", size=found.file_size or 0,
                caption=message.caption or "", fetch=_fetcher(wa, found.url))


def _fetcher(wa: WhatsApp, url: str) -> Fetch:
    async def fetch() -> bytes:
        return await wa.get_media_bytes(url)

    return fetch
