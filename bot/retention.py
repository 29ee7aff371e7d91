"""Retention: what the bot forgets on a schedule, and what it keeps forever.

Pruned: delivered outbox rows (`notification`, status `sent`) older than
KIMBOT_KEEP_SENT_DAYS, and replay marks (`processedupdate`) older than
KIMBOT_KEEP_UPDATES_DAYS (at least two days: channels redeliver an update for up to 24 h,
and a mark pruned earlier would let a late redelivery through). Kept forever: cases, the
audit trail (`transition`), the agenda book, attachments, pending and failed notifications.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from bot.clock import Clock, to_db
from bot.models import ChannelMessage, Notification, ProcessedUpdate
from bot.settings import Settings

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0  # how often a running worker prunes
MIN_UPDATES_DAYS = 2  # the replay window channels need (Telegram redelivers up to 24 h)
CHUNK = 1000  # rows deleted per statement, so a long backlog never holds a long lock


@dataclass(frozen=True)
class Pruned:
    notifications: int
    updates: int


def prune(session: Session, clock: Clock, settings: Settings) -> Pruned:
    """Delete delivered notifications and replay marks past their keeping time."""
    now = clock.now()
    sent_before = to_db(now - timedelta(days=settings.keep_sent_days))
    updates_before = to_db(now - timedelta(days=max(settings.keep_updates_days,
                                                    MIN_UPDATES_DAYS)))
    notifications = 0
    while True:
        ids = list(session.exec(
            select(Notification.id).where(col(Notification.status) == "sent")
            .where(col(Notification.sent_at) < sent_before)
            .order_by(col(Notification.id)).limit(CHUNK)).all())
        if not ids:
            break
        # A channel's delivery status of a pruned row has nothing left to point at.
        session.execute(update(ChannelMessage)
                        .where(col(ChannelMessage.notification_id).in_(ids))
                        .values(notification_id=None))
        session.execute(delete(Notification).where(col(Notification.id).in_(ids)))
        notifications += len(ids)
    result = session.execute(delete(ProcessedUpdate)
                             .where(col(ProcessedUpdate.at) < updates_before))
    updates = int(getattr(result, "rowcount", 0) or 0)
    return Pruned(notifications, updates)


class RetentionTimer:
    """Says when a worker's loop should prune: at most every PRUNE_EVERY_S (first: now)."""

    def __init__(self, every_s: float = PRUNE_EVERY_S) -> None:
        self.every_s = every_s
        self._last = float("-inf")

    def due(self) -> bool:
        if time.monotonic() - self._last < self.every_s:
            return False
        self._last = time.monotonic()
        return True
