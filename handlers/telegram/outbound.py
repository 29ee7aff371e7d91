"""Render a core `Outcome` on Telegram: alert, edit of the pressed message, messages, files.

The outcome was decided and committed before anything here runs; sending is the last step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram import (
    Message as TgMessage,
)
from telegram.error import BadRequest

from bot.conversations.output import (
    CAPTION_LIMIT,
    Buttons,
    Edit,
    Message,
    Outcome,
    OutFile,
    clip,
)
from bot.services import Services
from handlers.telegram import files

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def keyboard(rows: Buttons) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.intent.encode())
                                  for b in row] for row in rows])


def markup_of(message: Message) -> Markup | None:
    if message.buttons:
        return keyboard(message.buttons)
    if message.ask_phone:
        return ReplyKeyboardMarkup([[KeyboardButton(message.ask_phone, request_contact=True)]],
                                   resize_keyboard=True, one_time_keyboard=True)
    if message.clear_keyboard:
        return ReplyKeyboardRemove()
    return None


async def render(bot: Bot, svc: Services, chat_id: int | str, outcome: Outcome,
                 query: CallbackQuery | None = None) -> None:
    """Show `outcome` in `chat_id` (the chat the person wrote in)."""
    if query is not None:
        await query.answer(outcome.answer or None, show_alert=bool(outcome.answer))
        if outcome.edit is not None:
            await edit(query, outcome.edit)
    for message in outcome.messages:
        await send(bot, svc, chat_id, message)


async def edit(query: CallbackQuery, change: Edit) -> None:
    """Change the pressed message; an unchanged or too old message is left as it is."""
    message = query.message
    markup = keyboard(change.buttons)
    with contextlib.suppress(BadRequest):  # "message is not modified", too old …
        if change.append and isinstance(message, TgMessage):
            if message.text is not None:
                await query.edit_message_text(clip(f"{message.text}\n\n{change.append}"),
                                              reply_markup=markup)
            elif message.caption is not None:
                await query.edit_message_caption(
                    clip(f"{message.caption}\n\n{change.append}", CAPTION_LIMIT),
                    reply_markup=markup)
            else:
                await query.edit_message_reply_markup(markup)
        elif change.text is not None and isinstance(message, TgMessage) and (
                message.text is None and message.caption is not None):
            # A document or photo (a forged press may point at one): its caption changes.
            await query.edit_message_caption(clip(change.text, CAPTION_LIMIT),
                                             reply_markup=markup)
        elif change.text is not None:
            await query.edit_message_text(clip(change.text), reply_markup=markup)
        else:
            await query.edit_message_reply_markup(markup)


async def send(bot: Bot, svc: Services, chat_id: int | str, message: Message) -> None:
    """One message: its files first (each with its caption), then the text with buttons."""
    for item in message.files:
        await send_file(bot, svc, chat_id, item)
    if message.text:
        await bot.send_message(chat_id, clip(message.text), reply_markup=markup_of(message))


async def send_file(bot: Bot, svc: Services, chat_id: int | str, item: OutFile) -> None:
    caption = clip(item.caption, CAPTION_LIMIT) if item.caption else None
    if item.make is not None:
        if item.busy:
            await bot.send_chat_action(chat_id, item.busy)
        # Drawing a report or a PDF takes a moment: keep the event loop free for others.
        data = await asyncio.to_thread(item.make)
        media: str | InputFile = InputFile(data, filename=item.name or None)
    else:
        media = await files.media_for(svc, item)
    if item.kind == "photo":
        sent = await bot.send_photo(chat_id, media, caption=caption)
    else:
        sent = await bot.send_document(chat_id, media, caption=caption,
                                       filename=item.name or None)
    if isinstance(media, InputFile):
        files.remember(svc, item, sent)
