"""The bot's web server (starlette under uvicorn): webhooks, health and metrics.

One ASGI app for every HTTP endpoint the bot serves, in the same process and event loop
as the channels: the WhatsApp Cloud API webhook (`GET` handshake, signed `POST`s), the
Telegram webhook (secret header), /healthz, /readyz and /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.services import Services
from handlers import metrics
from handlers.telegram.webhook import SECRET_HEADER, TelegramWebhook
from handlers.whatsapp.app import WhatsAppBot

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/whatsapp"
SIGNATURE = "X-Hub-Signature-256"
MAX_BODY = 1024 * 1024  # webhooks are small; a bigger body is not one


def build_web(whatsapp: WhatsAppBot | None = None, *, telegram: TelegramWebhook | None = None,
              telegram_path: str = "/telegram", health: Health | None = None) -> Starlette:
    """The ASGI app with the routes of what this process serves."""
    routes: list[Route] = []
    if whatsapp is not None:
        routes.append(Route(WHATSAPP_PATH, _whatsapp_endpoint(whatsapp), methods=["GET", "POST"]))
    if telegram is not None:
        routes.append(Route(telegram_path, _telegram_endpoint(telegram), methods=["POST"]))
    if health is not None:
        routes += [Route("/healthz", _healthz, methods=["GET"]),
                   Route("/readyz", _readyz_endpoint(health), methods=["GET"]),
                   Route("/metrics", _metrics_endpoint(health), methods=["GET"])]
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


def _telegram_endpoint(hook: TelegramWebhook) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        refused = hook.refused(request.headers.get(SECRET_HEADER))
        if refused is not None:  # checked before the body is even read
            log.warning("telegram webhook: refused a request (%s)", refused)
            return PlainTextResponse("Unauthorized" if refused == 401 else "Forbidden", refused)
        data = await request.body()
        if len(data) > MAX_BODY:
            return PlainTextResponse("Payload Too Large", 413)
        status = await hook.post(data, request.headers.get(SECRET_HEADER))
        return PlainTextResponse("OK" if status == 200 else "Error", status)

    return endpoint


async def _healthz(_request: Request) -> Response:
    """The process is alive (its event loop answers)."""
    return PlainTextResponse("ok")


def _readyz_endpoint(health: Health) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(_request: Request) -> Response:
        ready, checks = await asyncio.to_thread(metrics.readiness, health.svc, health)
        return JSONResponse({"ready": ready, "checks": checks}, 200 if ready else 503)

    return endpoint


def _metrics_endpoint(health: Health) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(_request: Request) -> Response:
        body, content_type = await asyncio.to_thread(metrics.metrics_response, health.svc)
        return Response(body, headers={"Content-Type": content_type})

    return endpoint


@dataclass
class Health:
    """The process's services and where it is in its life (handlers/metrics.ProcessState):
    /readyz is true only between the end of start-up and the start of a shutdown."""

    svc: Services
    started: bool = False
    stopping: bool = False


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
    # The process's signals are the caller's (handlers/serve.py stops everything in order).
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
