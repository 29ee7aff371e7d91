"""Issue 12 through Telegram (the real PTB app against the fake Bot API): the holes whose
answer depends on the adapter (captions, group chats, forged updates)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import select

from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import KimBot, text


def _data(user: FakeUser, message: SentMessage, label: str) -> str:
    for row in user.buttons(message):
        for text_, data in row:
            if label in text_ and data is not None:
                return data
    raise AssertionError(f"no button {label!r} on {message.describe()}")


async def test_hole_5_a_forged_action_on_the_tasks_document_message_is_answered_once(
    kimbot: KimBot,
) -> None:
    """The task's action pressed on the PDF the task came with: the case moves once, the
    official gets no apology (the caption is edited, not a text that is not there)."""
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    await kimbot.submit(wati)
    task = await kimbot.task(sari, 1)
    accept = _data(sari, task, "Terima berkas")
    document = next(m for m in sari.messages if m.document is not None)
    answer = await kimbot.press_as(sari, document, accept)
    assert answer.text != text("error.internal")
    assert not any(m.content == text("error.internal") for m in sari.messages)
    await kimbot.task(sari, 2)
    again = await kimbot.press_as(sari, document, accept)
    assert again.show_alert
    assert again.text != text("error.internal")


async def test_hole_4_dataku_in_a_group_says_use_the_private_chat(kimbot: KimBot) -> None:
    wati = await kimbot.member()
    group = {"id": -100555, "type": "group", "title": "KIM Tempeh"}
    kimbot.api.register_chat(group)
    kimbot.api.push_update({"message": {
        "message_id": 9001, "date": 1_790_000_000, "chat": group, "from": dict(wati.user),
        "text": "/dataku", "entities": [{"type": "bot_command", "offset": 0, "length": 7}]}})
    await kimbot.api.wait_until(lambda: bool(kimbot.api.messages(-100555)),
                                message="no answer in the group")
    await wati.wait_quiet()
    said = [m.content for m in kimbot.api.messages(-100555)]
    assert said == [text("error.private_only")]
    assert not any("6281234567890" in m.content for m in wati.messages[-1:])


async def test_hole_5_lone_surrogates_from_telegram_get_a_clear_answer(kimbot: KimBot) -> None:
    """A first name and answers carrying lone surrogates (JSON "\\ud800"): answered, stored
    without them, no apology for an internal error."""
    odd = kimbot.person("Wati\ud800")
    [welcome, ask_name] = await odd.send("/start")
    assert ask_name.content == text("reg.ask_full_name")
    assert [m.content for m in await odd.send("\udfff")] == [text("error.empty_answer")]
    assert [m.content for m in await odd.send("Wati\ud83d Susanti")] == [
        text("reg.ask_kim_group")]
    assert not any(m.content == text("error.internal") for m in odd.messages)
    assert welcome.content


# -- the crash test: kill -9 at random points --------------------------------------------------

CRASH_MEMBERS = 4
CRASH_KILLS = 3
STAF_ID = 7001
FIRST_CRASH_MEMBER = 8001


def _seed(db_url: str) -> None:
    """Migrations, one staf of Lumajang and the registered members (ids = chat ids)."""
    from bot.db import Database
    from tests.support.factories import bind_role, make_member, make_user

    db = Database(db_url)
    db.migrate()
    with db.session() as s:
        staf = make_user(s, name="Sari", external_id=str(STAF_ID), office="lumajang")
        bind_role(s, staf, "staf", "lumajang")
        for n in range(CRASH_MEMBERS):
            make_member(s, f"Anggota {n}", external_id=str(FIRST_CRASH_MEMBER + n))
    db.dispose()


async def _quietly(step: Any) -> None:
    """One step of a member's script; a reply lost to a kill is not the member's problem
    (the script goes on, as a person would after a moment)."""
    with contextlib.suppress(AssertionError, TimeoutError):
        await step


async def test_crash_kill_9_at_random_points_loses_nothing(tmp_path: Path) -> None:
    """Members submit requests while the bot process is killed with SIGKILL at random
    moments and restarted. Afterwards: no case doubled, every case's task reached the staf
    with its attachments, no notification stuck, nothing sent twice by more than a kill's
    window allows."""
    from bench.bench_broadcast import Child
    from bot.db import Database
    from bot.models import Case, Notification
    from fakebotapi import FakeBotApi
    from fakebotapi import FakeUser as User_
    from tests.support.chat import PDF

    db_url = f"sqlite:///{tmp_path / 'kimbot.db'}"
    _seed(db_url)
    rng = random.Random(12)
    async with FakeBotApi() as api:
        bot = Child(api, db_url, tmp_path, "crash")
        await bot.start(lifted=True)
        User_(api, STAF_ID, "Sari", timeout=20)  # the staf's chat, read at the server
        members = [User_(api, FIRST_CRASH_MEMBER + n, f"Anggota {n}", timeout=8)
                   for n in range(CRASH_MEMBERS)]

        async def submit(member: User_) -> None:
            await _quietly(member.send("/permohonan"))
            await _quietly(member.click("Permohonan pelayanan"))
            await _quietly(member.send(f"Mohon peliputan {member.user_id}."))
            await _quietly(member.send_photo())
            await _quietly(member.send_document("surat.pdf", PDF, "application/pdf"))
            await _quietly(member.click("Kirim"))

        async def killer() -> None:
            for _ in range(CRASH_KILLS):
                await asyncio.sleep(rng.uniform(0.2, 1.2))
                await bot.kill()
                await bot.start(lifted=True)

        await asyncio.gather(*(submit(m) for m in members), killer())
        db = Database(db_url)

        def settled() -> bool:
            with db.session() as s:
                rows = s.exec(select(Notification)).all()
                return all(r.status in ("sent", "failed") for r in rows)

        # Leases of a killed process end after outbox.LEASE; the running loop releases them.
        await api.wait_until(settled, 120, message="notifications stuck")
        await bot.stop()
        with db.session() as s:
            cases = s.exec(select(Case)).all()
            rows = s.exec(select(Notification)).all()
        db.dispose()
        errors = bot.errors()

    # A kill can cost a member the reply with the next button (they would ask again), so
    # not every member need have a case; each kill can cost at most the members it hit.
    assert len(cases) >= 1, "no request got through at all"
    agendas = [c.agenda_number for c in cases]
    assert len(agendas) == len(set(agendas))
    assert len({c.requester_id for c in cases}) == len(cases)  # no request doubled
    assert all(r.status == "sent" for r in rows), [(r.id, r.status, r.last_error) for r in rows]
    staf_chat = api.messages(STAF_ID)
    for case in cases:
        tasks = [m for m in staf_chat if case.agenda_number in m.content and m.has_inline_keyboard]
        assert tasks, f"{case.agenda_number}: the staf never got the task"
    files = Counter(m.document or m.photo for m in staf_chat if m.document or m.photo)
    # Each case carries a photo and a PDF: a file repeated only inside a kill's window.
    assert sum(n - 1 for n in files.values()) <= CRASH_KILLS, files
    assert not [e for e in errors if "Traceback" in e], errors
