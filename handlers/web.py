"""The bot's web server (starlette under uvicorn): the WhatsApp webhook.

One ASGI app for every HTTP endpoint the bot serves, in the same process and event loop
as the channels: today the WhatsApp Cloud API webhook (`GET` handshake, signed `POST`s);
Telegram webhooks and /healthz can be mounted here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.services import build_services
from bot.settings import Settings
from handlers.whatsapp.app import WhatsAppBot
from handlers.whatsapp.sla import SlaWatcher

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/whatsapp"
SIGNATURE = "X-Hub-Signature-256"
MAX_BODY = 1024 * 1024  # webhooks are small; a bigger body is not one


def build_web(whatsapp: WhatsAppBot | None) -> Starlette:
    """The ASGI app with the routes of the channels that are served."""
    routes: list[Route] = []
    if whatsapp is not None:
        routes.append(Route(WHATSAPP_PATH, _whatsapp_endpoint(whatsapp), methods=["GET", "POST"]))
    return Starlette(routes=routes)


def _whatsapp_endpoint(bot: WhatsAppBot) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            params = request.query_params
            body, status = await bot.challenge(params.get("hub.verify_token"),
                                               params.get("hub.challenge"))
            return PlainTextResponse(body, status)
        data = await request.body()
        if len(data) > MAX_BODY:
            return PlainTextResponse("Payload Too Large", 413)
        text, status = await bot.webhook(data, request.headers.get(SIGNATURE))
        return PlainTextResponse(text, status)

    return endpoint


def split_listen(listen: str) -> tuple[str, int]:
    """'host:port' (KIMBOT_LISTEN) as (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


@contextlib.asynccontextmanager
async def serving(app: Starlette, listen: str) -> AsyncIterator[uvicorn.Server]:
    """Serve `app` on `listen` in this event loop until the block ends; port 0 picks a free
    port (`server.servers[0].sockets[0]`)."""
    host, port = split_listen(listen)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off")
    server = uvicorn.Server(config)
    # The process's signals are the caller's (run_channels stops everything in order).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve(), name="web")
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it (e.g. the port is taken)
            raise RuntimeError("web server stopped at start-up")
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


def bound_port(server: uvicorn.Server) -> int:
    """The port the server listens on (useful with port 0)."""
    return int(server.servers[0].sockets[0].getsockname()[1])


async def run_channels(settings: Settings) -> None:
    """`kimbot run` with WhatsApp: the web server for its webhook, and Telegram (polling)
    too when its token is set, in one event loop, until SIGINT/SIGTERM."""
    svc = build_services(settings)
    whatsapp = WhatsAppBot(svc)
    try:
        async with contextlib.AsyncExitStack() as stack:
            await whatsapp.start()
            stack.push_async_callback(whatsapp.stop)
            if settings.telegram_bot_token is not None:
                from handlers.telegram.app import build_application, running

                await stack.enter_async_context(running(build_application(svc)))
            else:  # Telegram's application arms the SLA watcher; without it, ours does
                watcher = SlaWatcher(svc)
                watcher.start()
                stack.push_async_callback(watcher.stop)
            await stack.enter_async_context(serving(build_web(whatsapp), settings.listen))
            log.info("serving the WhatsApp webhook on %s%s", settings.listen, WHATSAPP_PATH)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            log.info("stopping")
    finally:
        svc.db.dispose()
