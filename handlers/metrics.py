"""What /metrics and /readyz answer (handlers/web.py mounts them).

Both read the database, synchronously: call them off the event loop, e.g.
``body, ctype = await asyncio.to_thread(metrics_response, svc)`` and
``ok, checks = await asyncio.to_thread(readiness, svc, state)`` → 200 or 503 with
``checks`` as JSON. /healthz needs neither: the process answering is the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bot.db import head_revision
from bot.metrics import REGISTRY, DatabaseCollector
from bot.services import Services
from bot.settings import Settings


class ProcessState(Protocol):
    """Where the process is in its life; `kimbot run` flips the two flags (handlers/web's
    `Health` has them, as has `Lifecycle`)."""

    started: bool  # start-up is over
    stopping: bool  # a shutdown began (SIGTERM): draining


@dataclass
class Lifecycle:
    """A `ProcessState`: ready only between the end of start-up and the start of a shutdown,
    so a load balancer sends nothing to a process still connecting or already draining."""

    started: bool = False
    stopping: bool = False


def phase(state: ProcessState) -> str:
    """starting, running or stopping."""
    if state.stopping:
        return "stopping"
    return "running" if state.started else "starting"


def metrics_response(svc: Services) -> tuple[bytes, str]:
    """The Prometheus text of this process (body, content type): its counters, and the pool,
    outbox and broadcast gauges read now (one short query on indexed columns)."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(DatabaseCollector(svc.db, svc.clock.now()))
    return generate_latest(REGISTRY) + generate_latest(scrape), CONTENT_TYPE_LATEST


def channels_configured(settings: Settings) -> list[str]:
    """The channels these settings serve."""
    found = []
    if settings.telegram_bot_token is not None:
        found.append("telegram")
    if settings.whatsapp_enabled:
        found.append("whatsapp")
    return found


def readiness(svc: Services, state: ProcessState) -> tuple[bool, dict[str, str]]:
    """(ready, checks): running (not starting or stopping), the database answers (a read of
    its schema revision), which is Alembic's head, and a channel is configured. Each check
    reads "ok" or says what is wrong (no secrets: the database is not named)."""
    now = phase(state)
    checks: dict[str, str] = {"process": "ok" if now == "running" else now}
    try:
        current = svc.db.revision()  # one connection: answers, and at which revision
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["schema"] = "unknown"
    else:
        checks["database"] = "ok"
        head = head_revision()
        checks["schema"] = "ok" if current == head else f"at {current}, code needs {head}"
    channels = channels_configured(svc.settings)
    checks["channel"] = "ok" if channels else "none configured"
    return all(value == "ok" for value in checks.values()), checks
