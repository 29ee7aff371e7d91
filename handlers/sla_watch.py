"""Wake the SLA run when the earliest stored deadline comes (APScheduler 3, in memory).

Invariant: nothing lives only in the scheduler. It holds one date job, re-armed from the
database after every change and every run, plus a check every `RECHECK_S` for deadlines
that another process moved. A restart simply arms it again (a deadline already past fires
at once); a long run is never skipped (misfire_grace_time=None). Each process has its own
in-memory job store (APScheduler 3 must not share one between processes); several workers
may run it at once because `Sla.run_due` claims the due cases with SKIP LOCKED.

Channel-neutral: one watcher per process, whichever channels it serves.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import Services

log = logging.getLogger(__name__)
BATCH = 20_000
RETRY_S = 30
RECHECK_S = 60  # deadlines moved by another process are seen within this


class SlaWatcher:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._scheduler: AsyncIOScheduler | None = None
        self._job: Job | None = None
        self._armed_for: datetime | None = None
        self.lateness: list[float] = []  # seconds between due and firing (bench_sla reads it)

    def start(self) -> None:
        """Start the scheduler (in the running event loop) and arm it."""
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.start()
        self._scheduler.add_job(self.arm, "interval", seconds=RECHECK_S,
                                misfire_grace_time=None, coalesce=True)
        self.svc.sla_wakers.append(self.arm)
        self.arm()

    def stop(self) -> None:
        if self.arm in self.svc.sla_wakers:
            self.svc.sla_wakers.remove(self.arm)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler, self._job, self._armed_for = None, None, None

    def arm(self, earliest: datetime | None = None) -> None:
        """(Re)schedule the single job for the earliest deadline in the database;
        `earliest`: a new deadline an update set (no need to look when we wake before it)."""
        if self._scheduler is None:
            return
        if earliest is not None and self._job is not None and self._armed_for is not None \
                and self._armed_for <= earliest:
            return
        with self.svc.db.session() as session:
            upcoming = self.svc.workflow.sla.next_at(session)
        if upcoming is None:
            self._cancel()
            return
        if self._job is not None and self._armed_for is not None and self._armed_for <= upcoming:
            return  # already waking earlier; that run re-arms
        self._cancel()
        self._schedule(upcoming)

    def _schedule(self, when: datetime) -> None:
        assert self._scheduler is not None
        # The wait is measured on our clock (tests move it by hand), the job on the wall's.
        wait = max(timedelta(0), when - self.svc.clock.now())
        self._armed_for = when
        self._job = self._scheduler.add_job(
            self._fire, "date", run_date=datetime.now(UTC) + wait,
            misfire_grace_time=None, coalesce=True)

    def _cancel(self) -> None:
        if self._job is not None:
            with contextlib.suppress(JobLookupError):  # it has just run
                self._job.remove()
        self._job, self._armed_for = None, None

    async def _fire(self) -> None:
        """Send every reminder, overdue notice and escalation that is due, then re-arm."""
        armed_for = self._armed_for
        self._job, self._armed_for = None, None
        if armed_for is not None:
            self.lateness.append((self.svc.clock.now() - armed_for).total_seconds())
        try:
            while True:
                with self.svc.db.session() as session:
                    run = self.svc.workflow.sla.run_due(session, limit=BATCH)
                if run.cases:
                    log.info("sla: %s cases, %s messages", run.cases, run.messages)
                self.svc.kick_outbox()
                if run.cases < BATCH:
                    break
        except Exception:
            # The run rolled back, so nothing was half-sent; try again shortly rather than
            # re-arming at the same (past) deadline in a tight loop.
            log.exception("sla run failed; retrying in %s s", RETRY_S)
            if self._scheduler is not None:
                self._schedule(self.svc.clock.now() + timedelta(seconds=RETRY_S))
            return
        self.arm()
