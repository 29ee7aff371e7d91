"""The SLA watcher at scale: 100,000 open cases on SQLite, deadlines on time, a clean catch-up.

    .venv/bin/python bench/bench_sla.py [--cases 100000] [--profile DIR] [--keep DIR]

One FakeBotApi serves on 127.0.0.1 in this process, which also prepares the database and
checks what arrives. The bot runs in a child process (this script with ``--child``), wired
exactly as in production (bot.services.build_services, handlers.telegram.app's
build_application / running, real
SystemClock), three times on the same SQLite file:

1. set-up (not measured): migrations, ~50 officials with role bindings, members, and
   ``--cases`` open Lumajang cases (SOP lmj-layanan-kim, steps 1..8) bulk-inserted with
   SQLAlchemy core; due/remind/escalate computed with WorkCalendar from step_started_at, stage
   and sla_next_at consistent with now. ``--window-cases`` of them get their reminder inside a
   ``--window`` seconds window of real time that opens ``--lead`` seconds after the first start.
2. start-up: build_services (migrations on the existing DB, SOP load) + PTB app started against
   the fake server until the SLA scheduler is armed.
3. lateness: for every SLA stage event whose sla_next_at falls in the window, lateness = commit
   time of the run that handled it − sla_next_at (no event may be early); plus the scheduler's own
   wake-up lateness. Resident memory is sampled in the bot process throughout.
4. catch-up: bot stopped; ``--catchup`` cases made overdue (all thresholds past, stages not
   sent); bot started again with the real rate limits (30/s global, 1 s per chat); every
   (official, case) notice must arrive exactly once within 60 s; a second restart must send
   nothing.

The last printed line is machine-readable (see ``summary_line``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import string
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(Path(__file__).resolve())
OFFICE = "lumajang"
SOP_CODE = "lmj-layanan-kim"
TOKEN = "333333:SLA-BENCH"
FIRST_OFFICIAL_ID = 800_001
FIRST_MEMBER_ID = 100_001
MEMBERS = 2_000
# ~50 officials: one Dinas of each office fully staffed (Kolaka's have no SOP here: they
# only make the role tables realistic).
OFFICIALS: dict[str, list[tuple[str, int]]] = {
    "lumajang": [("kadis", 1), ("sekdis", 1), ("kabid", 4), ("kasi", 8), ("staf", 3),
                 ("tim", 8)],
    "kolaka": [("kadis", 1), ("sekdis", 1), ("kabid", 4), ("kasi", 8), ("staf", 3), ("tim", 8)],
}
HORIZON = timedelta(minutes=20)  # background cases must not need the watcher before this
AGENDA = re.compile(r"\d{3,}/SM/[A-Z-]+/\d{4}")

TARGET_P99_S = 2.0
TARGET_STARTUP_S = 5.0
TARGET_RSS_MB = 200.0
TARGET_CATCHUP_S = 60.0

FAST_OUTBOX = {"per_chat": 0.0, "rate": 1000.0, "poll": 0.2}  # phase 3: drain quickly
REAL_OUTBOX = {"per_chat": 1.0, "rate": 30.0, "poll": 2.0}  # production defaults


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rss_kb() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in kB, from /proc/self/status."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    with Path("/proc/self/status").open() as status:
        for line in status:
            parts = line.split()
            if parts and parts[0] in found:
                found[parts[0]] = int(parts[1])
    return found["VmRSS:"], found["VmHWM:"]


def ts(moment: datetime) -> float:
    return moment.timestamp()


# ======================================================================== the bot (child)


class Recorder:
    """Measurement hooks in the bot process; the bot's behaviour is unchanged.

    Every case `Sla._advance` moves is remembered with the sla_next_at it had (when it was due);
    when the session that did it has committed, the events get that commit time.
    """

    def __init__(self, svc: Any) -> None:
        from bot.clock import from_db

        self.events: list[list[Any]] = []  # [case_id, old_stage, new_stage, due, run_now, commit]
        self._pending: list[list[Any]] = []
        self.rss_max_kb = 0
        sla = svc.workflow.sla
        advance = sla._advance
        clock = svc.clock

        def recording_advance(session: Any, case: Any, now: datetime, *rest: Any) -> None:
            old_stage, old_next = case.sla_stage, case.sla_next_at
            advance(session, case, now, *rest)
            self._pending.append([case.id, old_stage, case.sla_stage,
                                  ts(from_db(old_next)) if old_next else None, ts(now), None])

        sla._advance = recording_advance
        open_session = svc.db.session

        @contextlib.contextmanager
        def session() -> Iterator[Any]:
            with open_session() as s:
                yield s
            if self._pending:
                stamp = ts(clock.now())
                for event in self._pending:
                    event[5] = stamp
                self.events.extend(self._pending)
                self._pending = []

        svc.db.session = session

    async def sample_rss(self) -> None:
        while True:
            self.rss_max_kb = max(self.rss_max_kb, rss_kb()[0])
            await asyncio.sleep(0.2)


async def child_bot(args: argparse.Namespace) -> None:
    t_imports = time.perf_counter()
    from bot.services import build_services
    from bot.settings import Settings
    from handlers.telegram.app import build_application, running

    imported = time.perf_counter() - t_imports
    settings = Settings(_env_file=None, **{  # type: ignore[call-arg]
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DATABASE_URL": args.db,
        "KIMBOT_ADMIN_IDS": "9000",
        "KIMBOT_TELEGRAM_BASE_URL": args.base_url,
        "KIMBOT_TELEGRAM_FILE_URL": args.file_url,
        "KIMBOT_SOP_DIR": args.sop_dir,
        "KIMBOT_PER_CHAT_INTERVAL": args.per_chat,
        "KIMBOT_GLOBAL_RATE": args.rate,
        "KIMBOT_OUTBOX_POLL": args.poll,
    })
    t0 = time.perf_counter()
    svc = build_services(settings)
    t_services = time.perf_counter() - t0
    recorder = Recorder(svc)
    app = build_application(svc)
    profiler: Any = None
    sampler: asyncio.Task[None] | None = None
    try:
        async with running(app):
            ready = time.perf_counter() - t0
            scheduler = app.bot_data["sla"]
            armed_for = scheduler._armed_for
            print("READY " + json.dumps({
                "import_s": imported, "services_s": t_services, "ready_s": ready,
                "armed": scheduler._job is not None,
                "armed_for": ts(armed_for) if armed_for else None,
            }), flush=True)
            sampler = asyncio.create_task(recorder.sample_rss())
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.001, async_mode="disabled")
                profiler.start()
            while True:
                line = (await asyncio.to_thread(sys.stdin.readline)).strip()
                if line == "report":
                    now_kb, hwm_kb = rss_kb()
                    recorder.rss_max_kb = max(recorder.rss_max_kb, now_kb)
                    print("REPORT " + json.dumps({
                        "events": recorder.events, "wakes": list(scheduler.lateness),
                        "rss_kb": now_kb, "rss_max_kb": recorder.rss_max_kb,
                        "hwm_kb": hwm_kb,
                    }), flush=True)
                elif line == "sla-off":  # stop the watcher; the sender goes on
                    svc.sla_wakers.clear()
                    scheduler.stop()
                    print("OK", flush=True)
                elif line in ("stop", ""):
                    break
    finally:
        if sampler is not None:
            sampler.cancel()
        if profiler is not None:
            profiler.stop()
            text = profiler.output_text(unicode=True, color=False, show_all=False)
            await asyncio.to_thread(Path(args.profile).write_text, text)
        svc.db.dispose()


# ======================================================================== the data (parent)


@dataclass
class CaseRow:
    id: int
    agenda: str
    step_no: int
    remind: datetime
    due: datetime
    escalate: datetime


@dataclass
class Data:
    db_url: str
    sop_dir: Path
    calendar_mode: str
    cases: dict[int, CaseRow] = field(default_factory=dict)
    # user id → (chat id, office, role)
    officials: dict[int, tuple[int, str, str]] = field(default_factory=dict)
    window: list[int] = field(default_factory=list)  # case ids with a reminder in the window
    catchup_pool: list[int] = field(default_factory=list)  # all thresholds long past
    window_start: float = 0.0
    window_end: float = 0.0


def choose_sop_dir(workdir: Path) -> tuple[Path, str]:
    """The real offices.yaml if Lumajang is open now; else a copy open around the clock.

    Reminders must fall in the next minute of real time *and* be office-time consistent,
    which the real Lumajang calendar allows only during office hours.
    """
    import yaml

    from bot.calendar import WEEKDAYS, WorkCalendar
    from bot.sop import SopRegistry

    now = datetime.now(UTC)
    span = (now - timedelta(minutes=30), now + timedelta(minutes=30))

    def open_throughout(directory: Path) -> bool:
        office = SopRegistry.from_dir(directory).office(OFFICE)
        return WorkCalendar.for_office(office).elapsed(*span) == span[1] - span[0]

    real = ROOT / "sop_steps"
    if open_throughout(real):
        return real, "real Lumajang office hours (the office is open now)"
    target = workdir / "sop_steps"
    shutil.copytree(real, target)
    path = target / "offices.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for office in data["kantor"]:
        if office["kode"] == OFFICE:
            office["jam_kerja"] = dict.fromkeys(WEEKDAYS, "00:00-23:59")
            office.pop("hari_libur_kantor", None)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    note = ("Lumajang is closed now: a copy of sop_steps with Lumajang open 00:00-23:59 every day"
            " (national holidays still apply)")
    if not open_throughout(target):
        note += " — WARNING: still closed within ±30 min (midnight or a holiday)"
    return target, note


def thresholds(cal: Any, start: datetime, waktu: Any, policy: Any) -> tuple[datetime, ...]:
    """(remind, due, escalate) exactly as Sla.enter() arms a fresh step at `start`."""
    due = cal.add(start, waktu)
    standard = cal.elapsed(start, due)
    remind = cal.add_office_time(start, standard * policy.remind_share)
    escalate = cal.add_office_time(due, standard * policy.escalate_share)
    return remind, due, escalate


def stage_at(now: datetime, marks: tuple[datetime, ...]) -> tuple[int, datetime | None]:
    stage = sum(1 for moment in marks if moment <= now)
    return stage, (marks[stage] if stage < 3 else None)


def setup(db_url: str, sop_dir: Path, mode: str, args: argparse.Namespace) -> Data:
    from sqlalchemy import insert

    from bot.calendar import WorkCalendar
    from bot.db import Database
    from bot.models import AgendaCounter, Case, RoleBinding, User
    from bot.sla import SlaPolicy
    from bot.sop import SopRegistry

    rng = random.Random(20261121)
    registry = SopRegistry.from_dir(sop_dir)
    office = registry.office(OFFICE)
    sop = registry.get(SOP_CODE)
    assert sop is not None
    cal = WorkCalendar.for_office(office)
    policy = SlaPolicy()
    data = Data(db_url, sop_dir, mode)
    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)
    users: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []
    next_id = FIRST_OFFICIAL_ID
    for office_code, roles in OFFICIALS.items():
        for role, count in roles:
            for i in range(count):
                user_id = next_id - FIRST_OFFICIAL_ID + 1
                users.append({
                    "id": user_id, "channel": "telegram", "external_id": str(next_id),
                    "chat_id": str(next_id), "display_name": f"{role} {i + 1}",
                    "full_name": f"{role.title()} {office_code.title()} {i + 1}",
                    "office": office_code, "active": True, "created_at": now - timedelta(days=90),
                })
                bindings.append({"user_id": user_id, "office": office_code, "role": role,
                                 "active": True, "created_at": now - timedelta(days=90)})
                data.officials[user_id] = (next_id, office_code, role)
                next_id += 1
    first_member = len(users) + 1
    for i in range(MEMBERS):
        users.append({
            "id": first_member + i, "channel": "telegram",
            "external_id": str(FIRST_MEMBER_ID + i), "chat_id": str(FIRST_MEMBER_ID + i),
            "display_name": f"Anggota {i + 1}", "full_name": f"Anggota KIM {i + 1}",
            "kim_group": "KIM Sumber Makmur", "village": "Desa Tempeh Tengah",
            "district": "Kecamatan Tempeh", "phone": "+6281234567890", "office": OFFICE,
            "registered_at": now - timedelta(days=60), "active": True,
            "created_at": now - timedelta(days=60),
        })
    steps = {s.number: s for s in sop.steps}
    window_ids = set(rng.sample(range(1, args.cases + 1), min(args.window_cases, args.cases)))
    rows: list[dict[str, Any]] = []
    for seq in range(1, args.cases + 1):
        step_no = rng.randint(1, 8)
        waktu = steps[step_no].waktu
        # Step entered between 45 minutes and four weeks ago; its thresholds come from the
        # calendar. Any case that would need the watcher within HORIZON goes back a day, so
        # only the window cases (and later the catch-up cases) are live during the bench.
        start = now - timedelta(seconds=rng.uniform(45 * 60, 28 * 86400))
        for _ in range(30):
            marks = thresholds(cal, start, waktu, policy)
            stage, upcoming = stage_at(now, marks)
            if upcoming is None or upcoming > now + HORIZON:
                break
            start -= timedelta(days=1)
        created = start - timedelta(seconds=rng.uniform(60, 3 * 3600))
        year = created.astimezone(cal.tz).year
        agenda = office.agenda_format.format(seq=seq, code=office.short_name, year=year)
        member = first_member + rng.randrange(MEMBERS)
        rows.append({
            "id": seq, "office": OFFICE, "sop_code": SOP_CODE, "agenda_year": year,
            "agenda_seq": seq, "agenda_number": agenda, "requester_id": member,
            "started_by_id": member, "subject": f"Permohonan pelayanan KIM no. {seq}",
            "purpose": "Mohon peliputan dan pendampingan kegiatan KIM di desa kami.",
            "status": "open", "step_no": step_no, "version": step_no,
            "step_started_at": start, "created_at": created, "request_key": f"bench-sla-{seq}",
            "remind_at": marks[0], "due_at": marks[1], "escalate_at": marks[2],
            "sla_stage": stage, "sla_next_at": upcoming,
        })
        data.cases[seq] = CaseRow(seq, agenda, step_no, *marks)
        if seq in window_ids:
            data.window.append(seq)
        elif upcoming is None and marks[2] < now - timedelta(minutes=5):
            data.catchup_pool.append(seq)
    with db.engine.begin() as conn:
        conn.execute(insert(User.__table__), users)  # type: ignore[attr-defined]
        conn.execute(insert(RoleBinding.__table__), bindings)  # type: ignore[attr-defined]
        for i in range(0, len(rows), 10_000):
            conn.execute(insert(Case.__table__), rows[i:i + 10_000])  # type: ignore[attr-defined]
        conn.execute(insert(AgendaCounter.__table__),  # type: ignore[attr-defined]
                     [{"office": OFFICE, "year": now.astimezone(cal.tz).year,
                       "last": args.cases}])
    db.dispose()
    return data


def arm_window(data: Data, args: argparse.Namespace) -> None:
    """Give the window cases a reminder spread over [now + lead, now + lead + window)."""
    from sqlalchemy import bindparam, update

    from bot.calendar import WorkCalendar
    from bot.db import Database
    from bot.models import Case
    from bot.sla import SlaPolicy
    from bot.sop import SopRegistry

    rng = random.Random(7)
    registry = SopRegistry.from_dir(data.sop_dir)
    cal = WorkCalendar.for_office(registry.office(OFFICE))
    sop = registry.get(SOP_CODE)
    assert sop is not None
    policy = SlaPolicy()
    now = datetime.now(UTC)
    first = now + timedelta(seconds=args.lead)
    data.window_start = ts(first)
    data.window_end = ts(first + timedelta(seconds=args.window))
    params = []
    for case_id in data.window:
        row = data.cases[case_id]
        step = sop.step(row.step_no)
        wanted = first + timedelta(seconds=rng.uniform(0, args.window))
        standard = cal.office_span(wanted, step.waktu)
        start = wanted - standard * policy.remind_share  # open office: office time = real time
        marks = thresholds(cal, start, step.waktu, policy)
        stage, upcoming = stage_at(now, marks)
        row.remind, row.due, row.escalate = marks
        params.append({"b_id": case_id, "step_started_at": start, "remind_at": marks[0],
                       "due_at": marks[1], "escalate_at": marks[2], "sla_stage": stage,
                       "sla_next_at": upcoming})
    table: Any = Case.__table__  # type: ignore[attr-defined]
    db = Database(data.db_url)
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == bindparam("b_id")), params)
    db.dispose()


def settle_window(data: Data) -> None:
    """The officials acted on the window cases while the bot was down: they left the SLA."""
    from sqlalchemy import update

    from bot.db import Database
    from bot.models import Case

    table: Any = Case.__table__  # type: ignore[attr-defined]
    db = Database(data.db_url)
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id.in_(data.window)).values(
            status="finished", finished_at=datetime.now(UTC), due_at=None, remind_at=None,
            escalate_at=None, sla_next_at=None))
    db.dispose()


def make_overdue(data: Data, count: int) -> list[int]:
    """Cases whose every threshold passed while the bot was down, nothing sent yet.

    Half had their reminder sent before the stop (stage 1), half nothing (stage 0).
    """
    from sqlalchemy import bindparam, update

    from bot.db import Database
    from bot.models import Case

    rng = random.Random(11)
    chosen = sorted(rng.sample(data.catchup_pool, min(count, len(data.catchup_pool))))
    params = []
    for i, case_id in enumerate(chosen):
        row = data.cases[case_id]
        stage = i % 2
        params.append({"b_id": case_id, "sla_stage": stage,
                       "sla_next_at": row.remind if stage == 0 else row.due})
    table: Any = Case.__table__  # type: ignore[attr-defined]
    db = Database(data.db_url)
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == bindparam("b_id")), params)
    db.dispose()
    return chosen


def outbox_counts(db_url: str) -> Counter[str]:
    from sqlalchemy import func, select

    from bot.db import Database
    from bot.models import Notification

    db = Database(db_url)
    with db.engine.connect() as conn:
        rows = conn.execute(select(Notification.status, func.count())  # type: ignore[call-overload]
                            .group_by(Notification.status)).all()
    db.dispose()
    return Counter({str(status): int(n) for status, n in rows})


def discard_backlog(db_url: str) -> int:
    from sqlalchemy import update

    from bot.db import Database
    from bot.models import Notification

    table: Any = Notification.__table__  # type: ignore[attr-defined]
    db = Database(db_url)
    with db.engine.begin() as conn:
        result = conn.execute(update(table).where(table.c.status.in_(["pending", "sending"]))
                              .values(status="failed", last_error="bench: phase 1 backlog"))
    db.dispose()
    return int(result.rowcount or 0)


def notifications_since(db_url: str, after_id: int) -> list[Any]:
    from sqlalchemy import select

    from bot.db import Database
    from bot.models import Notification

    db = Database(db_url)
    table: Any = Notification.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        rows = conn.execute(select(table.c.id, table.c.recipient_id, table.c.case_id,
                                   table.c.key, table.c.params, table.c.status,
                                   table.c.attempts, table.c.created_at)
                            .where(table.c.id > after_id).order_by(table.c.id)).all()
    db.dispose()
    return list(rows)


def last_notification_id(db_url: str) -> int:
    rows = notifications_since(db_url, 0)
    return int(rows[-1].id) if rows else 0


def stages_of(db_url: str, ids: list[int]) -> Counter[int]:
    from sqlalchemy import select

    from bot.db import Database
    from bot.models import Case

    table: Any = Case.__table__  # type: ignore[attr-defined]
    db = Database(db_url)
    found: Counter[int] = Counter()
    with db.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            for (stage,) in conn.execute(select(table.c.sla_stage)
                                         .where(table.c.id.in_(ids[i:i + 500]))):
                found[int(stage)] += 1
    db.dispose()
    return found


# ======================================================================== expectations


class Texts:
    """Tell SLA notices apart by the Indonesian catalog (officials have no language set)."""

    KEYS = ("notify.sla_reminder", "notify.sla_overdue", "notify.sla_escalated")

    def __init__(self) -> None:
        from bot.i18n import Translator

        catalog = Translator(ROOT / "locales").catalogs["id"]
        self.prefix = {key: self._literal_head(catalog[key]) for key in self.KEYS}
        parts = list(string.Formatter().parse(catalog["notify.sla_digest"]))
        assert parts[0][1] == "count", "digest text must start with {count}"
        self.digest = re.compile(re.escape(parts[0][0]) + r"(\d+)" + re.escape(parts[1][0]))

    @staticmethod
    def _literal_head(template: str) -> str:
        return next(iter(string.Formatter().parse(template)))[0]

    def kind(self, text: str) -> tuple[str, int]:
        """('digest', count) or (notice key, 1) or ('other', 0)."""
        match = self.digest.match(text)
        if match:
            return "digest", int(match.group(1))
        for key, head in self.prefix.items():
            if head and text.startswith(head):
                return key, 1
        return "other", 0


def expected_notices(data: Data, case_ids: list[int]) -> dict[int, Counter[str]]:
    """Official's user id → agenda numbers they must hear about (Sla._advance's rules).

    Every threshold is past: the holders of the step's roles get the overdue notice, the first
    staffed role up the hierarchy (roles.SUPERVISOR) gets the escalation. No Plt in the bench.
    """
    from bot.roles import SUPERVISOR
    from bot.sop import SopRegistry

    sop = SopRegistry.from_dir(data.sop_dir).get(SOP_CODE)
    assert sop is not None
    by_role: dict[str, list[int]] = defaultdict(list)
    for user_id, (_chat, office, role) in data.officials.items():
        if office == OFFICE:
            by_role[role].append(user_id)

    def holders(roles: tuple[str, ...] | list[str]) -> list[int]:
        return sorted({u for role in roles for u in by_role.get(role, [])})

    def supervisors(roles: tuple[str, ...]) -> list[int]:
        for role in roles:
            boss = SUPERVISOR.get(role)
            while boss is not None:
                found = holders([boss])
                if found:
                    return found
                boss = SUPERVISOR.get(boss)
        return []

    expected: dict[int, Counter[str]] = defaultdict(Counter)
    for case_id in case_ids:
        row = data.cases[case_id]
        roles = sop.step(row.step_no).roles
        for user_id in holders(roles) + supervisors(roles):
            expected[user_id][row.agenda] += 1
    return expected


@dataclass
class Account:
    """What each official received, against what they should have."""

    complete: bool = False
    duplicates: int = 0
    unexpected: int = 0
    missing: int = 0
    named: int = 0  # (official, case) pairs named in a message
    counted_only: int = 0  # pairs only covered by a digest's count (it names at most 30)
    messages: int = 0
    digests: int = 0
    problems: list[str] = field(default_factory=list)


def account(api: Any, texts: Texts, data: Data, expected: dict[int, Counter[str]],
            seen_before: dict[int, int]) -> Account:
    result = Account()
    for user_id, (chat_id, _office, _role) in data.officials.items():
        messages = api.messages(chat_id)[seen_before.get(chat_id, 0):]
        want = expected.get(user_id, Counter())
        named: Counter[str] = Counter()
        covered = 0
        for message in messages:
            result.messages += 1
            text = message.text or ""
            kind, count = texts.kind(text)
            agendas = AGENDA.findall(text)
            if kind == "digest":
                result.digests += 1
                covered += count
                named.update(agendas)
            elif kind in Texts.KEYS:
                covered += 1
                named.update(agendas[:1])
            else:
                result.unexpected += 1
                result.problems.append(f"official {user_id}: unexpected message {text[:60]!r}")
        for agenda, times in named.items():
            allowed = want.get(agenda, 0)
            if times > allowed:
                if allowed:
                    result.duplicates += times - allowed
                    result.problems.append(f"official {user_id}: {agenda} named {times}×")
                else:
                    result.unexpected += times
                    result.problems.append(f"official {user_id}: {agenda} not theirs")
        total = sum(want.values())
        pairs_named = sum(min(times, want.get(a, 0)) for a, times in named.items())
        result.named += pairs_named
        if covered > total:
            result.duplicates += covered - total
            result.problems.append(f"official {user_id}: {covered} notices for {total} cases")
        else:
            result.missing += total - covered
            result.counted_only += covered - pairs_named
    result.complete = result.missing == 0
    return result


# ======================================================================== the bot process


class Child:
    """One bot process against our server; stdout carries READY / REPORT lines."""

    def __init__(self, name: str, api: Any, data: Data, outbox: dict[str, float],
                 workdir: Path, profile_dir: str | None) -> None:
        self.name = name
        self.api = api
        self.data = data
        self.outbox = outbox
        self.log_path = workdir / f"{name}.log"
        self.profile = str(Path(profile_dir) / f"{name}.txt") if profile_dir else None
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}
        self.spawned = 0.0
        self.ready_at = 0.0

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        command = [sys.executable, SCRIPT, "--child",
                   "--db", self.data.db_url, "--sop-dir", str(self.data.sop_dir),
                   "--base-url", self.api.base_url, "--file-url", self.api.base_file_url,
                   "--per-chat", str(self.outbox["per_chat"]),
                   "--rate", str(self.outbox["rate"]), "--poll", str(self.outbox["poll"])]
        if self.profile:
            command += ["--profile", self.profile]
        self.spawned = time.time()
        log = await asyncio.to_thread(self.log_path.open, "ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, env=env, cwd=str(ROOT), limit=64 * 1024 * 1024)
        finally:
            log.close()
        line = await self._read(60.0)
        if not line.startswith("READY "):
            raise RuntimeError(f"{self.name}: bot did not start:\n{self.log_tail()}")
        self.ready_at = time.time()
        self.ready = json.loads(line.removeprefix("READY "))

    async def command(self, text: str, answer: str,
                      timeout: float = 30.0) -> str:  # noqa: ASYNC109
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()
        line = await self._read(timeout)
        if not line.startswith(answer):
            raise RuntimeError(f"{self.name}: {text!r} got {line[:200]!r}\n{self.log_tail()}")
        return line.removeprefix(answer).strip()

    async def report(self) -> dict[str, Any]:
        return dict(json.loads(await self.command("report", "REPORT ")))

    async def _read(self, timeout: float) -> str:  # noqa: ASYNC109
        assert self.proc is not None
        assert self.proc.stdout is not None
        with contextlib.suppress(TimeoutError):
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            return raw.decode().strip()
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
            return await asyncio.wait_for(proc.wait(), 30.0)
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


# ======================================================================== the run


@dataclass
class Results:
    startup: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    by_stage: dict[str, list[float]] = field(default_factory=dict)
    wakes: list[float] = field(default_factory=list)
    early: int = 0
    early_rows: int = 0
    missed: int = 0
    window_events: int = 0
    phase3_messages: int = 0
    phase3_drain_s: float = math.nan
    phase3_discarded: int = 0
    rss: list[tuple[str, float, float, float]] = field(default_factory=list)
    catchup: Account | None = None
    catchup_s: float = math.nan
    catchup_cases: int = 0
    catchup_first_run_s: float = math.nan
    catchup_rows: Counter[str] = field(default_factory=Counter)
    catchup_retries: int = 0
    after_restart_messages: int = -1
    leftover: Counter[str] = field(default_factory=Counter)
    stages_after: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def startup_s(self) -> float:
        clean = [ready["ready_s"] for name, ready, _ in self.startup if name != "catch-up"]
        return max(clean) if clean else math.nan

    @property
    def rss_mb(self) -> float:
        """Peak resident memory (VmHWM) of any bot run: a watcher run blocks the sampler."""
        return max((r[3] for r in self.rss), default=math.nan)

    @property
    def catchup_ok(self) -> bool:
        acc = self.catchup
        return bool(acc is not None and acc.complete and acc.duplicates == 0
                    and acc.unexpected == 0 and self.catchup_s <= TARGET_CATCHUP_S
                    and self.after_restart_messages == 0 and self.catchup_retries == 0
                    and self.catchup_rows == Counter(sent=acc.messages))


def chat_counts(api: Any, data: Data) -> dict[int, int]:
    return {chat: len(api.messages(chat)) for chat, _o, _r in data.officials.values()}


async def wait_for(check: Any, timeout: float, step: float = 0.2) -> bool:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(step)
    return bool(check())


async def phase_lateness(api: Any, data: Data, args: argparse.Namespace, workdir: Path,
                         res: Results) -> None:
    await asyncio.to_thread(arm_window, data, args)
    child = Child("run1-lateness", api, data, FAST_OUTBOX, workdir, args.profile)
    await child.start()
    res.startup.append(("start-up", child.ready, child.ready_at - child.spawned))
    try:
        wait = data.window_end + 3.0 - time.time()
        print(f"  bot up in {child.ready['ready_s']:.2f} s; window opens in "
              f"{data.window_start - time.time():.1f} s, lasts {args.window:g} s ...", flush=True)
        await asyncio.sleep(max(0.0, wait))
        window = set(data.window)
        reminders_due = sum(1 for c in data.window
                            if data.window_start <= ts(data.cases[c].remind) < data.window_end)
        report: dict[str, Any] = {}
        for _ in range(20):
            report = await child.report()
            done = {e[0] for e in report["events"] if e[1] == 0 and e[0] in window}
            if len(done) >= reminders_due:
                break
            await asyncio.sleep(1.0)
        await child.command("sla-off", "OK")
        drained_from = time.monotonic()
        drained = await wait_for(
            lambda: not (set(outbox_counts(data.db_url)) & {"pending", "sending"}),
            args.drain, 0.5)
        res.phase3_drain_s = time.monotonic() - drained_from if drained else math.nan
        report = await child.report()
    finally:
        await child.stop()
    # Whatever this phase could not deliver in time would go out before the catch-up's
    # messages and spoil that measurement: set it aside (reported).
    res.phase3_discarded = await asyncio.to_thread(discard_backlog, data.db_url)
    res.errors += child.error_lines()
    res.rss.append(("lateness (100k cases, bot running)", report["rss_kb"] / 1024,
                    report["rss_max_kb"] / 1024, report["hwm_kb"] / 1024))
    res.wakes = list(report["wakes"])
    names = {1: "reminder", 2: "overdue", 3: "escalated"}
    seen_reminders: set[int] = set()
    for case_id, old, new, due, run_now, commit in report["events"]:
        if case_id not in window or due is None:
            continue
        if not data.window_start <= due < data.window_end:
            continue
        late = commit - due
        res.window_events += 1
        res.lateness.append(late)
        res.by_stage.setdefault(names.get(new, str(new)), []).append(late)
        if late < 0 or run_now < due:
            res.early += 1
        if old == 0:
            seen_reminders.add(case_id)
    res.missed = sum(1 for c in data.window if c not in seen_reminders
                     and data.window_start <= ts(data.cases[c].remind) < data.window_end)
    # The outbox rows themselves: no notice written before its threshold.
    marks = {"notify.sla_reminder": "remind", "notify.sla_overdue": "due",
             "notify.sla_escalated": "escalate"}
    by_agenda = {data.cases[c].agenda: data.cases[c] for c in data.window}
    for row in await asyncio.to_thread(notifications_since, data.db_url, 0):
        created = row.created_at.replace(tzinfo=UTC)
        if row.key in marks and row.case_id in window:
            threshold = getattr(data.cases[row.case_id], marks[row.key])
            res.early_rows += created < threshold
        elif row.key == "notify.sla_digest":
            for item in row.params.get("items", []):
                case = by_agenda.get(str(item).split(" ")[0])
                if case is not None:
                    res.early_rows += created < case.remind
    res.phase3_messages = sum(chat_counts(api, data).values())


async def phase_catchup(api: Any, data: Data, args: argparse.Namespace, workdir: Path,
                        res: Results, texts: Texts) -> None:
    await asyncio.to_thread(settle_window, data)
    chosen = await asyncio.to_thread(make_overdue, data, args.catchup)
    res.catchup_cases = len(chosen)
    expected = expected_notices(data, chosen)
    before = chat_counts(api, data)
    last_row = await asyncio.to_thread(last_notification_id, data.db_url)
    child = Child("run2-catchup", api, data, REAL_OUTBOX, workdir, args.profile)
    await child.start()
    res.startup.append(("catch-up", child.ready, child.ready_at - child.spawned))
    acc = Account()
    try:
        def check() -> bool:
            nonlocal acc
            acc = account(api, texts, data, expected, before)
            return acc.complete

        complete = await wait_for(check, TARGET_CATCHUP_S - (time.time() - child.spawned), 0.1)
        res.catchup_s = time.time() - child.spawned if complete else math.inf
        await asyncio.sleep(3.0)  # anything sent twice would come now
        acc = account(api, texts, data, expected, before)
        report = await child.report()
    finally:
        await child.stop()
    res.errors += child.error_lines()
    res.catchup = acc
    commits = [e[5] for e in report["events"]]
    res.catchup_first_run_s = (max(commits) - child.spawned) if commits else math.nan
    res.rss.append((f"catch-up ({len(chosen)} overdue)", report["rss_kb"] / 1024,
                    report["rss_max_kb"] / 1024, report["hwm_kb"] / 1024))
    rows = await asyncio.to_thread(notifications_since, data.db_url, last_row)
    res.catchup_rows = Counter(row.status for row in rows)
    res.catchup_retries = sum(1 for row in rows if row.attempts != 1)

    # A second restart must find nothing to send.
    before = chat_counts(api, data)
    child = Child("run3-restart", api, data, REAL_OUTBOX, workdir, args.profile)
    await child.start()
    res.startup.append(("second restart", child.ready, child.ready_at - child.spawned))
    try:
        await asyncio.sleep(2 * REAL_OUTBOX["poll"] + 2.0)
        report = await child.report()
    finally:
        await child.stop()
    res.errors += child.error_lines()
    res.rss.append(("second restart", report["rss_kb"] / 1024, report["rss_max_kb"] / 1024,
                    report["hwm_kb"] / 1024))
    after = chat_counts(api, data)
    res.after_restart_messages = sum(after[c] - before.get(c, 0) for c in after)
    res.leftover = await asyncio.to_thread(outbox_counts, data.db_url)
    res.stages_after = await asyncio.to_thread(stages_of, data.db_url, chosen)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(args: argparse.Namespace, data: Data, res: Results, setup_s: float,
           total_s: float) -> None:
    print()
    print(f"== KIM-Bot SLA watcher on SQLite: {args.cases} open cases, "
          f"{len(data.officials)} officials ==")
    print(f"calendar: {data.calendar_mode}")
    print(f"set-up (not measured): {setup_s:.1f} s")
    print()
    print("start-up (build_services incl. migrations + SOP load, PTB app against FakeBotApi, "
          "until the SLA scheduler is armed):")
    for name, ready, wall in res.startup:
        armed = (f"armed for {datetime.fromtimestamp(ready['armed_for'], UTC):%H:%M:%S.%f}"
                 if ready["armed"] and ready["armed_for"] else "nothing left to arm")
        print(f"  {name:15s} services {ready['services_s']:.2f} s, running "
              f"{ready['ready_s']:.2f} s ({armed}); imports {ready['import_s']:.2f} s; "
              f"process spawn → ready {wall:.2f} s")
    print(f"  startup_s = {res.startup_s:.2f} s (worst clean start)   target ≤ "
          f"{TARGET_STARTUP_S:g} s   {verdict(res.startup_s <= TARGET_STARTUP_S)}")
    print()
    lat = res.lateness
    print(f"lateness (commit of the run that handled it − sla_next_at), {res.window_events} "
          f"stage events of {len(data.window)} cases due in a {args.window:g} s window:")
    for name, values in sorted(res.by_stage.items()):
        print(f"  {name:10s} n={len(values):5d}  p50 {pct(values, 50):.3f} s  p99 "
              f"{pct(values, 99):.3f} s  max {max(values):.3f} s")
    if lat:
        print(f"  all        n={len(lat):5d}  p50 {pct(lat, 50):.3f} s  p99 {pct(lat, 99):.3f} s"
              f"  max {max(lat):.3f} s  min {min(lat):.3f} s")
    if res.wakes:
        print(f"  scheduler wake-ups: {len(res.wakes)}, lateness p50 "
              f"{pct(res.wakes, 50) * 1000:.1f} ms p99 {pct(res.wakes, 99) * 1000:.1f} ms "
              f"max {max(res.wakes) * 1000:.1f} ms")
    print(f"  early events: {res.early}, notices written before their threshold: "
          f"{res.early_rows}, reminders never handled: {res.missed}")
    p99 = pct(lat, 99)
    ok = bool(lat) and p99 <= TARGET_P99_S and res.early == 0 and res.early_rows == 0 \
        and res.missed == 0
    print(f"  reminder_p99_s = {p99:.3f} s   target ≤ {TARGET_P99_S:g} s, none early, none "
          f"missed   {verdict(ok)}")
    print(f"  (outbox in this phase: per-chat 0 s, 1000/s; {res.phase3_messages} messages "
          f"delivered, drained {res.phase3_drain_s:.1f} s after the watcher was stopped; "
          f"{res.phase3_discarded} undelivered rows set aside before the catch-up)")
    print()
    print("resident memory of the bot process (VmRSS now / max sampled / VmHWM):")
    for name, now_mb, max_mb, hwm_mb in res.rss:
        print(f"  {name:40s} {now_mb:6.1f} / {max_mb:6.1f} / {hwm_mb:6.1f} MB")
    print(f"  rss_mb = {res.rss_mb:.1f} MB (peak, VmHWM)   target ≤ {TARGET_RSS_MB:g} MB   "
          f"{verdict(res.rss_mb <= TARGET_RSS_MB)}")
    print()
    acc = res.catchup or Account()
    print(f"catch-up after a restart: {res.catchup_cases} cases overdue and escalation-due, "
          f"real limits (30/s, 1 s per chat):")
    print(f"  SLA run committed {res.catchup_first_run_s:.2f} s after the process was spawned")
    print(f"  {acc.messages} messages ({acc.digests} digests) to officials; "
          f"{acc.named + acc.counted_only} (official, case) notices accounted: {acc.named} "
          f"named, {acc.counted_only} only in a digest's count; missing {acc.missing}, "
          f"duplicates {acc.duplicates}, unexpected {acc.unexpected}")
    print(f"  outbox rows written: {dict(res.catchup_rows)} (one per message received), rows "
          f"needing a retry: {res.catchup_retries}")
    print(f"  complete {res.catchup_s:.2f} s after the restart   target ≤ "
          f"{TARGET_CATCHUP_S:g} s")
    print(f"  second restart: {res.after_restart_messages} new messages; outbox now "
          f"{dict(res.leftover)}; stages of the catch-up cases {dict(res.stages_after)}")
    for line in acc.problems[:10]:
        print(f"    {line}")
    print(f"  catchup_ok = {str(res.catchup_ok).lower()}   {verdict(res.catchup_ok)}")
    if res.errors:
        print(f"\nbot error log lines: {len(res.errors)}")
        for line in res.errors[:10]:
            print(f"    {line}")
    print(f"\ntotal {total_s:.1f} s")
    print(summary_line(res))


def summary_line(res: Results) -> str:
    return (f"reminder_p99_s={pct(res.lateness, 99):.3f} startup_s={res.startup_s:.3f} "
            f"rss_mb={res.rss_mb:.1f} catchup_ok={str(res.catchup_ok).lower()}")


async def main(args: argparse.Namespace) -> int:
    from fakebotapi import FakeBotApi

    started = time.perf_counter()
    res = Results()
    texts = Texts()
    with tempfile.TemporaryDirectory(prefix="kimbot-bench-sla-") as tmp:
        workdir = Path(tmp)
        db_url = f"sqlite:///{workdir / 'kimbot.db'}"
        sop_dir, mode = choose_sop_dir(workdir)
        print(f"set-up: {args.cases} cases into {db_url} ...", flush=True)
        data = await asyncio.to_thread(setup, db_url, sop_dir, mode, args)
        setup_s = time.perf_counter() - started
        api = FakeBotApi()
        async with api:
            for chat_id, _office, role in data.officials.values():
                api.register_user({"id": chat_id, "is_bot": False, "first_name": role,
                                   "language_code": "id"})
            try:
                print("phase 1: start-up, lateness, memory ...", flush=True)
                await phase_lateness(api, data, args, workdir, res)
                print("phase 2: catch-up after a restart ...", flush=True)
                await phase_catchup(api, data, args, workdir, res, texts)
            finally:
                if args.keep:
                    keep = Path(args.keep)
                    await asyncio.to_thread(keep.mkdir, parents=True, exist_ok=True)
                    for log in await asyncio.to_thread(lambda: list(workdir.glob("*.log"))):
                        await asyncio.to_thread(shutil.copy, log, keep / log.name)
    report(args, data, res, setup_s, time.perf_counter() - started)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--window-cases", type=int, default=1_500,
                        help="cases whose reminder falls in the measured window")
    parser.add_argument("--window", type=float, default=30.0, help="window length, seconds")
    parser.add_argument("--drain", type=float, default=90.0,
                        help="seconds to let the phase-1 outbox drain")
    parser.add_argument("--lead", type=float, default=12.0,
                        help="seconds from the first start to the window")
    parser.add_argument("--catchup", type=int, default=10_000)
    parser.add_argument("--profile", metavar="DIR", help="pyinstrument each bot run into DIR")
    parser.add_argument("--keep", metavar="DIR", help="copy the bot logs to DIR")
    child = parser.add_argument_group("child process (internal)")
    child.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    child.add_argument("--db", help=argparse.SUPPRESS)
    child.add_argument("--sop-dir", help=argparse.SUPPRESS)
    child.add_argument("--base-url", help=argparse.SUPPRESS)
    child.add_argument("--file-url", help=argparse.SUPPRESS)
    child.add_argument("--per-chat", type=float, default=1.0, help=argparse.SUPPRESS)
    child.add_argument("--rate", type=float, default=30.0, help=argparse.SUPPRESS)
    child.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        asyncio.run(child_bot(arguments))
        sys.exit(0)
    if arguments.profile:
        Path(arguments.profile).mkdir(parents=True, exist_ok=True)
    sys.exit(asyncio.run(main(arguments)))
