"""`kimbot run --role web|worker|all`: what one bot process does, until SIGTERM/SIGINT.

- web: webhook ingress (Telegram, WhatsApp); answers people directly. No delivery loops,
  SLA watcher or broadcasts: the outbox rows and broadcasts it commits are a worker's.
- worker: the delivery loops of the configured channels (notifications, broadcasts,
  retention) and the SLA watcher; no inbound. A commit in a web process wakes it by
  PostgreSQL NOTIFY (handlers/pgnotify.py); it also polls (KIMBOT_OUTBOX_POLL), and
  broadcasts and SLA deadlines are found by polling.
- all: everything in one process (Telegram by long polling, or by webhook when
  TELEGRAM_WEBHOOK_URL is set).

Every role serves /healthz, /readyz and /metrics on KIMBOT_LISTEN. On SIGTERM /readyz
turns false, the web server stops accepting and finishes the requests under way, then the
loops finish their sends in flight, then the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.settings import Settings
from handlers.sla_watch import SlaWatcher
from handlers.startup import start_services
from handlers.web import Health, build_web, serving

log = logging.getLogger(__name__)

ROLES = ("all", "web", "worker")
READY_LINE = "kimbot: ready"


def role_problem(settings: Settings, role: str) -> str | None:
    """Why this role cannot run with these settings (one line), or None."""
    if settings.telegram_bot_token is None and not settings.whatsapp_enabled:
        return ("Neither TELEGRAM_BOT_TOKEN nor the WHATSAPP_* settings are set (see README); "
                "try `kimbot demo` offline.")
    if settings.telegram_webhook_url and settings.telegram_webhook_secret is None:
        return "TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET (16-256 of A-Z a-z 0-9 _ -)"
    if (role == "web" and settings.telegram_bot_token is not None
            and not settings.telegram_webhook_url):
        return ("--role web takes Telegram updates by webhook: set TELEGRAM_WEBHOOK_URL and "
                "TELEGRAM_WEBHOOK_SECRET (or run --role all to long-poll)")
    return None


def telegram_inbound(settings: Settings, role: str) -> str | None:
    """How this process takes Telegram updates: "webhook", "polling" or None (a worker)."""
    if role == "worker":
        return None
    return "webhook" if settings.telegram_webhook_url else "polling"


async def serve(settings: Settings, role: str = "all") -> None:
    """Run one process of `role` until SIGINT/SIGTERM, then drain and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    svc = await asyncio.to_thread(start_services, settings)  # exit 2 on a bad setting
    health = Health(svc)
    inbound, outbound = role != "worker", role != "web"
    try:
        async with contextlib.AsyncExitStack() as stack:
            hook = None
            path = "/telegram"
            if settings.telegram_bot_token is not None:
                from handlers.telegram.app import build_application
                from handlers.telegram.app import serving as telegram_serving
                from handlers.telegram.webhook import TelegramWebhook, webhook_path

                mode = telegram_inbound(settings, role)
                app = await stack.enter_async_context(
                    telegram_serving(build_application(svc), inbound=mode, outbound=outbound))
                if mode == "webhook":
                    secret = settings.telegram_webhook_secret
                    assert secret is not None
                    hook = TelegramWebhook(app, secret.get_secret_value())
                    path = webhook_path(settings.telegram_webhook_url)
            whatsapp = None
            if settings.whatsapp_enabled:
                from handlers.whatsapp.app import WhatsAppBot

                whatsapp = WhatsAppBot(svc)
                await whatsapp.start(deliver=outbound)
                stack.push_async_callback(whatsapp.stop)
            if outbound:
                watcher = SlaWatcher(svc)
                watcher.start()
                stack.callback(watcher.stop)
                if not svc.db.is_sqlite:  # another process's commits wake us (NOTIFY)
                    from handlers.pgnotify import OutboxListener

                    listener = OutboxListener(settings.database_url, svc.kick_outbox)
                    listener.start()
                    stack.push_async_callback(listener.stop)
            web = build_web(whatsapp if inbound else None, telegram=hook, telegram_path=path,
                            health=health)
            # Entered last, left first: no new request once stopping begins.
            await stack.enter_async_context(serving(web, settings.listen))
            health.started = True
            served = [p for p, on in ((path, hook), ("/whatsapp", whatsapp and inbound)) if on]
            log.info("%s: role %s on %s (%s)", READY_LINE, role, settings.listen,
                     ", ".join([*served, "/healthz", "/readyz", "/metrics"]))
            await stop.wait()
            health.stopping = True
            log.info("stopping: finishing requests and deliveries under way")
    finally:
        svc.db.dispose()
    log.info("stopped")
