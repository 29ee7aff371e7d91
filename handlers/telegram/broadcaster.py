"""The broadcast effects on Telegram: launching after Kirim, reporting a stop.

The core decided and committed (`bot.conversations.broadcast`); here the progress message
is posted and edited, and the delivery loop is woken. Sending and progress edits while a
broadcast runs are the delivery loop's (`bot.delivery`, `handlers.telegram.delivery`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from telegram.error import BadRequest
from telegram.ext import Application

from bot.conversations import broadcast
from bot.conversations.broadcast import BroadcastStopped, LaunchBroadcast
from bot.conversations.output import Message, clip
from bot.services import Services
from handlers.telegram.delivery import BOT_DATA_KEY, TelegramDelivery
from handlers.telegram.outbound import keyboard

App = Application[Any, Any, Any, Any, Any, Any]


async def run_effect(app: App, svc: Services, effect: object, chat_id: str,
                     pressed_message_id: int | None) -> bool:
    """Carry out a broadcast effect in `chat_id` (where the button was pressed); False
    for an effect that is not ours."""
    if isinstance(effect, LaunchBroadcast):
        await _launch(app, svc, effect, chat_id, pressed_message_id)
        return True
    if isinstance(effect, BroadcastStopped):
        await _stopped(app, svc, effect, chat_id, pressed_message_id)
        return True
    return False


def _sender(app: App) -> TelegramDelivery | None:
    sender: TelegramDelivery | None = app.bot_data.get(BOT_DATA_KEY)
    return sender


async def _edit(app: App, chat_id: str, message_id: int, message: Message) -> None:
    """Replace a message's text and buttons; unchanged or too old is left as it is."""
    with contextlib.suppress(BadRequest):
        await app.bot.edit_message_text(clip(message.text), chat_id, message_id,
                                        reply_markup=keyboard(message.buttons))


async def _launch(app: App, svc: Services, effect: LaunchBroadcast, chat_id: str,
                  pressed: int | None) -> None:
    """Post the progress message, start the broadcast with it, then wake the sender."""
    posted = await app.bot.send_message(chat_id, svc.tr.text(effect.lang, "bc.starting"))
    launched = broadcast.launch(svc, effect, chat_id, posted.message_id)
    if launched.pressed is not None and pressed is not None:
        await _edit(app, chat_id, pressed, Message(launched.pressed))
    await _edit(app, chat_id, posted.message_id, launched.progress)
    sender = _sender(app)
    if launched.running and sender is not None:
        sender.wake()


async def _stopped(app: App, svc: Services, effect: BroadcastStopped, chat_id: str,
                   pressed: int | None) -> None:
    """The run here reports once its sends in flight are settled; else report now."""
    sender = _sender(app)
    if sender is not None and sender.cancelled(effect.broadcast_id):
        return
    progress, report = broadcast.stopped_report(svc, effect)
    if pressed is not None:
        await _edit(app, chat_id, pressed, progress)
    await app.bot.send_message(chat_id, report.text)
