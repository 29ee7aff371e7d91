"""KIM-Bot against a bare PTB echo bot: saturation throughput and latency at a fixed rate.

    .venv/bin/python bench/bench_workflow.py [--members 60 --rate 100 --seconds 10]

One FakeBotApi serves on 127.0.0.1 in this process, which also plays the people. Each bot
runs in its own child process (this script with ``--child``) against that same server, one
after the other, each with its own token: first the real KIM-Bot (SQLite file in a temp
dir), then an echo bot. The last printed line is machine-readable (see ``summary_line``).
See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import heapq
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from fakebotapi import TINY_PNG, FakeBotApi, SentMessage

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(Path(__file__).resolve())
OFFICE = "lumajang"
OFFICIALS = [  # one person per role of the Lumajang SOP (seed 004)
    (9101, "Sari", "staf"),
    (9102, "Dony", "kadis"),
    (9103, "Budi", "kabid"),
    (9104, "Wawan", "sekdis"),
    (9105, "Rina", "kasi"),
]
FIRST_MEMBER_ID = 100_001
FIRST_ECHO_ID = 500_001
KIM_TOKEN = "111111:KIMBOT-BENCH"
OUTBOX_TOKEN = "111111:KIMBOT-BENCH-OUTBOX"
ECHO_TOKEN = "222222:ECHO-BENCH"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ACT = re.compile(r"^a (\d+) (\d+) ([a-z0-9_]+)$")
STEP = re.compile(r"(?:Langkah|Step) (\d+):")
AGENDA = re.compile(r"\d{3}/SM/[A-Z-]+/\d{4}")
GRACE_S = 5.0  # after the first response, how long the rest of an update's replies may take
LOST_S = 15.0  # no response at all after this: the update counts as lost
WARMUP_UPDATES = 200
MAX_CLOSED_LOOP_S = 40.0  # a saturation phase stops pushing after this (bounded run time)
MAX_WARMUP_S = 10.0
OPEN_LOOP_POOL_S = 3.0  # open-loop pool: enough people for this many seconds of pushes

KIM_SETTINGS = {
    "KIMBOT_PER_CHAT_INTERVAL": 0,  # as KimBot.settings(): per-chat pacing would hide speed
    "KIMBOT_OUTBOX_POLL": 0.2,
}


# ======================================================================== child processes


def kim_settings(args: argparse.Namespace) -> Any:
    from bot.settings import Settings

    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": args.token,
        "DATABASE_URL": args.db,
        "KIMBOT_ADMIN_IDS": "9000",
        "KIMBOT_TELEGRAM_BASE_URL": args.base_url,
        "KIMBOT_TELEGRAM_FILE_URL": args.file_url,
        **KIM_SETTINGS,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def _serve_commands(profile_path: str | None) -> None:
    """Tell the parent we are up; obey 'profile-start', 'profile-stop', 'stop' (or EOF)."""
    profiler: Any = None
    print("READY", flush=True)
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if line == "profile-start" and profile_path:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001, async_mode="disabled")
            profiler.start()
        elif line == "profile-stop" and profiler is not None:
            profiler.stop()
            text = profiler.output_text(unicode=True, color=False, show_all=False)
            await asyncio.to_thread(Path(profile_path).write_text, text)
            # The raw session too, for other views (`pyinstrument --load FILE.pyisession`).
            await asyncio.to_thread(profiler.last_session.save, profile_path + ".pyisession")
            profiler = None
        elif line == "cpu":
            print(f"{time.process_time():.6f}", flush=True)
            continue
        elif line in ("stop", ""):
            return
        print("OK", flush=True)


async def child_kim(args: argparse.Namespace) -> None:
    """The real KIM-Bot, wired exactly as in production (handlers.telegram.app)."""
    from telegram.ext import ExtBot

    from bot.services import build_services
    from handlers.telegram.app import build_application, running
    from handlers.telegram.request import lean_request

    svc = build_services(kim_settings(args))
    # Notifications go out through a second token, so the harness can tell outbox
    # deliveries from replies to an update. Same sender code, same server.
    # Same HTTP layer as the application's bot (handlers.telegram.app).
    outbox_bot: ExtBot[Any] = ExtBot(args.outbox_token, base_url=args.base_url,
                                     base_file_url=args.file_url,
                                     request=lean_request(args.base_url, 256))
    await outbox_bot.initialize()
    try:
        application = build_application(svc)
        if args.processor:  # A/B experiments: "seq" or "perchat:N"
            from telegram.ext import SimpleUpdateProcessor

            from handlers.telegram.updates import PerChatUpdateProcessor

            kind, _, size = args.processor.partition(":")
            application._update_processor = (
                SimpleUpdateProcessor(1) if kind == "seq" else PerChatUpdateProcessor(int(size)))
        async with running(application) as app:
            sender = app.bot_data["sender"]
            assert isinstance(getattr(sender, "bot", None), ExtBot), "the delivery loop changed"
            sender.bot = outbox_bot
            await _serve_commands(args.profile)
    finally:
        await outbox_bot.shutdown()
        svc.db.dispose()


async def child_echo(args: argparse.Namespace) -> None:
    """A bare PTB v22 bot: one MessageHandler that answers with the same text."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await message.reply_text(message.text)

    app = (ApplicationBuilder().token(args.token).base_url(args.base_url)
           .base_file_url(args.file_url).build())
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    # Same polling parameters as handlers.telegram.app.running().
    await app.updater.start_polling(poll_interval=0, timeout=1,
                                    allowed_updates=Update.ALL_TYPES)
    try:
        await _serve_commands(args.profile)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


# ======================================================================== the fake server

_TOKEN: contextvars.ContextVar[str] = contextvars.ContextVar("bench_token", default="")


class BenchApi(FakeBotApi):
    """FakeBotApi that reports every bot message, edit and callback answer as it happens."""

    def __init__(self) -> None:
        super().__init__()
        self.tracker: Tracker | None = None
        self.counts: Counter[tuple[str, str]] = Counter()  # (token, method) -> Bot API calls

    async def _handle_method(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        _TOKEN.set(token)
        self.counts[token, request.match_info["method"]] += 1
        return await super()._handle_method(request)

    def calls_by(self, token: str) -> Counter[str]:
        """Bot API calls so far with `token`, by method (getUpdates included)."""
        return Counter({m: n for (t, m), n in self.counts.items() if t == token})

    def _new_message(self, chat_id: int, **kwargs: Any) -> SentMessage:
        msg = super()._new_message(chat_id, **kwargs)
        if self.tracker is not None:
            self.tracker.observe(_TOKEN.get(), msg, edit=False)
        return msg

    def _apply_edit(self, msg: SentMessage) -> dict[str, Any]:
        result = super()._apply_edit(msg)
        if self.tracker is not None:
            self.tracker.observe(_TOKEN.get(), msg, edit=True)
        return result

    async def _answer_callback_query(self, params: dict[str, Any], uploads: Any) -> bool:
        result = await super()._answer_callback_query(params, uploads)
        if self.tracker is not None:
            self.tracker.answered(str(params.get("callback_query_id") or ""),
                                  bool(params.get("show_alert")))
        return result


# ======================================================================== tracking updates


@dataclass
class Step:
    """One update a person sends, and how many bot messages/edits complete the reaction."""

    kind: str
    expected: int
    push: Callable[[], dict[str, Any]]


@dataclass
class Pending:
    actor: Actor
    kind: str
    expected: int
    pushed: float
    query_id: str | None
    first: float | None = None
    completed: float | None = None
    changes: int = 0
    alert: bool = False
    incomplete: bool = False
    lost: bool = False
    messages: list[SentMessage] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    on_done: Callable[[Pending], None] | None = None

    @property
    def latency_ms(self) -> float | None:
        return None if self.first is None else (self.first - self.pushed) * 1000.0


class Tracker:
    """Per chat at most one update in flight; its first bot response is its latency."""

    def __init__(self, api: BenchApi, apology: str) -> None:
        self.api = api
        self.apology = apology
        self.reply_token = ""
        self.by_chat: dict[int, Pending] = {}
        self.by_query: dict[str, Pending] = {}
        self.outbox_listeners: dict[int, Callable[[SentMessage], None]] = {}
        self.stray = 0
        self.apologies = 0
        self.notifications = 0

    # -- pushing -------------------------------------------------------------------------

    def push(self, actor: Actor, step: Step, on_done: Callable[[Pending], None]) -> Pending:
        assert actor.chat_id not in self.by_chat, "one update in flight per chat"
        now = time.perf_counter()
        update = step.push()
        query = update.get("callback_query")
        query_id = str(query["id"]) if isinstance(query, dict) else None
        pending = Pending(actor, step.kind, step.expected, now, query_id, on_done=on_done)
        self.by_chat[actor.chat_id] = pending
        if query_id is not None:
            self.by_query[query_id] = pending
        pending.timer = asyncio.get_running_loop().call_later(LOST_S, self._expire, pending)
        return pending

    @property
    def in_flight(self) -> int:
        return len(self.by_chat)

    # -- server callbacks ----------------------------------------------------------------

    def observe(self, token: str, msg: SentMessage, *, edit: bool) -> None:
        if token == OUTBOX_TOKEN:
            self.notifications += 1
            listener = self.outbox_listeners.get(msg.chat_id)
            if listener is not None and not edit:
                listener(msg)
            return
        if token != self.reply_token:
            return
        if not edit and msg.text == self.apology:
            self.apologies += 1
        pending = self.by_chat.get(msg.chat_id)
        if pending is None:
            self.stray += 1
            return
        self._first(pending)
        pending.changes += 1
        if not edit:
            pending.messages.append(msg)
        if pending.changes >= pending.expected:
            self._finish(pending)

    def answered(self, query_id: str, alert: bool) -> None:
        pending = self.by_query.get(query_id)
        if pending is None:
            return
        self._first(pending)
        if alert:  # a refusal (stale button ...): nothing else will come
            pending.alert = True
            self._finish(pending)

    # -- internals -----------------------------------------------------------------------

    def _first(self, pending: Pending) -> None:
        if pending.first is not None:
            return
        pending.first = time.perf_counter()
        if pending.timer is not None:
            pending.timer.cancel()
        pending.timer = asyncio.get_running_loop().call_later(GRACE_S, self._expire, pending)

    def _expire(self, pending: Pending) -> None:
        if pending.first is None:
            pending.lost = True
        else:
            pending.incomplete = True
        self._finish(pending)

    def _finish(self, pending: Pending) -> None:
        if pending.completed is not None:
            return
        pending.completed = time.perf_counter()
        if pending.timer is not None:
            pending.timer.cancel()
        if self.by_chat.get(pending.actor.chat_id) is pending:
            del self.by_chat[pending.actor.chat_id]
        if pending.query_id is not None:
            self.by_query.pop(pending.query_id, None)
        pending.actor.done(pending)
        if pending.on_done is not None:
            pending.on_done(pending)


# ======================================================================== the people


class Actor:
    """A person with one conversation; `next_step` is None while they have nothing to do."""

    def __init__(self, bench: Bench, user_id: int, name: str) -> None:
        self.bench = bench
        self.api = bench.api
        self.chat_id = user_id
        self.user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name,
                                     "language_code": "id"}
        self.api.register_user(self.user)
        self.busy = False
        self.wake = asyncio.Event()

    def next_step(self) -> Step | None:
        raise NotImplementedError

    def done(self, pending: Pending) -> None:
        self.busy = False

    def text(self, kind: str, text: str, expected: int) -> Step:
        return Step(kind, expected, lambda: self.api.push_message(self.user, text))

    def click(self, kind: str, message: SentMessage, data: str, expected: int) -> Step:
        return Step(kind, expected, lambda: self.api.push_callback(self.user, message, data))


def _keyboard(messages: Iterable[SentMessage]) -> SentMessage | None:
    found = [m for m in messages if m.has_inline_keyboard]
    return found[-1] if found else None


def _first_data(message: SentMessage, prefix: str) -> str | None:
    for row in message.buttons():
        for _text, data in row:
            if data and data.startswith(prefix):
                return data
    return None


class Member(Actor):
    """Submits a Lumajang service request (6 updates), then asks /status; again and again."""

    def __init__(self, bench: Bench, user_id: int, name: str) -> None:
        super().__init__(bench, user_id, name)
        self.state = "start"
        self.menu: SentMessage | None = None
        self.summary: SentMessage | None = None
        self.n = 0

    def next_step(self) -> Step | None:
        state = self.state
        if state == "start":
            return self.text("/permohonan", "/permohonan", 1)
        if state == "service" and self.menu is not None:
            data = _first_data(self.menu, "s ")
            if data:
                return self.click("service click", self.menu, data, 1)
        if state == "purpose":
            self.n += 1
            return self.text("purpose text",
                             f"Mohon peliputan kegiatan KIM ke-{self.n} di desa kami.", 1)
        if state == "photo":
            return Step("photo", 1, lambda: self.api.push_message(self.user, photo=TINY_PNG))
        if state == "document":
            return Step("document", 1, lambda: self.api.push_message(
                self.user, document=("surat_tugas.pdf", PDF, "application/pdf")))
        if state == "send" and self.summary is not None:
            data = _first_data(self.summary, "r send ")
            if data:
                return self.click("Kirim click", self.summary, data, 2)
        if state == "status":
            return self.text("/status", "/status", 1)
        self.state = "start"  # lost our place (a refused or missing reply): start over
        return self.text("/permohonan", "/permohonan", 1)

    def done(self, pending: Pending) -> None:
        super().done(pending)
        ok = not (pending.alert or pending.lost or pending.incomplete)
        kind = pending.kind
        if kind == "/permohonan":
            self.menu = _keyboard(pending.messages)
            self.state = "service" if ok and self.menu else "start"
        elif kind == "service click":
            self.state = "purpose" if ok else "start"
        elif kind == "purpose text":
            self.state = "photo" if ok else "start"
        elif kind == "photo":
            self.state = "document" if ok else "start"
        elif kind == "document":
            self.summary = _keyboard(pending.messages)
            self.state = "send" if ok and self.summary else "start"
        elif kind == "Kirim click":
            if any(AGENDA.search(m.text or "") for m in pending.messages):
                self.bench.submitted += 1
            self.state = "status"
        else:
            self.state = "start"


class Official(Actor):
    """Presses the first action button on the tasks the outbox brings; types notes.

    Cases furthest along go first (finish what is under way), oldest first within a step,
    so requests move on to the other officials instead of all piling up at step 1.
    """

    def __init__(self, bench: Bench, user_id: int, name: str, role: str) -> None:
        super().__init__(bench, user_id, name)
        self.role = role
        self.tasks: list[tuple[int, int, tuple[int, int], SentMessage, str]] = []
        self.note_prompt: SentMessage | None = None
        self.skip_next = False
        self._seq = 0
        bench.tracker.outbox_listeners[user_id] = self.on_notification

    def on_notification(self, msg: SentMessage) -> None:
        data = _first_data(msg, "a ")
        match = ACT.match(data or "")
        if match is None or data is None:
            return
        step = STEP.search(msg.text or "")
        self._seq += 1
        heapq.heappush(self.tasks, (-int(step.group(1)) if step else 0, self._seq,
                                    (int(match.group(1)), int(match.group(2))), msg, data))
        if not self.busy:
            self.bench.became_ready(self)

    def next_step(self) -> Step | None:
        if self.note_prompt is not None:
            prompt, self.note_prompt = self.note_prompt, None
            skip = _first_data(prompt, "n skip")
            self.skip_next = not self.skip_next
            if skip and self.skip_next:
                return self.click("skip-note click", prompt, skip, 2)
            return self.text("note text", "Segera ditindaklanjuti sesuai disposisi.", 1)
        while self.tasks:
            _step, _seq, key, message, data = heapq.heappop(self.tasks)
            if key in self.bench.claimed:  # kabid and sekdis share step 6: one of them acts
                continue
            self.bench.claimed.add(key)
            return self.click("act click", message, data, 1)
        return None

    def done(self, pending: Pending) -> None:
        super().done(pending)
        if pending.alert or pending.lost:
            return
        if pending.kind == "act click":
            prompt = _keyboard(pending.messages)
            if prompt is not None and _first_data(prompt, "n cancel"):
                self.note_prompt = prompt  # the action waits for a note
                return
        self.bench.acted += 1


class Echoer(Actor):
    def __init__(self, bench: Bench, user_id: int, name: str) -> None:
        super().__init__(bench, user_id, name)
        self.n = 0

    def next_step(self) -> Step | None:
        self.n += 1
        return self.text("text", f"Halo dari {self.user['first_name']}, pesan ke-{self.n}", 1)


# ======================================================================== phases


@dataclass
class Phase:
    name: str
    pendings: list[Pending]
    started: float
    pushed: int
    seconds: float = 0.0  # open loop: the scheduled window
    missed: int = 0  # open loop: ticks with nobody free to send
    from_reserve: int = 0  # open loop: pushes by reserve people (nobody else was free)
    max_lag_ms: float = 0.0  # open loop: how late the generator pushed
    truncated: bool = False  # closed loop: stopped by MAX_CLOSED_LOOP_S before the burst
    bot_cpu: float = math.nan  # CPU seconds of the bot process during the phase
    harness_cpu: float = math.nan  # CPU seconds of this process (fake server + people)
    calls: Counter[str] = field(default_factory=Counter)  # replies' Bot API calls, by method
    outbox_calls: int = 0  # calls by the outbox sender (notifications), other token

    def calls_per_update(self, *, polling: bool = False) -> float:
        """Bot API calls per handled update: replies (or getUpdates alone with `polling`)."""
        n = sum(v for m, v in self.calls.items() if (m.lower() == "getupdates") == polling)
        return n / max(len(self.handled), 1)

    @property
    def bot_cpu_ms(self) -> float:
        return 1000 * self.bot_cpu / max(len(self.handled), 1)

    @property
    def harness_cpu_ms(self) -> float:
        return 1000 * self.harness_cpu / max(len(self.handled), 1)

    @property
    def handled(self) -> list[Pending]:
        return [p for p in self.pendings if p.first is not None]

    @property
    def ups(self) -> float:
        done = self.handled
        if not done:
            return 0.0
        end = max(p.first for p in done if p.first is not None)
        return len(done) / max(end - self.started, 1e-9)

    @property
    def offered(self) -> float:
        return self.pushed / self.seconds if self.seconds else 0.0

    def latencies(self, kind: str | None = None) -> list[float]:
        return sorted(p.latency_ms for p in self.pendings
                      if p.latency_ms is not None and (kind is None or p.kind == kind))


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (nan when empty)."""
    if not values:
        return math.nan
    return values[max(0, math.ceil(q / 100.0 * len(values)) - 1)]


class Bench:
    def __init__(self, api: BenchApi, tracker: Tracker) -> None:
        self.api = api
        self.tracker = tracker
        self.claimed: set[tuple[int, int]] = set()
        self.submitted = 0
        self.acted = 0
        self._ready_hook: Callable[[Actor], None] | None = None

    def became_ready(self, actor: Actor) -> None:
        actor.wake.set()
        if self._ready_hook is not None:
            self._ready_hook(actor)

    async def closed_loop(self, name: str, actors: list[Actor], total: int,
                          max_seconds: float = MAX_CLOSED_LOOP_S) -> Phase:
        """Everyone at once, each sending the next update as soon as the last one is answered.

        Stops early (keeping the run bounded) after `max_seconds`.
        """
        loop = asyncio.get_running_loop()
        phase = Phase(name, [], time.perf_counter(), 0)
        deadline = phase.started + max_seconds

        async def drive(actor: Actor) -> None:
            while phase.pushed < total and time.perf_counter() < deadline:
                step = actor.next_step()
                if step is None:
                    actor.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(actor.wake.wait(), 0.1)
                    continue
                phase.pushed += 1
                finished: asyncio.Future[None] = loop.create_future()
                actor.busy = True
                phase.pendings.append(self.tracker.push(
                    actor, step, lambda _p, f=finished: f.set_result(None)))
                await finished

        await asyncio.gather(*(drive(a) for a in actors))
        phase.truncated = phase.pushed < total
        return phase

    async def open_loop(self, name: str, actors: list[Actor], reserve: list[Actor],
                        rate: float, seconds: float) -> Phase:
        """Push at fixed times (rate/s) whatever the replies; the next free person sends.

        People of `reserve` only step in when nobody of `actors` is free, so the mix stays
        that of `actors` while the bot keeps up, and the offered rate holds when it does not.
        """
        idle: deque[Actor] = deque(a for a in actors if not a.busy)
        spare: deque[Actor] = deque(a for a in reserve if not a.busy)
        in_reserve = {a.chat_id for a in reserve}
        queued = {a.chat_id for a in (*idle, *spare)}

        def ready(actor: Actor) -> None:
            if not actor.busy and actor.chat_id not in queued:
                (spare if actor.chat_id in in_reserve else idle).append(actor)
                queued.add(actor.chat_id)

        def done(pending: Pending) -> None:
            ready(pending.actor)

        def next_free() -> tuple[Actor, Step] | None:
            for people in (idle, spare):
                while people:
                    actor = people.popleft()
                    queued.discard(actor.chat_id)
                    step = actor.next_step()
                    if step is not None:
                        return actor, step
            return None

        self._ready_hook = ready
        interval = 1.0 / rate
        ticks = round(rate * seconds)
        phase = Phase(name, [], time.perf_counter() + 0.05, 0, seconds=seconds)
        try:
            for i in range(ticks):
                target = phase.started + i * interval
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                phase.max_lag_ms = max(phase.max_lag_ms, (time.perf_counter() - target) * 1000)
                found = next_free()
                if found is None:
                    phase.missed += 1
                    continue
                actor, step = found
                actor.busy = True
                phase.pushed += 1
                phase.from_reserve += actor.chat_id in in_reserve
                phase.pendings.append(self.tracker.push(actor, step, done))
            await self.drain()
        finally:
            self._ready_hook = None
        return phase

    async def drain(self) -> None:
        """Wait until every update in flight is answered (or given up as lost)."""
        deadline = time.perf_counter() + LOST_S + GRACE_S
        while self.tracker.in_flight and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


# ======================================================================== set-up


def seed(db_url: str, members: list[tuple[int, str]]) -> None:
    """Members registered and officials bound to their roles, straight into the database."""
    from bot.clock import SystemClock, to_db
    from bot.db import Database
    from bot.models import RoleBinding
    from bot.people import Profile, ensure_user, register_member

    db = Database(db_url)
    db.migrate()
    clock = SystemClock()
    try:
        with db.session() as session:
            for user_id, name in members:
                user = ensure_user(session, clock, channel="telegram", external_id=str(user_id),
                                   chat_id=str(user_id), display_name=name,
                                   client_language="id")
                register_member(session, clock, user, Profile(
                    full_name=name, kim_group="KIM Sumber Makmur", village="Desa Tempeh Tengah",
                    district="Kecamatan Tempeh", phone="+6281234567890", office=OFFICE))
            for user_id, name, role in OFFICIALS:
                user = ensure_user(session, clock, channel="telegram", external_id=str(user_id),
                                   chat_id=str(user_id), display_name=name,
                                   client_language="id")
                assert user.id is not None
                session.add(RoleBinding(user_id=user.id, office=OFFICE, role=role,
                                        created_at=to_db(clock.now())))
    finally:
        db.dispose()


def apology_text() -> str:
    from bot.i18n import Translator

    return Translator(ROOT / "locales", "id").text("id", "error.internal")


class Child:
    """One bot in its own process, against our server."""

    def __init__(self, kind: str, token: str, api: BenchApi, workdir: Path, db_url: str = "",
                 profile: str | None = None) -> None:
        self.kind = kind
        self.token = token
        self.api = api
        self.log_path = workdir / f"{kind}.log"
        self.db_url = db_url
        self.profile = profile
        self.proc: asyncio.subprocess.Process | None = None
        self.processor = ""

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        command = [sys.executable, SCRIPT, "--child", self.kind,
                   "--token", self.token, "--outbox-token", OUTBOX_TOKEN,
                   "--base-url", self.api.base_url, "--file-url", self.api.base_file_url,
                   "--db", self.db_url]
        if self.profile:
            command += ["--profile", self.profile]
        if self.processor:
            command += ["--processor", self.processor]
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, env=env, cwd=str(ROOT))
        line = await self._read(60.0)
        if line != "READY":
            raise RuntimeError(f"{self.kind} bot did not start:\n{self.log_tail()}")

    async def command(self, text: str) -> str:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._read(30.0)

    async def cpu(self) -> float:
        """CPU seconds the bot process has used so far."""
        return float(await self.command("cpu") or "nan")

    async def _read(self, timeout: float) -> str:  # noqa: ASYNC109
        assert self.proc is not None
        assert self.proc.stdout is not None
        with contextlib.suppress(TimeoutError):
            return (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode().strip()
        return ""

    async def stop(self) -> int:
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.write(b"stop\n")
                await proc.stdin.drain()
                proc.stdin.close()
        try:
            return await asyncio.wait_for(proc.wait(), 20.0)
        except TimeoutError:
            proc.kill()
            return await proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def error_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return [line for line in self.log_path.read_text(errors="replace").splitlines()
                if "ERROR" in line or "Traceback" in line]


# ======================================================================== running it


@dataclass
class BotResult:
    saturation: Phase
    latency: Phase
    errors: list[str]
    stray: int
    apologies: int
    notifications: int = 0
    submitted: int = 0
    acted: int = 0


async def run_bot(api: BenchApi, tracker: Tracker, child: Child, actors: list[Actor],
                  extra: list[Actor], args: argparse.Namespace, label: str) -> BotResult:
    """Warm-up and saturation with `actors`; the open loop with `extra` people too."""
    bench = actors[0].bench
    tracker.reply_token = child.token
    tracker.stray = tracker.apologies = tracker.notifications = 0
    await child.start()
    try:
        await bench.closed_loop(f"{label} warm-up", actors, WARMUP_UPDATES, MAX_WARMUP_S)
        if child.profile:
            await child.command("profile-start")
        bot_cpu, own_cpu = await child.cpu(), time.process_time()
        calls, outbox = api.calls_by(child.token), api.calls_by(OUTBOX_TOKEN)
        saturation = await bench.closed_loop(
            f"{label} saturation (closed loop, {len(actors)} users)", actors, args.burst)
        saturation.bot_cpu = await child.cpu() - bot_cpu
        saturation.harness_cpu = time.process_time() - own_cpu
        saturation.calls = api.calls_by(child.token) - calls
        if child.kind == "kim":
            saturation.outbox_calls = (api.calls_by(OUTBOX_TOKEN) - outbox).total()
        latency = await bench.open_loop(f"{label} open loop {args.rate:g}/s", actors, extra,
                                        args.rate, args.seconds)
        if child.profile:
            await child.command("profile-stop")
        await bench.drain()
        deadline = time.perf_counter() + 5.0
        while api.queued_updates and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # let the bot confirm what it fetched
    finally:
        code = await child.stop()
    errors = child.error_lines()
    if code != 0:
        errors.append(f"{child.kind} bot exited with {code}")
    return BotResult(saturation, latency, errors, tracker.stray, tracker.apologies,
                     tracker.notifications, bench.submitted, bench.acted)


def fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def phase_row(phase: Phase, open_loop: bool) -> str:
    lat = phase.latencies()
    handled = len(phase.handled)
    rate = f"{phase.offered:7.1f}" if open_loop else "      -"
    return (f"{phase.name:<44} {handled:>6} {rate} {phase.ups:8.1f} "
            f"{fmt(pct(lat, 50)):>7} {fmt(pct(lat, 90)):>7} {fmt(pct(lat, 99)):>7} "
            f"{fmt(lat[-1] if lat else math.nan):>7}")


def anomalies(phases: Iterable[Phase]) -> Counter[str]:
    found: Counter[str] = Counter()
    for phase in phases:
        for p in phase.pendings:
            for flag in ("alert", "incomplete", "lost"):
                if getattr(p, flag):
                    found[f"{flag} ({p.kind})"] += 1
        found["missed ticks"] += phase.missed
    return +found


def report(args: argparse.Namespace, kim: BotResult, echo: BotResult, port: int,
           load: tuple[float, float]) -> None:
    cpus = os.cpu_count() or 1
    print()
    print(f"KIM-Bot workflow benchmark - fake Bot API on 127.0.0.1:{port}, "
          f"{cpus} CPUs, Python {sys.version.split()[0]}, load average {load[0]:.1f} at start, "
          f"{load[1]:.1f} at end")
    if max(load) > cpus - 0.5:
        print(f"  WARNING: the machine was busy (load > {cpus - 0.5:g}): other processes took "
              "CPU from the bots; ups and latencies are pessimistic, CPU per update less so.")
    print(f"  people: {args.members} members + {len(OFFICIALS)} officials "
          f"({', '.join(r for _, _, r in OFFICIALS)}) of {OFFICE}, written directly into "
          "the DB (registration is NOT measured)")
    print("  KIM-Bot: handlers.telegram.app as in production, SQLite (WAL) file in a temp dir, "
          "KIMBOT_PER_CHAT_INTERVAL=0 (no per-chat pacing, so it cannot hide the bot's own "
          "speed), KIMBOT_OUTBOX_POLL=0.2, KIMBOT_GLOBAL_RATE=30 (default)")
    print("  echo:    bare PTB v22 Application, one MessageHandler replying the same text")
    print("  each bot runs in its own process (this script --child), one after the other, "
          "same server, own token;")
    print("  KIM-Bot's outbox sender uses a second token so notifications are not taken for "
          "replies.")
    print("  latency = push of the update -> first bot response for it in the fake server "
          "(sendMessage/edit/answerCallbackQuery in that chat).")
    print("  saturation: all users closed-loop (next update once the previous is fully "
          f"answered), {args.burst} updates after {WARMUP_UPDATES} warm-up; "
          "ups = handled / time to the last first-response.")
    pool = max(args.members + len(OFFICIALS), math.ceil(args.rate * OPEN_LOOP_POOL_S))
    print(f"  open loop: one push every {1000 / args.rate:g} ms for {args.seconds:g} s from the "
          "next free person (a person never has two updates in flight); when none of them is "
          f"free, from {pool - args.members - len(OFFICIALS)} reserve members (fresh "
          "conversations), so the offered rate holds.")
    print()
    print(f"{'phase':<44} {'updates':>6} {'offer/s':>7} {'ups':>8} {'p50 ms':>7} "
          f"{'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for result in (kim, echo):
        print(phase_row(result.saturation, open_loop=False))
        print(phase_row(result.latency, open_loop=True))
    print()
    kinds = sorted({p.kind for p in kim.saturation.pendings + kim.latency.pendings},
                   key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)
    print(f"KIM-Bot mix {'kind':<16} {'sat n':>6} {'sat p50':>8} {'sat p99':>8} "
          f"{'open n':>7} {'open p50':>9} {'open p99':>9}")
    for kind in kinds:
        sat, lat = kim.saturation.latencies(kind), kim.latency.latencies(kind)
        print(f"            {kind:<16} {len(sat):>6} {fmt(pct(sat, 50)):>8} "
              f"{fmt(pct(sat, 99)):>8} {len(lat):>7} {fmt(pct(lat, 50)):>9} "
              f"{fmt(pct(lat, 99)):>9}")
    print()
    for result in (kim, echo):
        sat = result.saturation
        print(f"{sat.name}: CPU per update {sat.bot_cpu_ms:.2f} ms in the bot process, "
              f"{sat.harness_cpu_ms:.2f} ms in the fake server + simulated people")
    print(f"CPU-bound estimate of the ratio (echo CPU / KIM-Bot CPU per update): "
          f"{echo.saturation.bot_cpu_ms / kim.saturation.bot_cpu_ms:.3f}")
    for name, result in (("KIM-Bot", kim), ("echo", echo)):
        sat = result.saturation
        top = ", ".join(f"{m} {n / max(len(sat.handled), 1):.2f}"
                        for m, n in sat.calls.most_common() if m.lower() != "getupdates")
        outbox = (f"; outbox sender {sat.outbox_calls / max(len(sat.handled), 1):.2f}"
                  if name == "KIM-Bot" else "")
        print(f"{name} saturation: Bot API calls per update {sat.calls_per_update():.2f} "
              f"({top}), getUpdates {sat.calls_per_update(polling=True):.2f}{outbox}")
    print(f"KIM-Bot: {kim.submitted} requests submitted, {kim.acted} official actions "
          f"completed, {kim.notifications} outbox messages delivered during the run")
    for name, result in (("KIM-Bot", kim), ("echo", echo)):
        odd = anomalies((result.saturation, result.latency))
        odd.update({"unexpected extra replies": result.stray,
                    "internal-error apologies": result.apologies,
                    "error log lines": len(result.errors)})
        odd = +odd
        listing = ", ".join(f"{k}: {v}" for k, v in odd.items()) or "none"
        print(f"{name} anomalies: {listing}")
        for line in result.errors[:5]:
            print(f"    {line}")
    for result in (kim, echo):
        if result.saturation.truncated:
            print(f"{result.saturation.name}: stopped after {MAX_CLOSED_LOOP_S:g} s with "
                  f"{result.saturation.pushed} of {args.burst} updates sent")
        lat = result.latency
        print(f"{lat.name}: offered {lat.pushed} updates in {lat.seconds:g} s = "
              f"{lat.offered:.1f}/s achieved (target {args.rate:g}/s), {lat.from_reserve} of "
              f"them by reserve people, generator max lag {lat.max_lag_ms:.1f} ms")


KIND_ORDER = ["/permohonan", "service click", "purpose text", "photo", "document",
              "Kirim click", "/status", "act click", "note text", "skip-note click"]


def summary_line(kim: BotResult, echo: BotResult) -> str:
    workflow_ups, echo_ups = kim.saturation.ups, echo.saturation.ups
    ratio = workflow_ups / echo_ups if echo_ups else 0.0
    p99 = pct(kim.latency.latencies(), 99)
    return (f"workflow_ups={workflow_ups:.1f} echo_ups={echo_ups:.1f} ratio={ratio:.3f} "
            f"p99_ms={p99:.1f} kim_cpu_ms={kim.saturation.bot_cpu_ms:.2f} "
            f"echo_cpu_ms={echo.saturation.bot_cpu_ms:.2f} "
            f"kim_calls={kim.saturation.calls_per_update():.2f} "
            f"echo_calls={echo.saturation.calls_per_update():.2f}")


def keep_logs(workdir: Path, dest: Path) -> None:
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        shutil.copy(log, dest / log.name)


async def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kimbot-bench-") as tmp:
        workdir = Path(tmp)
        db_url = f"sqlite:///{workdir / 'kimbot.db'}"
        # Reserve people for the open loop, so that nobody being free never caps the rate.
        pool = max(args.members + len(OFFICIALS), math.ceil(args.rate * OPEN_LOOP_POOL_S))
        extra_members = pool - args.members - len(OFFICIALS)
        members = [(FIRST_MEMBER_ID + i, f"Anggota {i + 1:03d}")
                   for i in range(args.members + extra_members)]
        seed(db_url, members)
        api = BenchApi()
        tracker = Tracker(api, apology_text())
        api.tracker = tracker
        async with api:
            bench = Bench(api, tracker)
            everyone: list[Actor] = [Member(bench, uid, name) for uid, name in members]
            people = everyone[:args.members]
            people += [Official(bench, uid, name, role) for uid, name, role in OFFICIALS]
            extra = everyone[args.members:]
            kim_child = Child("kim", KIM_TOKEN, api, workdir, db_url, args.profile)
            kim_child.processor = args.processor or ""
            print(f"KIM-Bot: {len(people)} people, warm-up, {args.burst} updates saturation, "
                  f"{args.rate:g}/s for {args.seconds:g} s with {pool} people ...", flush=True)
            kim = await run_bot(api, tracker, kim_child, people, extra, args, "KIM-Bot")

            echo_bench = Bench(api, tracker)
            echoers: list[Actor] = [Echoer(echo_bench, FIRST_ECHO_ID + i, f"Echo {i + 1:03d}")
                                    for i in range(pool)]
            echo_child = Child("echo", ECHO_TOKEN, api, workdir)
            print(f"echo bot: {len(people)} people ({pool} in the open loop), same phases ...",
                  flush=True)
            echo = await run_bot(api, tracker, echo_child, echoers[:len(people)],
                                 echoers[len(people):], args, "echo")
            port = api.port
        if args.keep_logs:
            keep_logs(workdir, Path(args.keep_logs))
    report(args, kim, echo, port, (load_start, os.getloadavg()[0]))
    if args.profile:
        print(f"\nKIM-Bot profile (measured phases only) written to {args.profile}")
    ratio = kim.saturation.ups / echo.saturation.ups if echo.saturation.ups else 0.0
    p99 = pct(kim.latency.latencies(), 99)
    print()
    print(f"target ratio workflow/echo >= 0.6 : {ratio:.3f}  "
          f"{'PASS' if ratio >= 0.6 else 'FAIL'}")
    print(f"target KIM-Bot p99 <= 100 ms at {args.rate:g}/s on SQLite : {fmt(p99)} ms  "
          f"{'PASS' if p99 <= 100 else 'FAIL'}")
    print(f"echo at {args.rate:g}/s: p50 {fmt(pct(echo.latency.latencies(), 50))} ms, "
          f"p99 {fmt(pct(echo.latency.latencies(), 99))} ms")
    print(f"total run time {time.perf_counter() - started:.1f} s")
    print(summary_line(kim, echo))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=60, help="KIM members (>= 50)")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop updates per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--burst", type=int, default=2000,
                        help="updates in the saturation phase (per bot)")
    parser.add_argument("--profile", metavar="FILE",
                        help="profile the KIM-Bot process (pyinstrument) during the measured "
                             "phases and write the text report to FILE")
    parser.add_argument("--keep-logs", metavar="DIR",
                        help="copy the bots' stderr logs into DIR")
    parser.add_argument("--processor", metavar="seq|perchat:N",
                        help="A/B: run KIM-Bot with PTB's one-at-a-time processing (seq) or "
                             "handlers.telegram.updates.PerChatUpdateProcessor(N) instead of "
                             "its own")
    parser.add_argument("--child", choices=["kim", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--outbox-token", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--file-url", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    return args


def run() -> int:
    args = parse_args()
    if args.child:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(child_kim(args) if args.child == "kim" else child_echo(args))
        return 0
    if args.members < 1 or args.rate <= 0 or args.seconds <= 0 or args.burst < 1:
        raise SystemExit("--members, --rate, --seconds and --burst must be positive")
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main(args))


if __name__ == "__main__":
    sys.exit(run())
