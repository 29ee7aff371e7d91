"""Render a core `Outcome` on Telegram: alert, edit of the pressed message, messages, files.

The outcome was decided and committed before anything here runs; sending is the last step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram import Message as TgMessage
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
from handlers.telegram.request import json_data

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


def keyboard(rows: Buttons) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.intent.encode())
                                  for b in row] for row in rows])


def markup_of(message: Message) -> JSONDict | None:
    """The reply markup of a message, as the Bot API's JSON."""
    if message.buttons:
        return keyboard_json(message.buttons)
    if message.ask_phone:
        return {"keyboard": [[{"text": message.ask_phone, "request_contact": True}]],
                "resize_keyboard": True, "one_time_keyboard": True}
    if message.clear_keyboard:
        return {"remove_keyboard": True}
    return None


def keyboard_json(rows: Buttons) -> JSONDict:
    """Inline buttons as the Bot API's JSON ([] removes a message's buttons)."""
    return {"inline_keyboard": [[{"text": b.label, "callback_data": b.intent.encode()}
                                 for b in row] for row in rows]}


async def call(bot: Bot, method: str, **params: Any) -> Any:
    """One Bot API call for a reply, without PTB's objects: JSON in, JSON out.

    Building PTB's objects for the parameters and parsing the answer into a `Message`
    nobody reads cost about as much CPU as the HTTP exchange itself. PTB's request layer
    stays (timeouts, and Telegram's errors as `BadRequest`, `RetryAfter` …)."""
    return await bot.request.post(f"{bot.base_url}/{method}", json_data(
        {k: v for k, v in params.items() if v is not None}))


async def render(bot: Bot, svc: Services, chat_id: int | str, outcome: Outcome,
                 query: CallbackQuery | None = None) -> None:
    """Show `outcome` in `chat_id` (the chat the person wrote in)."""
    if query is not None:
        await call(bot, "answerCallbackQuery", callback_query_id=query.id,
                   text=outcome.answer or None, show_alert=bool(outcome.answer) or None)
        if outcome.edit is not None:
            await edit(bot, query, outcome.edit)
    for message in outcome.messages:
        await send(bot, svc, chat_id, message)


async def edit(bot: Bot, query: CallbackQuery, change: Edit) -> None:
    """Change the pressed message; an unchanged or too old message is left as it is, but a
    new text that cannot replace it is sent as a new message."""
    message = query.message
    if message is None:
        return  # not a message of ours (an inline query's): nothing to change
    where = {"chat_id": message.chat.id, "message_id": message.message_id}
    markup = keyboard_json(change.buttons) if change.buttons else None
    shown = message if isinstance(message, TgMessage) else None
    with contextlib.suppress(BadRequest):  # "message is not modified", too old …
        if change.append and shown is not None and shown.text is not None:
            await call(bot, "editMessageText", text=clip(f"{shown.text}\n\n{change.append}"),
                       reply_markup=markup, **where)
        elif change.append and shown is not None and shown.caption is not None:
            await call(bot, "editMessageCaption", reply_markup=markup, **where,
                       caption=clip(f"{shown.caption}\n\n{change.append}", CAPTION_LIMIT))
        elif change.text is not None and shown is not None and (
                shown.text is None and shown.caption is not None):
            # A document or photo (a forged press may point at one): its caption changes.
            await call(bot, "editMessageCaption", caption=clip(change.text, CAPTION_LIMIT),
                       reply_markup=markup, **where)
        elif change.text is not None:
            try:
                await call(bot, "editMessageText", text=clip(change.text), reply_markup=markup,
                           **where)
            except BadRequest as exc:
                if "not modified" in exc.message:
                    return
                # It cannot be changed (deleted, too old): the new text may be the question
                # the person must answer next, so it comes as a new message.
                await call(bot, "sendMessage", chat_id=message.chat.id, text=clip(change.text),
                           reply_markup=markup)
        else:
            await call(bot, "editMessageReplyMarkup", reply_markup=markup, **where)


async def send(bot: Bot, svc: Services, chat_id: int | str, message: Message) -> None:
    """One message: its files first (each with its caption), then the text with buttons."""
    for item in message.files:
        await send_file(bot, svc, chat_id, item)
    if message.text:
        await call(bot, "sendMessage", chat_id=chat_id, text=clip(message.text),
                   reply_markup=markup_of(message))


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
