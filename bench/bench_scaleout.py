"""Scale-out: the workflow load through Telegram webhooks with 1 web process, then 2.

    .venv/bin/python bench/bench_scaleout.py [--members 120] [--db postgresql+psycopg://…]

PostgreSQL only (KIMBOT_TEST_DATABASE_URL or --db; each phase gets a fresh schema). One
FakeBotApi in this process plays Telegram: it POSTs every update to the web processes
(round robin, up to 40 requests in flight, each person's next update only after their
previous one was answered 2xx — as Telegram does) and plays the people. Each phase runs
`kimbot run --role web` ×N and one `--role worker` as child processes.

The load: members register (7 updates), start a request, choose the service, write its
purpose, send a photo and a document, and press Kirim (6 more); the worker delivers the
staff's task notifications. An update counts when its webhook POST is answered 2xx, which
happens after its transaction committed and its reply was sent. `ups` = updates / seconds
from the first push to the last 2xx (phases alternate for --rounds; the best of each
configuration counts, as other load on the machine only slows a phase down); `p99_ms` =
99th percentile of the POST round trip.
Afterwards the database is checked: `lost` = updates without their replay mark, `duplicates`
= extra cases or second 2xx answers, `order_violations` = a person's updates whose handling
order differs from the order they were sent in. Last line:

    ups_1=… ups_2=… speedup=… p99_ms_2=… lost=0 duplicates=0 order_violations=0

CPU seconds of each process are printed per phase: on a 2-core machine where this process
(Telegram + people) and PostgreSQL share the cores with the bot, the machine may be the
ceiling, not the design.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.db import Database  # noqa: E402
from bot.models import Case, Dialog, ProcessedUpdate, User  # noqa: E402
from fakebotapi import TINY_PNG, FakeBotApi  # noqa: E402
from tests.support.db import postgres_schema  # noqa: E402
from tests.support.processes import BotProcess  # noqa: E402

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
FIRST_MEMBER = 300_001
SERVICE = "s lmj-layanan-kim"
STAFF = 9101


@dataclass
class Phase:
    webs: int
    updates: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    duplicates: int = 0
    order_violations: int = 0
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def ups(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000 if ordered else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of every postgres process (the database's share of the machine)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip().startswith("postgres"):
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


class People:
    """Members who post without waiting for answers; Telegram keeps each one's order."""

    def __init__(self, api: FakeBotApi, db: Database, first_id: int) -> None:
        self.api, self.db, self.next_id = api, db, first_id
        self.sent: dict[int, list[int]] = defaultdict(list)

    def _push(self, user_id: int, update: dict[str, Any]) -> None:
        self.sent[user_id].append(int(update["update_id"]))

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"Anggota {user_id}",
                "language_code": "id"}

    def _press(self, user_id: int, data: str) -> None:
        chat = self.api.messages(user_id)
        message = chat[-1] if chat else None
        if message is None:
            return
        self._push(user_id, self.api.push_callback(self._user(user_id), message, data))

    async def settled(self, user_id: int) -> None:
        await self.api.all_delivered(user_id, timeout=120)

    async def member(self) -> None:
        user_id = self.next_id
        self.next_id += 1
        user = self._user(user_id)
        for text in ("/start", f"Anggota {user_id}", "KIM Sumber Makmur", "Desa Tempeh Tengah",
                     "Kecamatan Tempeh"):
            self._push(user_id, self.api.push_message(user, text))
        self._push(user_id, self.api.push_message(user, contact={
            "phone_number": "+6281234567890", "first_name": user["first_name"],
            "user_id": user_id}))
        await self.settled(user_id)
        self._press(user_id, "o lumajang")
        self._push(user_id, self.api.push_message(user, "/permohonan"))
        await self.settled(user_id)
        self._press(user_id, SERVICE)
        self._push(user_id, self.api.push_message(user, f"Mohon peliputan {user_id}."))
        self._push(user_id, self.api.push_message(user, photo=TINY_PNG))
        self._push(user_id, self.api.push_message(
            user, document=("surat_tugas.pdf", PDF, "application/pdf")))
        await self.settled(user_id)
        nonce = self._draft(user_id)
        if nonce:
            self._press(user_id, f"r send {nonce}")
            await self.settled(user_id)

    def _draft(self, user_id: int) -> str:
        with self.db.session() as session:
            user = session.exec(select(User).where(User.external_id == str(user_id))).first()
            dialog = session.get(Dialog, user.id) if user is not None else None
        return str(dialog.data.get("draft", "")) if dialog is not None else ""


def check(phase: Phase, db: Database, people: People, api: FakeBotApi) -> None:
    """Lost, doubled and out-of-order updates, from the database and Telegram's side."""
    with db.session() as session:
        marks = {m.key: m.at for m in session.exec(select(ProcessedUpdate))}
        cases = session.exec(select(Case.requester_id, func.count()).group_by(
            Case.requester_id)).all()
    for updates in people.sent.values():
        handled = [marks.get(f"tg:{u}") for u in updates]
        phase.lost += sum(1 for at in handled if at is None)
        known = [at for at in handled if at is not None]
        phase.order_violations += sum(1 for a, b in pairwise(known) if b < a)
    phase.duplicates += sum(n - 1 for _requester, n in cases if n > 1)
    answers = api.webhooks.pushed.answers
    phase.duplicates += sum(1 for statuses in answers.values()
                            if sum(1 for s in statuses if 200 <= s < 300) > 1)


async def run_phase(base_url: str, webs: int, members: int, workdir: Path) -> Phase:
    phase = Phase(webs)
    with postgres_schema(base_url) as url:
        db = Database(url)
        db.migrate()
        async with FakeBotApi() as api:
            env = {"KIMBOT_OUTBOX_POLL": "0.5", "KIMBOT_LOG_LEVEL": "WARNING"}
            procs = [BotProcess(api, url, "web", workdir, f"web{webs}-{i}", **env)
                     for i in range(webs)]
            procs.append(BotProcess(api, url, "worker", workdir, f"worker{webs}", **env))
            await asyncio.gather(*(p.start() for p in procs))
            api.webhooks.targets = [p.webhook for p in procs if p.role == "web"]
            people = People(api, db, FIRST_MEMBER)
            await asyncio.gather(*(people.member() for _ in range(4)))  # warm-up
            api.webhooks.pushed.latency_s.clear()
            before = {p.name: cpu_seconds(p.proc.pid) for p in procs if p.proc is not None}
            pg_before, own_before = postgres_cpu(), sum(os.times()[:2])
            began = time.monotonic()
            counted = sum(len(v) for v in people.sent.values())
            await asyncio.gather(*(people.member() for _ in range(members)))
            phase.seconds = time.monotonic() - began
            phase.updates = sum(len(v) for v in people.sent.values()) - counted
            phase.latencies = list(api.webhooks.pushed.latency_s.values())
            phase.cpu = {p.name: cpu_seconds(p.proc.pid) - before[p.name]
                         for p in procs if p.proc is not None}
            phase.cpu["postgres"] = postgres_cpu() - pg_before
            phase.cpu["telegram+people"] = sum(os.times()[:2]) - own_before
            await asyncio.gather(*(p.terminate() for p in procs))
            check(phase, db, people, api)
        db.dispose()
    return phase


def describe(phase: Phase) -> str:
    cpu = " ".join(f"{name}={seconds:.1f}s" for name, seconds in phase.cpu.items())
    return (f"{phase.webs} web + 1 worker: {phase.updates} updates in {phase.seconds:.1f} s = "
            f"{phase.ups:.1f} ups, p99 {phase.p99_ms():.0f} ms; CPU {cpu} "
            f"(of {phase.seconds * (os.cpu_count() or 1):.1f} s on {os.cpu_count()} cores)")


async def main(args: argparse.Namespace) -> int:
    base = args.db or os.environ.get("KIMBOT_TEST_DATABASE_URL")
    if not base:
        print("PostgreSQL needed: --db or KIMBOT_TEST_DATABASE_URL", file=sys.stderr)
        return 2
    ones: list[Phase] = []
    twos: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="kimbot-scaleout-") as tmp:
        for _round in range(args.rounds):  # alternated: a busy moment hits both
            ones.append(await run_phase(base, 1, args.members, Path(tmp)))
            print(describe(ones[-1]), flush=True)
            twos.append(await run_phase(base, 2, args.members, Path(tmp)))
            print(describe(twos[-1]), flush=True)
    # The best round of each: other load on the machine only ever slows a round down.
    one = max(ones, key=lambda p: p.ups)
    two = max(twos, key=lambda p: p.ups)
    everything = ones + twos
    lost = sum(p.lost for p in everything)
    duplicates = sum(p.duplicates for p in everything)
    order = sum(p.order_violations for p in everything)
    speedup = two.ups / one.ups if one.ups else 0.0
    print(f"ups_1={one.ups:.1f} ups_2={two.ups:.1f} speedup={speedup:.2f} "
          f"p99_ms_2={two.p99_ms():.0f} lost={lost} duplicates={duplicates} "
          f"order_violations={order}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=120,
                        help="members per phase, each 13 updates (default 120)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="1-web and 2-web phases, alternated; the best of each counts")
    parser.add_argument("--db", help="PostgreSQL URL (default: KIMBOT_TEST_DATABASE_URL)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
