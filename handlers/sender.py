"""Deliver outbox rows through Telegram: paced, retried, never claimed twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.models import Attachment, Case, User
from bot.outbox import (
    FILES_SENT,
    claim_due,
    defer,
    mark_failed,
    mark_retry,
    mark_sent,
    note_files_sent,
    release_stale,
)
from bot.people import language_of
from bot.ratelimit import RateLimiter
from handlers import render
from handlers.context import Services

log = logging.getLogger(__name__)


@dataclass
class _Job:
    row_id: int
    chat_id: str
    text: str
    markup: InlineKeyboardMarkup | None
    files: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, ref, caption)
    file_ids: list[int] = field(default_factory=list)  # attachment id of each entry in files


class OutboxSender:
    """Background task that drains the outbox; `kick()` wakes it after a commit.

    Pacing (global rate, per-chat interval, 429 pauses) comes from `limiter`, which the
    broadcaster shares: notifications take their tokens first.
    """

    def __init__(self, svc: Services, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.svc = svc
        self.bot = bot
        self.limiter = limiter or RateLimiter.from_settings(svc.settings)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        with self.svc.db.session() as session:
            release_stale(session, self.svc.clock)
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.drain()
            except Exception:  # keep delivering after an unexpected fault
                log.exception("outbox drain failed")
                sent = 0
            if sent:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.svc.settings.outbox_poll_s)
            self._wake.clear()

    async def drain(self, limit: int = 50) -> int:
        """Send what is due now; returns how many rows were handled."""
        wait = self.limiter.paused_for
        if wait > 0:
            await asyncio.sleep(wait)
        jobs = self._claim(limit)
        with self.limiter.urgent():  # the broadcaster holds back until these are out
            for job in jobs:
                await self._deliver(job)
        return len(jobs)

    def _claim(self, limit: int) -> list[_Job]:
        svc = self.svc
        jobs: list[_Job] = []
        with svc.db.session() as session:
            for row in claim_due(session, svc.clock, limit):
                assert row.id is not None
                user = session.get(User, row.recipient_id)
                if user is None or not user.active or user.erased_at is not None:
                    # Deactivated by an admin, or erased their data: they get nothing.
                    mark_failed(session, svc.clock, row.id, "recipient inactive")
                    continue
                pace = self.limiter.chat_wait(user.chat_id)  # Telegram: ~1/s per chat
                if pace > 0:
                    defer(session, row.id, svc.clock.now() + timedelta(seconds=pace))
                    continue
                self.limiter.note_chat(user.chat_id)
                lang = language_of(user, svc.settings.default_language)
                case = session.get(Case, row.case_id) if row.case_id else None
                text, markup = render.notification(svc.tr, lang, svc.registry, row, case)
                files, file_ids = [], []
                done = set(row.params.get(FILES_SENT, []))
                for att_id in row.attachment_ids:
                    att = session.get(Attachment, att_id) if att_id not in done else None
                    if att is not None and att.file_ref:  # "" once its sender erased it
                        files.append((att.kind, att.file_ref, render.clip(att.label, 1024)))
                        file_ids.append(att_id)
                jobs.append(_Job(row.id, user.chat_id, text, markup, files, file_ids))
        return jobs

    async def _deliver(self, job: _Job) -> None:
        svc = self.svc
        delivered: list[int] = []  # attachments already sent: a retry must not repeat them
        try:
            for (kind, ref, caption), att_id in zip(job.files, job.file_ids, strict=True):
                await self.limiter.acquire()
                if kind == "photo":
                    await self.bot.send_photo(job.chat_id, ref, caption=caption or None)
                else:
                    await self.bot.send_document(job.chat_id, ref, caption=caption or None)
                delivered.append(att_id)
            await self.limiter.acquire()
            await self.bot.send_message(job.chat_id, job.text, reply_markup=job.markup)
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            self.limiter.pause(seconds)
            with svc.db.session() as session:
                note_files_sent(session, job.row_id, delivered)
                mark_retry(session, svc.clock, job.row_id, "429 retry after",
                           timedelta(seconds=seconds))
            return
        except Forbidden as exc:
            with svc.db.session() as session:
                note_files_sent(session, job.row_id, delivered)
                mark_failed(session, svc.clock, job.row_id, f"unreachable: {exc.message}")
            return
        except BadRequest as exc:
            with svc.db.session() as session:
                note_files_sent(session, job.row_id, delivered)
                mark_failed(session, svc.clock, job.row_id, f"bad request: {exc.message}")
            return
        except (NetworkError, TelegramError) as exc:
            with svc.db.session() as session:
                note_files_sent(session, job.row_id, delivered)
                mark_retry(session, svc.clock, job.row_id, str(exc))
            return
        with svc.db.session() as session:
            mark_sent(session, svc.clock, job.row_id)
