"""Wake the SLA watcher when the earliest stored deadline comes (APScheduler via JobQueue).

One job at a time, re-armed from the database after every change and every run, so nothing
lives only in the scheduler: a restart simply arms it again (a deadline already past fires at
once), and a long run is never skipped (misfire_grace_time=None).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from telegram.ext import Application, ContextTypes, Job

from bot.services import Services

log = logging.getLogger(__name__)
JOB_NAME = "sla-watch"
BATCH = 20_000
RETRY_S = 30


class SlaScheduler:
    def __init__(self, svc: Services, app: Application) -> None:
        self.svc = svc
        self.app = app
        self._job: Job | None = None
        self._armed_for: datetime | None = None
        self.lateness: list[float] = []  # seconds between due and firing (bench reads it)

    def arm(self) -> None:
        """(Re)schedule the single job for the earliest deadline in the database."""
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
        queue = self.app.job_queue
        assert queue is not None, "install python-telegram-bot[job-queue]"
        self._armed_for = when
        self._job = queue.run_once(
            self._fire, when=when, name=JOB_NAME,
            job_kwargs={"misfire_grace_time": None, "coalesce": True},
        )

    def stop(self) -> None:
        self._cancel()

    def _cancel(self) -> None:
        if self._job is not None:
            # After app.stop() the JobQueue's scheduler is shut down and has dropped its jobs
            # (post_stop runs after it, in run_polling too): removing then raises.
            with contextlib.suppress(JobLookupError):
                self._job.schedule_removal()
        self._job, self._armed_for = None, None

    async def _fire(self, context: ContextTypes.DEFAULT_TYPE) -> None:
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
            self._schedule(self.svc.clock.now() + timedelta(seconds=RETRY_S))
            return
        self.arm()
