"""Two web and two worker processes on one PostgreSQL, with kill -9 of random ones.

Telegram (the fake) posts each update to one of the two web processes and retries on
another until a 2xx answer; members submit requests and officials work them through all
eight Lumajang steps while processes are killed and restarted. Afterwards: every confirmed
submission has its case, agenda numbers are unique and gap-free, no transition is doubled,
every notification was delivered, and each person's updates were handled in order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.db import Database
from bot.models import AuditEntry, Case, Dialog, Notification, ProcessedUpdate, User
from fakebotapi import FakeBotApi, FakeUser, SentMessage
from tests.support.kimbot import PDF, KimBot
from tests.support.processes import BotProcess

pytestmark = pytest.mark.postgres

MEMBERS = 8
KILLS = 4
SERVICE = "s lmj-layanan-kim"
HOLDERS = {1: "staf", 2: "staf", 3: "kadis", 4: "staf", 5: "staf", 6: "kabid", 7: "staf",
           8: "kasi"}
NOTES = {"dispo": "Tindak lanjuti segera.", "lanjut": "Laksanakan peliputan."}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
       b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
       b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


class Script:
    """People who post updates without waiting for answers (an answer may die with a
    killed process; the update itself is retried by Telegram until handled)."""

    def __init__(self, api: FakeBotApi, db: Database) -> None:
        self.api, self.db = api, db
        self.sent: dict[int, list[int]] = defaultdict(list)  # user id → update ids in order
        self.trace: list[str] = []  # what the officials pressed and saw (shown on failure)

    def push(self, user: FakeUser, update: dict[str, Any]) -> None:
        self.sent[user.user_id].append(int(update["update_id"]))

    def text(self, user: FakeUser, text: str, **kwargs: Any) -> None:
        self.push(user, self.api.push_message(user.user, text, **kwargs))

    def press(self, user: FakeUser, data: str) -> None:
        message = user.last_message
        assert message is not None
        self.push(user, self.api.push_callback(user.user, message, data))

    async def settled(self, user: FakeUser, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Until every update of `user` was answered 2xx."""
        await self.api.all_delivered(user.user_id, timeout)

    def dialog(self, user: FakeUser) -> Dialog | None:
        with self.db.session() as session:
            found = session.exec(select(User).where(
                User.external_id == str(user.user_id))).first()
            return session.get(Dialog, found.id) if found is not None else None

    async def submit(self, member: FakeUser, n: int) -> None:
        self.text(member, "/permohonan")
        self.press(member, SERVICE)
        self.text(member, f"Mohon peliputan kegiatan KIM nomor {n}.")
        self.push(member, self.api.push_message(member.user, photo=PNG))
        self.push(member, self.api.push_message(
            member.user, document=("surat_tugas.pdf", PDF, "application/pdf")))
        await self.settled(member)
        dialog = self.dialog(member)
        assert dialog is not None
        assert dialog.state == "req_confirm", dialog.state
        self.press(member, f"r send {dialog.data['draft']}")
        await self.settled(member)

    def outbox(self) -> list[tuple[Any, ...]]:
        with self.db.session() as session:
            return [(n.id, n.key, n.case_id, n.case_version, n.status, n.attempts, n.last_error)
                    for n in session.exec(select(Notification).where(
                        Notification.status != "sent"))]

    def open_cases(self) -> dict[int, tuple[int, int]]:
        """case id → (version, step) of the open cases."""
        with self.db.session() as session:
            rows = session.exec(select(Case.id, Case.version, Case.step_no)
                                .where(Case.status == "open"))
            return {int(i): (v, s) for i, v, s in rows}

    async def work(self, official: FakeUser, role: str, done: asyncio.Event) -> None:
        """Act on each task notification that is still current, until all are finished.

        Only buttons on screen are pressed, as in Telegram. When a note prompt does not come
        (its web process was killed after the commit: the redelivered press is a replay and
        answers nothing), the task's button is pressed again, as a person would."""
        acted: set[tuple[int, int]] = set()
        while not done.is_set():
            current = self.open_cases()
            pressed = False
            for message in list(official.messages):
                data = first_button(message)
                if not data.startswith("a "):
                    continue
                _verb, case_id, version, action = data.split()
                key = (int(case_id), int(version))
                state = current.get(key[0])
                if key in acted or state is None or state[0] != key[1]:
                    continue
                if HOLDERS.get(state[1]) != role:
                    continue
                acted.add(key)
                seen = len(official.messages)
                self.push(official, self.api.push_callback(official.user, message, data))
                await self.settled(official)
                dialog = self.dialog(official)
                prompt = next((m for m in official.messages[seen:]
                               if first_button(m) in ("n skip", "n cancel")), None)
                self.trace.append(f"{role} {data} -> {dialog.state if dialog else None}, "
                                  f"prompt {'shown' if prompt else 'missing'}")
                if dialog is not None and dialog.state == "note":
                    if prompt is None:
                        acted.discard(key)  # press the task again
                    elif action in NOTES:
                        self.text(official, NOTES[action])
                    else:
                        self.push(official, self.api.push_callback(
                            official.user, prompt, "n skip"))
                    await self.settled(official)
                pressed = True
                break
            if not pressed:
                await asyncio.sleep(0.1)


def first_button(message: SentMessage) -> str:
    """The callback data of the message's first button ("" without buttons)."""
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return str(rows[0][0].get("callback_data", "")) if rows and rows[0] else ""


def later() -> datetime:
    """A minute from now: what is due before is due in this test."""
    return datetime.now(UTC) + timedelta(minutes=1)


async def chaos(processes: list[BotProcess], kills: int, log: list[str]) -> None:
    """kill -9 random processes (at least one web and one worker; never the last running
    one of a role) while the load runs; each is restarted a moment later."""
    roles = ["web", "worker"] + [random.choice(["web", "worker"]) for _ in range(kills - 2)]
    random.shuffle(roles)
    restarts: list[asyncio.Task[None]] = []

    async def restart(victim: BotProcess) -> None:
        await asyncio.sleep(random.uniform(0.2, 1.0))
        await victim.start()

    for role in roles:
        await asyncio.sleep(random.uniform(0.3, 1.2))
        while True:
            alive = [p for p in processes if p.role == role and p.ready]
            if len(alive) > 1:
                break
            await asyncio.sleep(0.1)
        victim = random.choice(alive)
        await victim.kill()
        log.append(f"{victim.name}@{time.monotonic():.1f}")
        restarts.append(asyncio.create_task(restart(victim)))
    await asyncio.gather(*restarts)


async def test_two_web_and_two_worker_processes_survive_kill_9(
        api: FakeBotApi, pg_url: str, tmp_path: Path) -> None:
    lease = {"KIMBOT_OUTBOX_LEASE": 3}  # a killed worker's claims go out again after 3 s
    processes = [BotProcess(api, pg_url, role, tmp_path, f"{role}{i}", **lease)
                 for role in ("web", "worker") for i in (1, 2)]
    # All four start at once on the empty database: the migration runs once.
    await asyncio.gather(*(p.start() for p in processes))
    api.webhooks.targets = [p.webhook for p in processes if p.role == "web"]
    db = Database(pg_url)
    people = KimBot(api, pg_url)
    killed: list[str] = []
    done = asyncio.Event()
    try:
        officials = {role: await people.official(role.title(), role)
                     for role in ("staf", "kadis", "kabid", "kasi")}
        members = [await people.member(f"Anggota {n}") for n in range(MEMBERS)]
        script = Script(api, db)
        workers = [asyncio.create_task(script.work(user, role, done))
                   for role, user in officials.items()]
        killing = asyncio.create_task(chaos(processes, KILLS, killed))
        await asyncio.gather(*(script.submit(m, n) for n, m in enumerate(members)))

        def finished() -> bool:
            with db.session() as session:
                return session.exec(select(func.count()).select_from(Case).where(
                    Case.status != "open")).one() == MEMBERS

        def stuck() -> str:
            dialogs = {role: (d.state, d.data) if (d := script.dialog(user)) else None
                       for role, user in officials.items()}
            return (f"open cases: {script.open_cases()}\nunsent: {script.outbox()}\n"
                    f"dialogs: {dialogs}\nkilled: {killed}\npresses: {script.trace}\n"
                    f"{api.dump_chat(officials['staf'].chat_id, 12)}")

        waiting = asyncio.create_task(api.wait_until(finished, timeout=60, message=stuck))
        # Until all are finished; a failing official's script fails the test at once.
        while not waiting.done():
            await asyncio.wait([waiting, *workers], return_when=asyncio.FIRST_COMPLETED)
            for task in workers:
                if task.done():
                    waiting.cancel()
                    task.result()
        waiting.result()
        done.set()
        await asyncio.gather(*workers)
        await killing
        # Quiet again: every notification goes out (a killed worker's after its lease).
        def delivered() -> bool:
            with db.session() as session:
                return not session.exec(select(Notification.id).where(
                    Notification.status.in_(["sending", "pending"]))  # type: ignore[attr-defined]
                    .where(Notification.next_attempt_at <= later())).first()

        await api.wait_until(delivered, timeout=20,
                             message=lambda: f"outbox not delivered (killed: {killed})")
    finally:
        done.set()
        codes = list(await asyncio.gather(*(p.terminate() for p in processes)))
        db.dispose()  # a failure leaves no pooled connection open (later reads reconnect)
    assert len(killed) == KILLS, killed
    assert codes == [0, 0, 0, 0]

    with db.session() as session:
        cases = session.exec(select(Case)).all()
        trail = session.exec(select(AuditEntry)).all()
        notes = session.exec(select(Notification)).all()
        marks = {m.key: m.at for m in session.exec(select(ProcessedUpdate))}
        chats = {u.id: u.chat_id for u in session.exec(select(User))}
    db.dispose()
    # Every confirmed submission has its case, numbered 1..N without gaps or repeats.
    assert len(cases) == MEMBERS
    assert sorted(c.agenda_seq for c in cases) == list(range(1, MEMBERS + 1))
    assert len({(c.office, c.agenda_year, c.agenda_seq) for c in cases}) == MEMBERS
    # No transition doubled: the submission line and one line per step, each once
    per_case: dict[int, list[int]] = defaultdict(list)
    for entry in trail:
        per_case[entry.case_id].append(entry.step_no)
    for case in cases:
        assert case.finished_at is not None
        # (the submission is written at step 1, then one line for each step's action)
        assert sorted(per_case[case.id or 0]) == [1, 1, 2, 3, 4, 5, 6, 7, 8], per_case[case.id]
    # Each notification arrived in its recipient's chat (at least once); only the survey
    # invitations wait (for office hours).
    for row in notes:
        if row.status == "pending":
            assert row.key == "notify.survey_invite", row.key
            continue
        assert row.status == "sent", (row.key, row.status, row.last_error)
        assert api.messages(int(chats[row.recipient_id] or 0))
    # Each person's updates were handled once each, in the order they were sent.
    for updates in script.sent.values():
        handled = [marks[f"tg:{u}"] for u in updates]
        assert handled == sorted(handled)
