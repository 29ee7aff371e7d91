"""Deliver outbox rows through Telegram: paced, retried, never claimed twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
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
    """Background task that drains the outbox; `kick()` wakes it after a commit."""

    def __init__(self, svc: Services, bot: Bot) -> None:
        self.svc = svc
        self.bot = bot
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_by_chat: dict[str, float] = {}
        self._next_slot = 0.0
        self._paused_until = 0.0

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
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        jobs = self._claim(limit)
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
                if user is None or not user.active:
                    mark_failed(session, svc.clock, row.id, "recipient inactive")
                    continue
                pace = self._pace(user.chat_id)
                if pace > 0:
                    defer(session, row.id, svc.clock.now() + timedelta(seconds=pace))
                    continue
                self._last_by_chat[user.chat_id] = time.monotonic()
                lang = language_of(user, svc.settings.default_language)
                case = session.get(Case, row.case_id) if row.case_id else None
                text, markup = render.notification(svc.tr, lang, svc.registry, row, case)
                files, file_ids = [], []
                done = set(row.params.get(FILES_SENT, []))
                for att_id in row.attachment_ids:
                    att = session.get(Attachment, att_id) if att_id not in done else None
                    if att is not None:
                        files.append((att.kind, att.file_ref, render.clip(att.label, 1024)))
                        file_ids.append(att_id)
                jobs.append(_Job(row.id, user.chat_id, text, markup, files, file_ids))
        return jobs

    def _pace(self, chat_id: str) -> float:
        """Seconds until this chat may get another message (Telegram: ~1/s per chat)."""
        last = self._last_by_chat.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self.svc.settings.per_chat_interval_s - time.monotonic())

    async def _slot(self) -> None:
        """Global pacing (Telegram: ~30 messages/s overall)."""
        now = time.monotonic()
        start = max(now, self._next_slot)
        self._next_slot = start + 1.0 / self.svc.settings.global_rate_per_s
        if start > now:
            await asyncio.sleep(start - now)

    async def _deliver(self, job: _Job) -> None:
        svc = self.svc
        delivered: list[int] = []  # attachments already sent: a retry must not repeat them
        try:
            for (kind, ref, caption), att_id in zip(job.files, job.file_ids, strict=True):
                await self._slot()
                if kind == "photo":
                    await self.bot.send_photo(job.chat_id, ref, caption=caption or None)
                else:
                    await self.bot.send_document(job.chat_id, ref, caption=caption or None)
                delivered.append(att_id)
            await self._slot()
            await self.bot.send_message(job.chat_id, job.text, reply_markup=job.markup)
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            self._paused_until = time.monotonic() + seconds
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
