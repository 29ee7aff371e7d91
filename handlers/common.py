"""Small helpers shared by the handler modules."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update

from bot.errors import BadInput
from bot.workflow import FileIn
from handlers.render import clip

PHOTO_MIME = "image/jpeg"
DOCUMENT_MIMES = {
    "application/pdf",
    "image/jpeg",
    "image/png",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

Markup = object  # InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


@dataclass
class Reply:
    """A message to send once the transaction has committed."""

    text: str
    markup: Markup | None = None


async def send_replies(update: Update, replies: list[Reply]) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    for reply in replies:
        await chat.send_message(clip(reply.text), reply_markup=reply.markup)  # type: ignore[arg-type]


def file_from(message: Message, max_mb: int) -> FileIn | None:
    """The photo or document in a message as a FileIn; None when there is none.

    Raises BadInput for a file we do not accept (type or size).
    """
    limit = max_mb * 1024 * 1024
    if message.photo:
        photo = message.photo[-1]
        if (photo.file_size or 0) > limit:
            raise BadInput("error.file_too_big", limit=max_mb)
        return FileIn(kind="photo", file_ref=photo.file_id, file_name="foto.jpg",
                      mime=PHOTO_MIME, size=photo.file_size or 0)
    if message.document:
        doc = message.document
        if (doc.mime_type or "") not in DOCUMENT_MIMES:
            raise BadInput("error.file_type")
        if (doc.file_size or 0) > limit:
            raise BadInput("error.file_too_big", limit=max_mb)
        return FileIn(kind="document", file_ref=doc.file_id, file_name=doc.file_name or "",
                      mime=doc.mime_type or "", size=doc.file_size or 0)
    if (message.video or message.audio or message.voice or message.sticker
            or message.animation or message.video_note):
        raise BadInput("error.file_type")
    return None


def remove_keyboard() -> ReplyKeyboardRemove:
    return ReplyKeyboardRemove()


def contact_keyboard(label: str) -> ReplyKeyboardMarkup:
    from telegram import KeyboardButton

    return ReplyKeyboardMarkup([[KeyboardButton(label, request_contact=True)]],
                               resize_keyboard=True, one_time_keyboard=True)
