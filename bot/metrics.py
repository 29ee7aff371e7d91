"""Prometheus instruments of the process, and the figures read from the database at a scrape.

Counters and the latency histogram live in this process (`REGISTRY`); each process of a
deployment has its own and Prometheus adds them up. Outbox depth, the age of its oldest
row and the broadcasts running are the database's: every process reports the same figures
(read them with max(), not sum()). `handlers/metrics.py` serves all of it at /metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.broadcast import RUNNING
from bot.clock import from_db
from bot.db import Database
from bot.models import Broadcast, Notification

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

UPDATES = Counter("kimbot_updates", "Updates handled by the conversation core.",
                  ["channel", "kind"], registry=REGISTRY)
HANDLING = Histogram("kimbot_update_handling_seconds",
                     "Time from an update reaching the core to its answer being decided.",
                     ["channel"], registry=REGISTRY,
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
DELIVERIES = Counter("kimbot_deliveries", "Outcomes of the bot's own sends (notifications "
                     "and broadcasts): sent, failed, 429, unreachable.",
                     ["channel", "kind", "outcome"], registry=REGISTRY)
SLA_NOTICES = Counter("kimbot_sla_notices", "SLA messages queued, by stage "
                      "(reminder, overdue, escalated, digest).", ["stage"], registry=REGISTRY)

SENT, FAILED, LIMITED, UNREACHABLE = "sent", "failed", "429", "unreachable"
OUTBOX_WAITING = ("pending", "sending")  # not delivered yet


def update(channel: str, kind: str, seconds: float) -> None:
    """Count one update (`kind`: its event type, e.g. text, press) and how long it took."""
    UPDATES.labels(channel, kind).inc()
    HANDLING.labels(channel).observe(seconds)


def sla_notices(stages: Mapping[str, int]) -> None:
    """Count SLA messages queued by one watcher run, by stage."""
    for stage, n in stages.items():
        SLA_NOTICES.labels(stage).inc(n)


def delivery(channel: str, kind: str, outcome: str) -> None:
    """Count one send's outcome (`kind`: notification or broadcast)."""
    DELIVERIES.labels(channel, kind, outcome).inc()


class DatabaseCollector(Collector):
    """Pool, outbox and broadcast gauges, read when Prometheus scrapes."""

    def __init__(self, db: Database, now: datetime) -> None:
        self.db = db
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        checked_out = getattr(self.db.engine.pool, "checkedout", None)
        if callable(checked_out):
            yield GaugeMetricFamily("kimbot_db_pool_in_use",
                                    "Database connections checked out of this process's pool.",
                                    value=checked_out())
        try:
            depth, oldest, running = self._read()
        except Exception as exc:  # the database is away: /readyz says so; keep the rest
            log.warning("metrics: database figures unavailable: %s", type(exc).__name__)
            return
        age = max(0.0, (self.now - from_db(oldest)).total_seconds()) if oldest else 0.0
        yield GaugeMetricFamily("kimbot_outbox_depth",
                                "Notifications not delivered yet (pending or being sent).",
                                value=depth)
        yield GaugeMetricFamily("kimbot_outbox_oldest_age_seconds",
                                "Age of the oldest notification not delivered yet (0: none).",
                                value=age)
        yield GaugeMetricFamily("kimbot_broadcasts_running", "Broadcasts being sent.",
                                value=running)

    def _read(self) -> tuple[int, datetime | None, int]:
        # Both filter on an indexed status column: cheap however long the history is.
        with Session(self.db.engine) as session:
            depth, oldest = session.exec(
                select(func.count(), func.min(Notification.created_at))
                .where(col(Notification.status).in_(OUTBOX_WAITING))).one()
            running = session.exec(select(func.count()).select_from(Broadcast)
                                   .where(col(Broadcast.status) == RUNNING)).one()
        return int(depth), oldest, int(running)
