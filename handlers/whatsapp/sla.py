"""The SLA watcher without Telegram's job queue: one asyncio task asleep until the earliest
stored deadline (re-armed after every change), then the due reminders and escalations."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.services import Services

log = logging.getLogger(__name__)
MAX_SLEEP_S = 60.0  # look again at least this often (a clock change, another process)
RETRY_S = 30.0
BATCH = 20_000


class SlaWatcher:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def arm(self) -> None:
        """A deadline moved: look again now."""
        self._wake.set()

    def start(self) -> None:
        self.svc.sla_wakers.append(self.arm)
        self._task = asyncio.create_task(self._main(), name="sla-watch")

    async def stop(self) -> None:
        if self.arm in self.svc.sla_wakers:
            self.svc.sla_wakers.remove(self.arm)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _main(self) -> None:
        while True:
            try:
                delay = self._run_due()
            except Exception:  # rolled back: nothing half-sent; try again shortly
                log.exception("sla run failed; retrying in %s s", RETRY_S)
                delay = RETRY_S
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _run_due(self) -> float:
        """Handle what is due; seconds until the next deadline (capped)."""
        svc = self.svc
        with svc.db.session() as session:
            upcoming = svc.workflow.sla.next_at(session)
        if upcoming is not None and upcoming <= svc.clock.now():
            while True:
                with svc.db.session() as session:
                    run = svc.workflow.sla.run_due(session, limit=BATCH)
                svc.kick_outbox()
                if run.cases < BATCH:
                    break
            with svc.db.session() as session:
                upcoming = svc.workflow.sla.next_at(session)
        if upcoming is None:
            return MAX_SLEEP_S
        return max(0.0, min(MAX_SLEEP_S, (upcoming - svc.clock.now()).total_seconds()))
