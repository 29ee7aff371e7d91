"""Broadcast (/siaran) to 10,000 members: paced rate, ceiling rate, replies meanwhile, crash.

    .venv/bin/python bench/bench_broadcast.py [--members 10000 --window 20 --askers 20]

One FakeBotApi serves on 127.0.0.1 in this process, which also plays the admin and the
members who ask /status meanwhile. The bot runs in a child process (this script with
``--child``), wired as in production (`build_services` → `build_application` → `running`),
on a SQLite file in a temp dir. Phases:

1. **Limited** (KIMBOT_GLOBAL_RATE=30, KIMBOT_PER_CHAT_INTERVAL=1): the admin broadcasts to
   every member through the real dialog; the delivery rate is measured at the server over
   `--window` seconds after a 2 s warm-up; then the admin presses "Batalkan".
2. **Lifted** (rate 10,000/s, per chat 0): a second broadcast to everyone. The rate is
   measured from the first delivery until the bot process is killed with SIGKILL once half
   the members have it.
3. **Restart**: the same bot again; it resumes broadcast 2 by itself. At the end every
   member's deliveries are counted at the server: duplicates and skipped recipients.

All along, `--askers` members send /status (one at a time each, `--ask-every` s apart) and
the time to the bot's reply is recorded. See bench/README.md. Last line:

    limited_rate=… ceiling_rate=… interactive_p99_ms=… duplicates=… skipped=…
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fakebotapi import FakeBotApi, SentMessage  # noqa: E402

SCRIPT = str(Path(__file__).resolve())
TOKEN = "333333:BROADCAST-BENCH"
ADMIN_ID = 9000
FIRST_MEMBER_ID = 200_001
DISTRICTS = [f"Kecamatan {n}" for n in ("Tempeh", "Pasirian", "Candipuro", "Pronojiwo",
                                         "Tempursari", "Kunir", "Yosowilangun", "Rowokangkung",
                                         "Jatiroto", "Randuagung")]
LIMITED = {"KIMBOT_GLOBAL_RATE": 30, "KIMBOT_PER_CHAT_INTERVAL": 1, "KIMBOT_OUTBOX_POLL": 0.2}
LIFTED = {"KIMBOT_GLOBAL_RATE": 10_000, "KIMBOT_PER_CHAT_INTERVAL": 0,
          "KIMBOT_OUTBOX_POLL": 0.2}


# ======================================================================== the bot process


async def child(args: argparse.Namespace) -> None:
    from bot.services import build_services
    from bot.settings import Settings
    from handlers.telegram.app import build_application, running

    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": args.db,
        "KIMBOT_ADMIN_IDS": str(ADMIN_ID), "KIMBOT_TELEGRAM_BASE_URL": args.base_url,
        "KIMBOT_TELEGRAM_FILE_URL": args.file_url,
        **(LIFTED if args.lifted else LIMITED),
    }
    svc = build_services(Settings(_env_file=None, **values))  # type: ignore[call-arg]
    try:
        async with running(build_application(svc)):
            print("READY", flush=True)
            while (await asyncio.to_thread(sys.stdin.readline)).strip() not in ("stop", ""):
                pass
    finally:
        svc.db.dispose()


class Child:
    def __init__(self, api: FakeBotApi, db_url: str, workdir: Path, name: str) -> None:
        self.api, self.db_url, self.name = api, db_url, name
        self.log_path = workdir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, *, lifted: bool) -> None:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        command = [sys.executable, SCRIPT, "--child", "--db", self.db_url,
                   "--base-url", self.api.base_url, "--file-url", self.api.base_file_url]
        if lifted:
            command.append("--lifted")
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, env=env, cwd=str(ROOT))
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if line.decode().strip() != "READY":
            raise RuntimeError(f"bot did not start:\n{self.log_tail()}")

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.write(b"stop\n")
                await proc.stdin.drain()
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or an OOM kill."""
        proc, self.proc = self.proc, None
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def errors(self) -> list[str]:
        """Error lines of the log; a traceback whole: the record that logged it (any level)
        down to the exception it ends in."""
        if not self.log_path.exists():
            return []
        found: list[str] = []
        lines = self.log_path.read_text(errors="replace").splitlines()
        for n, line in enumerate(lines):
            if "Traceback" in line:
                block = lines[max(0, n - 1):n + 1]
                for more in lines[n + 1:]:
                    block.append(more)
                    if more and not more[0].isspace():
                        break  # the exception line ends the traceback
                found.append("\n".join(block))
            elif "ERROR" in line:
                found.append(line)
        return found


# ======================================================================== the server side


class BenchApi(FakeBotApi):
    """Records each broadcast delivery and each reply to an asker as the server makes it."""

    def __init__(self) -> None:
        super().__init__()
        self.markers: dict[str, int] = {}  # announcement text → broadcast number
        self.delivered: dict[int, Counter[int]] = {}  # broadcast → chat → deliveries
        self.times: dict[int, list[float]] = {}
        self.totals: Counter[int] = Counter()
        self.waiting: dict[int, tuple[float, asyncio.Future[float]]] = {}  # asker chat

    def _new_message(self, chat_id: int, **kwargs: Any) -> SentMessage:
        msg = super()._new_message(chat_id, **kwargs)
        now = time.monotonic()
        number = self.markers.get(msg.text or "")
        if number is not None:
            self.delivered.setdefault(number, Counter())[chat_id] += 1
            self.totals[number] += 1
            self.times.setdefault(number, []).append(now)
        else:
            waiting = self.waiting.pop(chat_id, None)
            if waiting is not None and not waiting[1].done():
                waiting[1].set_result(now - waiting[0])
        return msg

    def count(self, number: int) -> int:
        return self.totals[number]


class Askers:
    """Members who send /status now and then; the time to the bot's reply is recorded."""

    def __init__(self, api: BenchApi, ids: list[int], every: float) -> None:
        self.api, self.ids, self.every = api, ids, every
        self.latencies: list[float] = []
        self.lost = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.latencies = []
        self._tasks = [asyncio.create_task(self._ask(i)) for i in self.ids]

    async def stop(self) -> list[float]:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.api.waiting.clear()
        return self.latencies

    async def _ask(self, user_id: int) -> None:
        user = {"id": user_id, "is_bot": False, "first_name": f"Anggota {user_id}",
                "language_code": "id"}
        await asyncio.sleep(random.uniform(0, self.every))
        while True:
            future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self.api.waiting[user_id] = (time.monotonic(), future)
            self.api.push_message(user, "/status")
            try:
                self.latencies.append(await asyncio.wait_for(future, 10))
            except TimeoutError:
                self.lost += 1
            await asyncio.sleep(self.every)


class Admin:
    """The admin going through /siaran by pushing updates (no waiting for silence)."""

    def __init__(self, api: BenchApi) -> None:
        self.api = api
        self.user = {"id": ADMIN_ID, "is_bot": False, "first_name": "Admin",
                     "language_code": "id"}
        api.register_user(self.user)

    def messages(self) -> list[SentMessage]:
        return self.api.messages(ADMIN_ID)

    async def _after(self, push: Any, predicate: Any, what: str) -> None:
        before = len(self.messages())
        push()
        await self.api.wait_until(lambda: predicate(self.messages()[before:]), 60,
                                  message=lambda: f"admin: no {what}\n"
                                  + self.api.dump_chat(ADMIN_ID))

    def _button(self, label: str) -> tuple[SentMessage, str]:
        for message in reversed(self.messages()):
            for row in message.buttons():
                for text, data in row:
                    if label in text and data:
                        return message, data
        raise AssertionError(f"no button {label!r}\n{self.api.dump_chat(ADMIN_ID)}")

    def _click(self, label: str) -> Any:
        message, data = self._button(label)
        return lambda: self.api.push_callback(self.user, message, data)

    async def broadcast(self, text: str) -> None:
        await self._after(lambda: self.api.push_message(self.user, "/siaran"), bool, "prompt")
        await self._after(lambda: self.api.push_message(self.user, text), bool, "audience menu")
        await self._after(self._click("Semua anggota"),
                          lambda new: any("Kirim sekarang?" in m.content for m in new), "preview")
        await self._after(self._click("Kirim ke"),
                          lambda new: any(m.content.startswith("📢 Siaran #") for m in new),
                          "progress message")

    async def stop_broadcast(self) -> None:
        message, data = self._button("Batalkan siaran")
        await self._after(lambda: self.api.push_callback(self.user, message, data),
                          lambda new: any(m.content.startswith("📊") for m in new), "report")

    def report(self, number: int) -> str | None:
        for message in reversed(self.messages()):
            if message.content.startswith(f"📊 Laporan siaran #{number}"):
                return message.content
        return None

    def progress(self, number: int) -> SentMessage | None:
        for message in self.messages():
            if message.content.startswith(("📢 Siaran #", "⏹ Siaran #")) and (
                    f"#{number} " in message.content):
                return message
        return None


# ======================================================================== set-up


def prepare(db_url: str, members: int) -> None:
    """Migrations, then the admin and `members` registered members, bulk-inserted."""
    from sqlalchemy import insert

    from bot.db import Database
    from bot.models import User

    db = Database(db_url)
    db.migrate()
    now = time.time()
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(now, UTC)
    admin = {"channel": "telegram", "external_id": str(ADMIN_ID), "chat_id": str(ADMIN_ID),
             "display_name": "Admin", "active": True, "subscribed": True, "created_at": at}
    rows = []
    for n in range(members):
        ident = FIRST_MEMBER_ID + n
        rows.append({
            "channel": "telegram", "external_id": str(ident), "chat_id": str(ident),
            "display_name": f"Anggota {ident}", "full_name": f"Anggota {ident}",
            "kim_group": f"KIM {n % 50:02d}", "village": f"Desa {n % 200}",
            "district": DISTRICTS[n % len(DISTRICTS)], "phone": "081234567890",
            "office": "lumajang", "registered_at": at, "active": True, "subscribed": True,
            "created_at": at})
    with db.engine.begin() as connection:
        connection.execute(insert(User), [admin])
        connection.execute(insert(User), rows)  # executemany: every row has the same keys
    db.dispose()


def deliveries_by_status(db_url: str, number: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from bot.db import Database
    from bot.models import BroadcastDelivery

    db = Database(db_url)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(
                select(BroadcastDelivery.status, func.count())
                .where(BroadcastDelivery.broadcast_id == number)
                .group_by(BroadcastDelivery.status)).all()
        return {str(status): int(n) for status, n in rows}
    finally:
        db.dispose()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rate_between(times: list[float], start: float, end: float) -> float:
    return sum(1 for t in times if start <= t < end) / max(1e-9, end - start)


# ======================================================================== the run


async def main(args: argparse.Namespace) -> int:
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="kimbot-bench-broadcast-"))
    db_url = f"sqlite:///{workdir / 'kimbot.db'}"
    print(f"# set-up: {args.members} members in {workdir}")
    prepare(db_url, args.members)
    members = list(range(FIRST_MEMBER_ID, FIRST_MEMBER_ID + args.members))
    first = "Pengumuman uji 1: kerja bakti serentak Minggu pagi. (bench)"
    second = "Pengumuman uji 2: vaksinasi gratis di puskesmas kecamatan. (bench)"
    load = os.getloadavg()[0]

    async with BenchApi() as api:
        api.markers = {first: 1, second: 2}
        admin = Admin(api)
        askers = Askers(api, members[:args.askers], args.ask_every)

        # -- phase 1: the limit at 30/s ---------------------------------------------------
        bot = Child(api, db_url, workdir, "limited")
        await bot.start(lifted=False)
        await admin.broadcast(first)
        askers.start()
        await api.wait_until(lambda: api.count(1) > 0, 30)
        start = api.times[1][0] + 2.0
        await asyncio.sleep(max(0.0, start + args.window - time.monotonic()))
        limited_rate = rate_between(api.times[1], start, start + args.window)
        limited_lat = await askers.stop()
        await admin.stop_broadcast()
        stopped = api.count(1)
        await bot.stop()
        per_second = Counter(int(t - api.times[1][0]) for t in api.times[1])
        print(f"phase 1 (limit 30/s, 1 s per chat): {limited_rate:.2f} msg/s over "
              f"{args.window:.0f} s after a 2 s warm-up; busiest second "
              f"{max(per_second.values())}; {stopped} delivered before 'Batalkan'")
        print(f"  /status replies meanwhile: n={len(limited_lat)} p50="
              f"{percentile(limited_lat, 50) * 1000:.1f} ms p99="
              f"{percentile(limited_lat, 99) * 1000:.1f} ms max="
              f"{max(limited_lat, default=float('nan')) * 1000:.1f} ms, lost {askers.lost}")
        print(f"  report: {(admin.report(1) or '(none)').splitlines()[1:5]}")

        # -- phase 2: the limit lifted, killed half-way -----------------------------------
        bot = Child(api, db_url, workdir, "lifted")
        await bot.start(lifted=True)
        askers.lost = 0
        await admin.broadcast(second)
        askers.start()
        half = args.members // 2
        await api.wait_until(lambda: api.count(2) >= half, 120)
        killed_at = time.monotonic()
        await bot.kill()
        ceiling_lat = await askers.stop()
        times = api.times[2]
        ceiling_start = times[0] + 1.0
        ceiling_rate = rate_between(times, ceiling_start, killed_at)
        at_kill = deliveries_by_status(db_url, 2)
        print(f"phase 2 (limit lifted): {ceiling_rate:.0f} msg/s from 1 s after the first "
              f"delivery to the SIGKILL ({api.count(2)} delivered at the server by then)")
        print(f"  /status replies meanwhile: n={len(ceiling_lat)} p50="
              f"{percentile(ceiling_lat, 50) * 1000:.1f} ms p99="
              f"{percentile(ceiling_lat, 99) * 1000:.1f} ms, lost {askers.lost}")
        print(f"  rows left by the killed process: {at_kill}")

        # -- phase 3: restart, resume ------------------------------------------------------
        restarted_at = time.monotonic()
        bot = Child(api, db_url, workdir, "restarted")
        await bot.start(lifted=True)
        await api.wait_until(lambda: admin.report(2) is not None, 120,
                             message=lambda: api.dump_chat(ADMIN_ID))
        resumed_s = time.monotonic() - restarted_at
        progress = admin.progress(2)
        await bot.stop()
        counts = {m: api.delivered[2].get(m, 0) for m in members}  # not the admin's preview
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        skipped = sum(1 for n in counts.values() if n == 0)
        final = deliveries_by_status(db_url, 2)
        after_restart = [t for t in times if t > restarted_at]
        resumed_rate = (len(after_restart) / (after_restart[-1] - after_restart[0])
                        if len(after_restart) > 1 else float("nan"))
        print(f"phase 3 (restart): finished {resumed_s:.1f} s after the restart, "
              f"{len(after_restart)} sent after it at {resumed_rate:.0f} msg/s")
        reached = sum(1 for n in counts.values() if n)
        print(f"  at the server: {reached} of {len(members)} members reached, "
              f"duplicates={duplicates}, "
              f"skipped={skipped}; delivery rows: {final}")
        print(f"  progress message edited {progress.edited_count if progress else 0} times; "
              f"report: {(admin.report(2) or '(none)').splitlines()[1:5]}")
        errors = [line for name in ("limited", "lifted", "restarted")
                  for line in Child(api, db_url, workdir, name).errors()]
        print(f"  errors in the bot logs: {len(errors)}" + "".join(
            f"\n    {line}" for line in errors[:5]))

    p99 = percentile(limited_lat, 99) * 1000
    print(f"# load average at start {load:.2f}; {os.cpu_count()} CPUs; "
          f"total {time.monotonic() - began:.0f} s; "
          f"median /status (limited) {statistics.median(limited_lat) * 1000:.1f} ms")
    checks = [("limited_rate >= 28.5", limited_rate >= 0.95 * 30),
              ("ceiling_rate >= 300", ceiling_rate >= 300),
              ("duplicates == 0", duplicates == 0), ("skipped == 0", skipped == 0)]
    print("# " + "  ".join(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in checks))
    print(f"limited_rate={limited_rate:.2f} ceiling_rate={ceiling_rate:.0f} "
          f"interactive_p99_ms={p99:.1f} duplicates={duplicates} skipped={skipped}")
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--askers", type=int, default=20)
    parser.add_argument("--ask-every", type=float, default=2.0,
                        help="seconds each asker waits between two /status")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lifted", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--file-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    if arguments.child:
        asyncio.run(child(arguments))
    else:
        sys.exit(asyncio.run(main(arguments)))
