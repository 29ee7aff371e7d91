"""One delivery loop per channel: notifications first, then broadcasts; paced and retried.

Everything the bot sends on its own initiative goes through here: outbox notifications
(`bot.outbox`) and broadcast deliveries (`bot.broadcast`) of ONE channel. The channel
implements `Channel` (one request per `send`, typed errors); the loop does the rest in
one place for both kinds of row: claiming, pacing through the shared `RateLimiter`
(notifications are urgent, broadcasts background), 429 pauses, retries, and the record
of every outcome.

Two crash policies, one mechanism:

* **Notifications: at least once.** A claimed row has a lease (KIMBOT_OUTBOX_LEASE, 60 s);
  expired leases are released every half lease, so rows a killed process held go out again.
  Each attachment delivered is recorded at once (`outbox.note_files_sent`), so a retry
  sends only what did not arrive. Claims are small (`NOTIFY_BATCH`).
* **Broadcasts: at most once.** A delivery is committed `sending` right before its
  request leaves (`Channel.send`'s `commit` hook); a row left `sending` by a crash is
  never repeated (`broadcast.resume_running`). A channel that can hand the whole request
  to its socket synchronously passes a `write` to `commit`, which runs it in the same
  event-loop step as the commit (Telegram's `rawapi`): the window in which a crash skips
  a recipient is microseconds. Commits of workers ready together are shared (`_Coalesce`).

The progress message of a broadcast (and its final report) belongs to the channel the
admin launched it from: that channel's loop edits it every `progress_s` seconds and
finishes the broadcast once no delivery of any channel is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

from sqlmodel import Session

from bot import broadcast as bc
from bot import metrics, outbox
from bot.broadcast import Claim, Progress
from bot.conversations import broadcast as texts
from bot.conversations.output import CAPTION_LIMIT, Buttons, Message, OutFile, clip
from bot.conversations.render import notification
from bot.faults import crash_point
from bot.files import FileStore, ref_for, remember_ref
from bot.models import Attachment, Broadcast, Case, Notification, User
from bot.people import chats_on, language_of
from bot.ratelimit import RateLimiter
from bot.retention import RetentionTimer, prune
from bot.services import Services

log = logging.getLogger(__name__)

NOTIFY_BATCH = 10  # notifications claimed at a time (small: a lease covers the whole batch)
RELEASE_EVERY_S = outbox.LEASE.total_seconds() / 2  # expired leases are released this often
WORKERS = 8  # broadcast sends in flight at once (all paced by the shared limiter)
BATCH = 32  # broadcast deliveries claimed at a time
MAX_TRIES = 3  # for errors where the channel answered or the request never left
MAX_LIMITED = 20  # 429 answers for one delivery before it counts as failed
PROGRESS_S = 2.0  # the admin's progress message is edited at most this often
STOP_GRACE_S = 10.0  # on shutdown, how long sends in flight may take to finish
SENT_FLUSH_S = 0.05  # confirmed broadcast sends are written at least this often

DONE, RETRY, LIMITED = "done", "retry", "limited"
NOTIFICATION, BROADCAST = "notification", "broadcast"
# What the current `Channel.send` carries: (NOTIFICATION, outbox row id) or (BROADCAST,
# delivery id). A channel that reports statuses later (WhatsApp) ties them to the row.
SENDING: ContextVar[tuple[str, int] | None] = ContextVar("SENDING", default=None)


# =============================================================== what a channel implements


class DeliveryError(Exception):
    """A send that did not succeed; `reason` is kept on the row (ids and codes, no text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(DeliveryError):
    """The channel refused for now (429): nobody sends for `seconds`; not delivered."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"429 retry after {seconds:g}")
        self.seconds = seconds


class Unreachable(DeliveryError):
    """The person blocked the bot or the chat is gone: never retried."""


class Rejected(DeliveryError):
    """The channel refused this message (a bad request): not retried."""


class Transient(DeliveryError):
    """Certainly not delivered (never left, or the channel answered with an error)."""


class Unconfirmed(DeliveryError):
    """The request left but no answer came: it may have been delivered."""


class Withdrawn(DeliveryError):
    """Raised by `commit`: the row is not ours any more (cancelled, released); not sent."""


@dataclass(frozen=True)
class Sent:
    """A delivered message: its id, and the channel's reference of a file it uploaded."""

    message_id: int | None = None
    file_ref: str = ""


Write = Callable[[], None]
# Called by the channel right before the request leaves: commits the row as `sending`,
# then runs `write` (when given) in the same event-loop step. Raises Withdrawn.
Commit = Callable[[Write | None], Awaitable[None]]


class Channel(Protocol):
    """One channel's sending side. Every `send` is one request: a text (with buttons) or
    exactly one file (with its caption). A file carries the channel's `ref` when one is
    known (`channel` == this channel's name), else a `blob` to upload; the upload's new
    reference comes back in `Sent.file_ref`."""

    name: str

    async def send(self, chat_id: str, message: Message, *,
                   commit: Commit | None = None) -> Sent: ...

    async def edit(self, chat_id: str, message_id: int, message: Message) -> None: ...


# =============================================================== notifications


@dataclass
class _Notice:
    row_id: int
    chat_id: str
    text: str
    buttons: Buttons
    files: list[OutFile] = field(default_factory=list)
    file_ids: list[int] = field(default_factory=list)  # attachment id of each file


def resolve(session: Session, store: FileStore, item: OutFile, *, blob: str | None,
            origin_channel: str, origin_ref: str, channel: str) -> OutFile | None:
    """`item` with the reference to send it with on `channel`, or with its stored bytes to
    upload (None: neither exists, e.g. its sender erased it)."""
    ref = ref_for(session, blob=blob, origin_channel=origin_channel, origin_ref=origin_ref,
                  channel=channel)
    if ref:
        return replace(item, ref=ref, channel=channel, blob=blob or "")
    if blob and store.has(blob):
        return replace(item, ref="", channel="", blob=blob)
    return None


class DeliveryLoop:
    """Delivers one channel's outbox rows and broadcast deliveries until stopped."""

    def __init__(self, svc: Services, channel: Channel, limiter: RateLimiter, *,
                 progress_s: float = PROGRESS_S) -> None:
        self.svc = svc
        self.channel = channel
        self.limiter = limiter
        self.progress_s = progress_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._runs: dict[int, _Run] = {}
        self._released_at = 0.0
        self._retention = RetentionTimer()
        self._stopping = False

    # -- life -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was committed for us (an outbox row, a launched broadcast)."""
        self._wake.set()

    async def start(self) -> None:
        """Settle what a stopped or crashed process left, then deliver in the background."""
        self._stopping = False
        with self.svc.db.session() as session:
            outbox.release_stale(session, self.svc.clock, self.channel.name)
            resumed = bc.resume_running(session)
        self._released_at = time.monotonic()
        if resumed:
            log.info("%s: resuming broadcasts %s", self.channel.name, resumed)
        self._task = asyncio.create_task(self._main(), name=f"delivery-{self.channel.name}")

    async def stop(self) -> None:
        """Requests under way finish; claimed broadcast rows not begun go back to pending."""
        if self._task is not None:
            # Let the pass under way end (its claimed notifications go out), then cancel.
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_S)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            await run.stop()

    def cancelled(self, broadcast_id: int) -> bool:
        """The broadcast was cancelled: stop its run here, which then reports. False when
        none runs here."""
        run = self._runs.get(broadcast_id)
        if run is None:
            return False
        run.cancelled = True
        return True

    async def _main(self) -> None:
        while not self._stopping:
            handled = 0
            try:
                self._release_stale()
                self._prune()
                self._spawn()
                handled = await self.drain()
            except Exception:  # keep delivering after an unexpected fault
                log.exception("%s: delivery pass failed", self.channel.name)
            if handled:
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives as the event is set, and stop() then waits for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.svc.settings.outbox_poll_s):
                    await self._wake.wait()
            self._wake.clear()

    def _release_stale(self) -> None:
        """Expired leases (a killed process's claims) back to pending, every so often."""
        every = min(RELEASE_EVERY_S, self.svc.settings.outbox_lease_s / 2)
        if time.monotonic() - self._released_at < every:
            return
        self._released_at = time.monotonic()
        with self.svc.db.session() as session:
            count = outbox.release_stale(session, self.svc.clock, self.channel.name)
        if count:
            log.warning("%s: released %d notifications with an expired lease",
                        self.channel.name, count)

    def _prune(self) -> None:
        """Delivered rows and old replay marks go, on a schedule (bot/retention.py)."""
        if not self._retention.due():
            return
        with self.svc.db.session() as session:
            pruned = prune(session, self.svc.clock, self.svc.settings)
        if pruned.notifications or pruned.updates:
            log.info("%s: pruned %d delivered notifications, %d replay marks",
                     self.channel.name, pruned.notifications, pruned.updates)

    # -- one send, paced --------------------------------------------------------------------

    async def send(self, chat_id: str, message: Message, *,
                   commit: Commit | None = None) -> Sent:
        """One request through the channel; a 429 holds every sender of the limiter."""
        try:
            return await self.channel.send(chat_id, message, commit=commit)
        except RateLimited as exc:
            self.limiter.pause(exc.seconds)
            raise

    def remember(self, item: OutFile, sent: Sent) -> None:
        """Keep the reference the channel gave an uploaded file, for the next delivery."""
        if sent.file_ref and item.blob and item.channel != self.channel.name:
            with self.svc.db.session() as session:
                remember_ref(session, item.blob, self.channel.name, sent.file_ref)

    # -- notifications ----------------------------------------------------------------------

    async def drain(self, limit: int = NOTIFY_BATCH) -> int:
        """Send the notifications due now; returns how many rows were handled."""
        wait = self.limiter.paused_for
        if wait > 0:
            await asyncio.sleep(wait)
        notices = self._claim(limit)
        with self.limiter.urgent():  # broadcasts hold back until these are out
            for notice in notices:
                await self._notify(notice)
        return len(notices)

    def _claim(self, limit: int) -> list[_Notice]:
        svc = self.svc
        name = self.channel.name
        notices: list[_Notice] = []
        with svc.db.session() as session:
            rows = outbox.claim_due(session, svc.clock, limit, channel=name,
                                    lease=timedelta(seconds=svc.settings.outbox_lease_s))
            chats = chats_on(session, [r.recipient_id for r in rows], name)
            for row in rows:
                assert row.id is not None
                user = session.get(User, row.recipient_id)
                chat_id = chats.get(row.recipient_id)
                if user is None or not user.active or user.erased_at is not None:
                    # Deactivated by an admin, or erased their data: they get nothing.
                    outbox.mark_failed(session, svc.clock, row.id, "recipient inactive")
                    continue
                if not chat_id:
                    outbox.mark_failed(session, svc.clock, row.id, f"no chat on {name}")
                    continue
                pace = self.limiter.chat_wait(chat_id)  # e.g. Telegram: ~1/s per chat
                if pace > 0:
                    outbox.defer(session, row.id, svc.clock.now() + timedelta(seconds=pace))
                    continue
                self.limiter.note_chat(chat_id)
                notices.append(self._notice(session, row, user, chat_id))
        return notices

    def _notice(self, session: Session, row: Notification, user: User,
                chat_id: str) -> _Notice:
        svc = self.svc
        lang = language_of(user, svc.settings.default_language)
        case = session.get(Case, row.case_id) if row.case_id else None
        text, buttons = notification(svc.tr, lang, svc.registry, row, case)
        assert row.id is not None
        notice = _Notice(row.id, chat_id, text, buttons)
        done = set(row.params.get(outbox.FILES_SENT, []))
        for att_id in row.attachment_ids:
            att = session.get(Attachment, att_id) if att_id not in done else None
            if att is None:
                continue
            item = resolve(session, svc.files, OutFile(att.kind, name=att.file_name,
                                            caption=clip(att.label, CAPTION_LIMIT),
                                            attachment_id=att_id),
                           blob=att.blob_hash, origin_channel=att.channel,
                           origin_ref=att.file_ref, channel=self.channel.name)
            if item is not None:  # nothing left of it once its sender erased it
                notice.files.append(item)
                notice.file_ids.append(att_id)
        return notice

    async def _notify(self, notice: _Notice) -> None:
        """Files first (each recorded once delivered), then the text with its buttons."""
        svc = self.svc
        SENDING.set((NOTIFICATION, notice.row_id))
        try:
            for item, att_id in zip(notice.files, notice.file_ids, strict=True):
                await self.limiter.acquire()
                sent = await self.send(notice.chat_id, Message(files=[item]))
                crash_point("notify.before_record")  # the crash test's kill -9 (bot/faults.py)
                self.remember(item, sent)
                with svc.db.session() as session:
                    outbox.note_files_sent(session, notice.row_id, [att_id])
                crash_point("notify.after_part")
            await self.limiter.acquire()
            await self.send(notice.chat_id, Message(notice.text, notice.buttons))
        except RateLimited as exc:
            self.count_outcome(NOTIFICATION, metrics.LIMITED)
            self._retry(notice, exc.reason, timedelta(seconds=exc.seconds))
        except (Unreachable, Rejected) as exc:
            unreachable = isinstance(exc, Unreachable)
            self.count_outcome(NOTIFICATION,
                               metrics.UNREACHABLE if unreachable else metrics.FAILED)
            with svc.db.session() as session:
                outbox.mark_failed(session, svc.clock, notice.row_id, exc.reason)
        except DeliveryError as exc:  # not delivered, or maybe: at least once, so again
            self.count_outcome(NOTIFICATION, metrics.FAILED)
            self._retry(notice, exc.reason)
        except Exception as exc:  # a bug: keep the row, try again later
            log.exception("%s: notification %s failed", self.channel.name, notice.row_id)
            self.count_outcome(NOTIFICATION, metrics.FAILED)
            self._retry(notice, f"error: {type(exc).__name__}")
        else:
            with svc.db.session() as session:
                outbox.mark_sent(session, svc.clock, notice.row_id)
            self.count_outcome(NOTIFICATION, metrics.SENT)

    def count_outcome(self, kind: str, outcome: str) -> None:
        """Count one send's outcome for /metrics."""
        metrics.delivery(self.channel.name, kind, outcome)

    def _retry(self, notice: _Notice, error: str, delay: timedelta | None = None) -> None:
        with self.svc.db.session() as session:
            outbox.mark_retry(session, self.svc.clock, notice.row_id, error, delay)

    # -- broadcasts -------------------------------------------------------------------------

    def _spawn(self) -> None:
        with self.svc.db.session() as session:
            ids = bc.running_ids(session)
        for broadcast_id in ids:
            if broadcast_id in self._runs:
                continue
            run = _Run(self, broadcast_id)
            self._runs[broadcast_id] = run
            run.task = asyncio.create_task(self._run(run), name=f"broadcast-{broadcast_id}")

    async def _run(self, run: _Run) -> None:
        try:
            await run.main()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("broadcast %s: run failed", run.id)
        finally:
            if self._runs.get(run.id) is run and not run.stopping:
                del self._runs[run.id]  # anything left is looked at again at the next pass


# =============================================================== broadcast runs


class _Coalesce:
    """Rows the workers mark in the same event-loop turn go in one UPDATE (one commit).

    `begin` waits for its commit (a row must be `sending` before its request leaves);
    `sent` does not, it is written with the next commit or within `SENT_FLUSH_S`: a
    confirmed send recorded a moment later is still at most once (a crash in between
    leaves it `sending`, settled as `unconfirmed`, never repeated).
    """

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._begin: dict[int, tuple[asyncio.Future[bool], Write | None]] = {}
        self._sent: list[int] = []
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None

    async def begin(self, delivery_id: int, write: Write | None = None) -> bool:
        """Claimed → sending, committed; then `write()` (the request leaves) at once, in the
        same event-loop step. False: the row is not ours any more (nothing written). What
        `write` raises is raised here."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._begin[delivery_id] = (future, write)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_begin)
        return await future

    def sent(self, delivery_id: int) -> None:
        self._sent.append(delivery_id)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(SENT_FLUSH_S, self.flush)

    def _flush_begin(self) -> None:
        self._scheduled = False
        self._write(self._take_begin(), [])

    def _take_begin(self) -> dict[int, tuple[asyncio.Future[bool], Write | None]]:
        begin, self._begin = self._begin, {}
        return begin

    def flush(self) -> None:
        """Write everything waiting (before reading progress, finishing, stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        sent, self._sent = self._sent, []
        self._write(self._take_begin(), sent)

    def _write(self, begin: dict[int, tuple[asyncio.Future[bool], Write | None]],
               sent: list[int]) -> None:
        if not begin and not sent:
            return
        try:
            with self.svc.db.session() as session:
                bc.mark_sent(session, self.svc.clock, sent)
                mine = bc.begin_sending(session, list(begin))
        except Exception as exc:
            log.exception("broadcast: recording deliveries failed")
            self._sent[:0] = sent  # tried again with the next write
            for future, _ in begin.values():
                if not future.done():
                    future.set_exception(exc)
            return
        # Committed: now the requests leave, before anything else runs.
        for delivery_id, (future, write) in begin.items():
            ours = delivery_id in mine
            try:
                if ours and write is not None:
                    write()
            except Exception as exc:  # e.g. a closed connection: it did not leave
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(ours)


class _Run:
    """One running broadcast in this loop: workers for this channel's deliveries, the
    progress ticker and, on the admin's channel, the final report."""

    def __init__(self, loop: DeliveryLoop, broadcast_id: int) -> None:
        self.loop = loop
        self.svc = loop.svc
        self.id = broadcast_id
        name = loop.channel.name
        with self.svc.db.session() as session:
            row = session.get(Broadcast, broadcast_id)
            assert row is not None
            item = texts.announcement(row)
            if item.files:
                media = item.files[0]
                found = resolve(session, self.svc.files, media, blob=row.media_blob,
                                origin_channel=row.media_channel, origin_ref=row.media_ref,
                                channel=name)
                if found is not None:  # else the channel refuses it: counted as failed
                    item = replace(item, files=[found])
            creator = session.get(User, row.created_by)
            admin_chat = chats_on(session, [row.created_by], name).get(row.created_by)
            # The progress message lives on the channel the admin launched it from.
            self.owner = bool(row.progress_chat_id) and admin_chat == row.progress_chat_id
        self.content = item
        self.lang = (language_of(creator, self.svc.settings.default_language)
                     if creator is not None else self.svc.settings.default_language)
        self.buffer: deque[Claim] = deque()
        self.holding: set[int] = set()  # taken by a worker, not settled
        self.critical: set[asyncio.Task[str]] = set()
        self.cancelled = False
        self.stopping = False
        self.shown = ""
        self.task: asyncio.Task[None] | None = None
        self.marks = _Coalesce(self.svc)
        self.upload = asyncio.Lock()  # a file without a reference here is uploaded once

    # -- workers --------------------------------------------------------------------------

    def _next(self) -> Claim | None:
        if not self.buffer:
            with self.svc.db.session() as session:
                self.buffer.extend(bc.claim_batch(session, self.id, BATCH,
                                                  channel=self.loop.channel.name))
        return self.buffer.popleft() if self.buffer else None

    async def _worker(self) -> None:
        while not (self.cancelled or self.stopping):
            job = self._next()
            if job is None:
                return
            self.holding.add(job.delivery_id)
            try:
                await self._deliver(job)
            except Exception:  # a bug or the database: leave the row claimed, go on
                log.exception("broadcast %s: delivery %s", self.id, job.delivery_id)

    async def _deliver(self, job: Claim) -> None:
        limiter = self.loop.limiter
        tries = limited = 0
        while True:
            await limiter.acquire(job.chat_id, background=True)
            if self.cancelled or self.stopping:
                return  # still claimed: released on stop, cancelled with the broadcast
            task = asyncio.create_task(self._send_once(job))
            self.critical.add(task)
            task.add_done_callback(self.critical.discard)
            # A shutdown does not interrupt a request under way: the row would stay in doubt.
            outcome = await asyncio.shield(task)
            if outcome == DONE:
                return
            if outcome == LIMITED:
                limited += 1
                if limited < MAX_LIMITED:
                    continue
            else:
                tries += 1
                if tries < MAX_TRIES:
                    await asyncio.sleep(float(2 ** (tries - 1)))
                    continue
            self._settle(job, bc.mark_failed, "gave up after retries")
            return

    async def _send_once(self, job: Claim) -> str:
        """sending → one request → its outcome; the whole of it runs even during a stop."""
        if self._needs_upload():
            async with self.upload:
                return await self._attempt(job)
        return await self._attempt(job)

    def _needs_upload(self) -> bool:
        name = self.loop.channel.name
        return any(not item.ref or item.channel != name for item in self.content.files)

    async def _attempt(self, job: Claim) -> str:
        async def commit(write: Write | None) -> None:
            if not await self.marks.begin(job.delivery_id, write):
                raise Withdrawn("cancelled or released meanwhile")

        content = self.content
        SENDING.set((BROADCAST, job.delivery_id))
        try:
            sent = await self.loop.send(job.chat_id, content, commit=commit)
        except Withdrawn:
            self.holding.discard(job.delivery_id)
        except RateLimited as exc:
            self.loop.count_outcome(BROADCAST, metrics.LIMITED)
            return self._again(job, exc.reason, LIMITED)
        except Unreachable as exc:
            self.loop.count_outcome(BROADCAST, metrics.UNREACHABLE)
            self._settle(job, bc.mark_unreachable, exc.reason)
        except Rejected as exc:
            self.loop.count_outcome(BROADCAST, metrics.FAILED)
            self._settle(job, bc.mark_failed, exc.reason)
        except Unconfirmed as exc:  # it left; maybe delivered: never repeated
            self.loop.count_outcome(BROADCAST, metrics.FAILED)
            self._settle(job, bc.mark_unconfirmed, exc.reason)
        except Transient as exc:  # it did not leave, or was refused: again
            self.loop.count_outcome(BROADCAST, metrics.FAILED)
            return self._again(job, exc.reason, RETRY)
        except Exception as exc:  # a bug: record it, keep going with the others
            log.exception("broadcast %s: sending delivery %s failed", self.id, job.delivery_id)
            self.loop.count_outcome(BROADCAST, metrics.FAILED)
            self._settle(job, bc.mark_failed, f"error: {type(exc).__name__}")
        else:
            self.loop.count_outcome(BROADCAST, metrics.SENT)
            self._learn(content, sent)
            self.marks.sent(job.delivery_id)
            self.holding.discard(job.delivery_id)
        return DONE

    def _learn(self, content: Message, sent: Sent) -> None:
        """An uploaded file: the next deliveries reuse the reference the channel gave it."""
        if not sent.file_ref or not content.files:
            return
        item = content.files[0]
        if item.ref and item.channel == self.loop.channel.name:
            return
        self.loop.remember(item, sent)
        self.content = replace(content, files=[replace(item, ref=sent.file_ref,
                                                       channel=self.loop.channel.name)])

    def _settle(self, job: Claim, mark: Callable[[Any, int, str], bool], error: str) -> None:
        """A final outcome: failed, unreachable or unconfirmed (with why)."""
        with self.svc.db.session() as session:
            mark(session, job.delivery_id, error)
        self.holding.discard(job.delivery_id)

    def _again(self, job: Claim, error: str, outcome: str) -> str:
        with self.svc.db.session() as session:
            bc.back_to_claimed(session, job.delivery_id, error)
        return outcome

    # -- progress -------------------------------------------------------------------------

    def _state(self) -> tuple[Progress, str, int | None]:
        self.marks.flush()
        with self.svc.db.session() as session:
            state = bc.progress(session, self.id)
            bc.sync_counters(session, state)
            row = session.get(Broadcast, self.id)
            assert row is not None
            return state, row.progress_chat_id, row.progress_message_id

    async def _show(self, state: Progress, chat_id: str, message_id: int | None,
                    *, final: bool = False) -> None:
        if not self.owner or not chat_id or message_id is None:
            return
        message = texts.progress_message(self.svc.tr, self.lang, state, final=final)
        if message.text == self.shown and not final:
            return
        await self.loop.limiter.acquire(chat_id)
        try:
            await self.loop.channel.edit(chat_id, message_id, message)
            self.shown = message.text
        except DeliveryError as exc:
            log.warning("broadcast %s: progress edit failed: %s", self.id, exc.reason)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.loop.progress_s)
            try:
                state, chat_id, message_id = self._state()
                if state.status == bc.CANCELLED:
                    self.cancelled = True  # stopped by another worker process
                await self._show(state, chat_id, message_id)
            except Exception:
                log.exception("broadcast %s: progress update failed", self.id)

    # -- life -----------------------------------------------------------------------------

    async def main(self) -> None:
        ticker = asyncio.create_task(self._ticker())
        try:
            while True:
                await asyncio.gather(*(self._worker() for _ in range(WORKERS)))
                self._release()  # rows a failed worker left claimed: pending again
                if self.cancelled or self.stopping or not self._others_sending():
                    break
                await asyncio.sleep(self.loop.progress_s)  # other channels are still at it
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        self._release()  # rows a failed worker left claimed: pending again for the next run
        await self._finish()

    def _others_sending(self) -> bool:
        """The admin's channel waits for the other channels' deliveries to finish it."""
        if not self.owner:
            return False
        self.marks.flush()
        with self.svc.db.session() as session:
            state = bc.progress(session, self.id)
        return state.status == bc.RUNNING and state.left > 0

    async def _finish(self) -> None:
        svc = self.svc
        if not self.owner and not self.cancelled:
            return  # the admin's channel finishes it and reports
        if self.cancelled:
            state, chat_id, message_id = self._state()
        else:
            self.marks.flush()
            with svc.db.session() as session:
                final = bc.finish_if_done(session, svc.clock, self.id)
                row = session.get(Broadcast, self.id)
                assert row is not None
                chat_id, message_id = row.progress_chat_id, row.progress_message_id
            if final is None:
                return  # still sent elsewhere, or finished by another process
            state = final
        await self._show(state, chat_id, message_id, final=True)
        await self._report(state, chat_id)
        log.info("broadcast %s %s: %s", self.id, state.status, state.counts)

    async def _report(self, state: Progress, chat_id: str) -> None:
        if not self.owner or not chat_id:
            return
        await self.loop.limiter.acquire(chat_id)
        try:
            await self.loop.send(chat_id, Message(texts.report_text(self.svc, self.lang,
                                                                     state)))
        except DeliveryError as exc:
            log.warning("broadcast %s: report not delivered: %s", self.id, exc.reason)

    def _release(self) -> None:
        leftovers = [c.delivery_id for c in self.buffer] + list(self.holding)
        self.buffer.clear()
        self.holding.clear()
        if leftovers:
            with self.svc.db.session() as session:
                bc.release(session, leftovers)

    async def stop(self) -> None:
        """Process shutdown: requests under way finish, rows not begun go back to pending."""
        self.stopping = True
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.critical:
            await asyncio.wait(set(self.critical), timeout=STOP_GRACE_S)
        self.marks.flush()
        self._release()
