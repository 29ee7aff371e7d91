"""Translate a PTB `Update` into the core's channel-neutral `Inbound` event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Bot, Message, MessageEntity, Update
from telegram.constants import ChatType

from bot.conversations import intents
from bot.conversations.events import (
    Command,
    Contact,
    Event,
    File,
    Inbound,
    Press,
    Sender,
    Text,
    Unsupported,
)

CHANNEL = "telegram"
PHOTO_NAME = "foto.jpg"
PHOTO_MIME = "image/jpeg"
_MEDIA = ("video", "audio", "voice", "sticker", "animation", "video_note")


def to_inbound(update: Update, bot: Bot) -> Inbound | None:
    """The core's view of `update`; None for updates no person sent us (channel posts …)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    event = _event(update, bot)
    if event is None:
        return None
    private = chat.type == ChatType.PRIVATE
    # Notifications go to the person's own private chat (on Telegram its id is the user id):
    # a command in a group, or a press on a message in someone else's chat, must not
    # redirect them there.
    own_chat = chat.id if private and chat.id == user.id else user.id
    sender = Sender(channel=CHANNEL, account_id=str(user.id), chat_id=str(own_chat),
                    display_name=user.full_name, client_language=user.language_code,
                    private=private)
    return Inbound(sender=sender, event=event, key=f"tg:{update.update_id}")


def _event(update: Update, bot: Bot) -> Event | None:
    query = update.callback_query
    if query is not None:
        return Press(intents.parse(query.data), query.data or "")
    message = update.message
    if message is None:  # edits, channel posts, reactions: nothing to answer
        return None
    if _is_command(message):
        return _command(message, bot)
    if message.contact is not None:
        sender = message.from_user.id if message.from_user else None
        own = message.contact.user_id is not None and message.contact.user_id == sender
        return Contact(message.contact.phone_number, own)
    if message.photo:
        photo = message.photo[-1]
        return File(kind="photo", ref=photo.file_id, name=PHOTO_NAME, mime=PHOTO_MIME,
                    size=photo.file_size or 0, caption=message.caption or "",
                    fetch=_fetcher(bot, photo.file_id))
    if message.document:
        doc = message.document
        return File(kind="document", ref=doc.file_id, name=doc.file_name or "",
                    mime=doc.mime_type or "", size=doc.file_size or 0,
                    caption=message.caption or "", fetch=_fetcher(bot, doc.file_id))
    for kind in _MEDIA:
        if getattr(message, kind, None):
            return Unsupported(kind)
    if message.text is not None:
        return Text(message.text)
    return Unsupported("other")


def _is_command(message: Message) -> bool:
    entities = message.entities or ()
    return bool(entities and entities[0].type == MessageEntity.BOT_COMMAND
                and entities[0].offset == 0)


def _command(message: Message, bot: Bot) -> Command | None:
    """'/name@bot arg …' as a Command; None when it is addressed to another bot."""
    head, *args = (message.text or "").split()
    name, _, addressee = head[1:].partition("@")
    if addressee and bot.username and addressee.lower() != bot.username.lower():
        return None
    return Command(name.lower(), tuple(args))


def _fetcher(bot: Bot, file_id: str) -> Callable[[], Awaitable[bytes]]:
    async def fetch() -> bytes:
        found = await bot.get_file(file_id)
        return bytes(await found.download_as_bytearray())

    return fetch
