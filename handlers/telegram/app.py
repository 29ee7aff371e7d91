"""All Telegram wiring in one place: the PTB application around the core's conversations.

Every update goes through one handler: translate (`inbound`), let the core decide and
commit (`Conversations.handle`), then show the outcome (`outbound`). Replays are dropped
by the core; errors are logged (ids and kinds only, never message contents) and answered
politely.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.admin import admin_accounts
from bot.conversations.core import Conversations
from bot.conversations.menus import menu
from bot.conversations.output import Outcome
from bot.conversations.table import Audience
from bot.services import Services, build_services
from bot.settings import LANGUAGES, Settings
from handlers.sla_watch import SlaWatcher
from handlers.startup import Unstartable, exit_on_problem
from handlers.telegram import delivery
from handlers.telegram.broadcaster import run_effect
from handlers.telegram.inbound import to_inbound
from handlers.telegram.outbound import render
from handlers.telegram.request import lean_request
from handlers.telegram.updates import PerChatUpdateProcessor

log = logging.getLogger(__name__)

SERVICES = "services"
CONVERSATIONS = "conversations"
# The menu everyone sees; admins get the admin commands too, in their own chats.
PUBLIC = (Audience.EVERYONE, Audience.MEMBER, Audience.OFFICIAL)
EVERY = (*PUBLIC, Audience.ADMIN)


App = Application[Any, Any, Any, Any, Any, Any]


def services(app: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    svc: Services = app.bot_data[SERVICES]
    return svc


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Hand the update to the core and show what it decided."""
    inbound = to_inbound(update, context.bot)
    if inbound is None:
        return
    app = context.application
    conversations: Conversations = app.bot_data[CONVERSATIONS]
    outcome = await conversations.handle(inbound)
    await answer(app, update, outcome)


async def answer(app: App, update: Update, outcome: Outcome | None) -> None:
    """Show a committed outcome in the update's chat and carry out its effects."""
    chat = update.effective_chat
    if outcome is None or chat is None:
        return  # a replay: it was answered the first time
    await render(app.bot, services(app), chat.id, outcome, update.callback_query)
    query = update.callback_query
    pressed = query.message.message_id if query is not None and query.message else None
    for effect in outcome.effects:
        if not await run_effect(app, services(app), effect, str(chat.id), pressed):
            log.error("no way to carry out %s on Telegram", type(effect).__name__)


def _kind(update: Update) -> str:
    if update.callback_query is not None:
        return "button"
    message = update.effective_message
    if message is None:
        return "other"
    if message.text and message.text.startswith("/"):
        return "command"
    return "message"


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure (ids and kinds, not contents) and apologise to the person."""
    if not isinstance(update, Update):
        log.error("error outside an update", exc_info=context.error)
        return
    await apologise(context.application, update, context.error)


async def apologise(app: App, update: Update, error: BaseException | None) -> None:
    """Log a failed update (ids and kinds, not contents) and say sorry to its sender."""
    log.error("error while handling update %s (%s)", update.update_id, _kind(update),
              exc_info=error)
    if services(app).settings.log_contents:
        # Opt-in (KIMBOT_LOG_CONTENTS): the whole update, names and text included.
        log.warning("update %s contents (KIMBOT_LOG_CONTENTS is on): %s", update.update_id,
                    update.to_dict())
    if update.effective_chat is None:
        return
    svc = services(app)
    user = update.effective_user
    language = svc.settings.default_language
    if user and (user.language_code or "").startswith("en"):
        language = "en"
    text = svc.tr.text(language, "error.internal")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await update.effective_chat.send_message(text)
    except Exception:  # the apology itself failed; the log has the original error
        log.exception("could not send the error apology")


def build_application(svc: Services) -> Application[Any, Any, Any, Any, Any, Any]:
    # Opt in to PTB's coming behaviour (durations as timedelta, e.g. RetryAfter.retry_after);
    # without it PTB 22 warns on every 429, and the sender already handles timedelta.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    if svc.settings.log_contents:
        log.warning("KIMBOT_LOG_CONTENTS is on: failed updates are logged with their "
                    "contents (personal data). Turn it off outside debugging.")
    token = svc.settings.telegram_bot_token
    if token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = ApplicationBuilder().token(token.get_secret_value())
    if svc.settings.telegram_base_url:
        builder = builder.base_url(svc.settings.telegram_base_url)
    if svc.settings.telegram_base_file_url:
        builder = builder.base_file_url(svc.settings.telegram_base_file_url)
    # All Bot API traffic on the lean keep-alive client (a fraction of httpx's CPU per call).
    base = svc.settings.telegram_base_url or "https://api.telegram.org/bot"
    # Polling: two slots, as on stopping PTB marks the last updates fetched with one more
    # getUpdates while the cancelled long poll may still hold its slot ("no free connection").
    builder = builder.request(lean_request(base, 256)).get_updates_request(
        lean_request(base, 2))
    # Other people's updates run while one waits on Telegram; each person's stay in order.
    builder = builder.concurrent_updates(PerChatUpdateProcessor())
    app = builder.post_init(_post_init).post_stop(_post_stop).build()
    app.bot_data[SERVICES] = svc
    app.bot_data[CONVERSATIONS] = Conversations(svc)
    app.add_handler(TypeHandler(Update, on_update))
    app.add_error_handler(on_error)
    return app


async def _post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the command menus, start delivering and arm the SLA watcher."""
    svc = services(app)
    username = app.bot.username  # known after initialize() (getMe)
    svc.invite_links["telegram"] = lambda code: f"https://t.me/{username}?start={code}"
    await set_menus(app, svc)
    await delivery.start_delivery(app, svc)  # keeps itself in app.bot_data
    scheduler = SlaWatcher(svc)
    app.bot_data["sla"] = scheduler
    scheduler.start()


async def set_menus(app: Application[Any, Any, Any, Any, Any, Any], svc: Services) -> None:
    """The command menu from the command table, in each language; admins' in their chats."""
    for lang in LANGUAGES:
        code = None if lang == svc.settings.default_language else lang
        await app.bot.set_my_commands(
            [BotCommand(c, d) for c, d in menu(svc.tr, lang, PUBLIC)], language_code=code)
    for admin_id in admin_accounts(svc.settings, "telegram"):
        for lang in LANGUAGES:
            code = None if lang == svc.settings.default_language else lang
            try:
                await app.bot.set_my_commands(
                    [BotCommand(c, d) for c, d in menu(svc.tr, lang, EVERY)],
                    scope=BotCommandScopeChat(int(admin_id)), language_code=code)
            except TelegramError as exc:  # e.g. the admin has not opened the bot yet
                log.warning("no admin menu for admin %s: %s", admin_id, exc)
                break


async def _post_stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    scheduler: SlaWatcher | None = app.bot_data.pop("sla", None)
    if scheduler is not None:
        scheduler.stop()
    await delivery.stop_delivery(app.bot_data.pop(delivery.BOT_DATA_KEY, None))


def run_polling(settings: Settings) -> None:
    """Run until Ctrl-C; PTB stops cleanly on SIGINT/SIGTERM."""
    svc = build_services(settings)
    app = build_application(svc)
    try:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    finally:
        svc.db.dispose()


@asynccontextmanager
async def running(app: Application[Any, Any, Any, Any, Any, Any]) -> AsyncIterator[
        Application[Any, Any, Any, Any, Any, Any]]:
    """Run the bot with polling inside an existing event loop (demo, tests, bench)."""
    await app.initialize()
    await _post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1,
                                    allowed_updates=Update.ALL_TYPES)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await _post_stop(app)
        await app.shutdown()


@asynccontextmanager
async def serving(app: App, *, inbound: str | None, outbound: bool) -> AsyncIterator[App]:
    """Run the bot in a process role: `inbound` "polling", "webhook" (the web app hands the
    updates in; here setWebhook) or None (a worker); `outbound`: the delivery loop runs here.
    The SLA watcher is the caller's."""
    svc = services(app)
    await initialize(app, svc.settings)
    username = app.bot.username  # known after initialize() (getMe)
    svc.invite_links["telegram"] = lambda code: f"https://t.me/{username}?start={code}"
    sender: delivery.TelegramDelivery | None = None
    try:
        if inbound is not None:
            await set_menus(app, svc)
        if inbound == "webhook":
            await set_webhook(app, svc.settings)
        if outbound:
            sender = await delivery.start_delivery(app, svc)
        if inbound == "polling":
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await delivery.stop_delivery(app.bot_data.pop(delivery.BOT_DATA_KEY, sender))
        await app.shutdown()


async def initialize(app: App, settings: Settings) -> None:
    """Meet Telegram (getMe), retried with back-off while the network is not up yet (one
    log line per try); a refused token or no network after the tries: one line, exit 2."""
    tries = settings.db_tries
    for number in range(1, tries + 1):
        try:
            await app.initialize()
            return
        except InvalidToken:
            with exit_on_problem():
                raise Unstartable("Telegram refused TELEGRAM_BOT_TOKEN (check it with "
                                  "@BotFather)") from None
        except (NetworkError, TimedOut) as exc:
            if number == tries:
                with exit_on_problem():
                    raise Unstartable(f"Telegram not reachable after {tries} tries: "
                                      f"{type(exc).__name__}") from None
            pause = settings.db_retry_s * 2 ** (number - 1)
            log.warning("Telegram not reachable (try %d of %d): %s; next try in %g s",
                        number, tries, type(exc).__name__, pause)
            await asyncio.sleep(pause)


async def set_webhook(app: App, settings: Settings) -> None:
    """Tell Telegram where to post updates, with our secret (each web process may; the same
    URL and secret make it idempotent). Updates waiting from polling days are kept."""
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    if url is None or secret is None:
        raise ValueError("TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET are needed")
    await app.bot.set_webhook(url, secret_token=secret.get_secret_value(),
                              allowed_updates=Update.ALL_TYPES, max_connections=40)
