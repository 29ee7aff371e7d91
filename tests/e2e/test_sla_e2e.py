"""SLA through Telegram: /status shows the time left or how late; the watcher survives restarts.

These run on the real clock. Times are moved by editing the case's stored deadlines, as a
bot that was down (or a case that is simply late) would leave them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.models import Case, Notification
from fakebotapi import FakeUser
from tests.support.kimbot import KimBot, text

REMINDER = text("notify.sla_reminder").split(":")[0]  # "⏰ Pengingat"


def set_case(kimbot: KimBot, **fields: datetime) -> None:
    """Overwrite SLA fields of the only case, as the database would hold them."""
    assert kimbot.svc is not None
    with kimbot.svc.db.session() as session:
        case = session.exec(select(Case)).one()
        for name, value in fields.items():
            setattr(case, name, value)
        session.add(case)


def reminders(official: FakeUser) -> list[str]:
    return [m.text or "" for m in official.messages if (m.text or "").startswith(REMINDER)]


async def test_status_shows_the_time_left_then_how_late(kimbot: KimBot) -> None:
    await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)

    [status] = await wati.send("/status")
    lines = (status.text or "").splitlines()
    assert f"📄 {agenda} — " in lines[2]
    remaining = text("line.remaining", span="SPAN").split("SPAN")[0]  # "Sisa waktu: "
    [left] = [line for line in lines if line.startswith(remaining)]
    # 3 menit at most (less if the office is open right now), in office time.
    assert left in {text("line.remaining", span=text("span.minutes", m=m)) for m in (1, 2, 3)}
    assert text("line.late", span="").split(":")[0] not in (status.text or "")

    # The case is late: its due time lies weeks behind (many office days).
    set_case(kimbot, due_at=datetime.now(UTC) - timedelta(days=30))
    [status] = await wati.send("/status")
    body = status.text or ""
    late = text("line.late", span="SPAN").split("SPAN")[0]  # "⚠️ Terlambat: "
    [line] = [line for line in body.splitlines() if line.startswith(late)]
    assert "jam" in line  # days of office hours, shown as hours
    assert remaining not in body


async def test_a_reminder_missed_while_down_comes_once_after_a_restart(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    await kimbot.task(sari, 1)
    assert reminders(sari) == []

    # The reminder time passed while the bot was not running.
    past = datetime.now(UTC) - timedelta(minutes=1)
    set_case(kimbot, remind_at=past, sla_next_at=past)
    await kimbot.restart()

    await kimbot.api.wait_until(lambda: bool(reminders(sari)), timeout=5,
                                message=lambda: kimbot.api.dump_chat(sari.chat_id))
    [reminder] = reminders(sari)
    assert agenda in reminder
    assert "Langkah 1: Anggota KIM menemui petugas" in reminder
    # The reminder carries the step's buttons, so Sari can act from it.
    [message] = [m for m in sari.messages if (m.text or "").startswith(REMINDER)]
    assert sari.buttons(message)[0][0][0] == "Terima berkas"

    await kimbot.restart()
    await sari.send("/bantuan")  # the restarted bot is up and working
    await sari.expect_silence(0.5)
    assert len(reminders(sari)) == 1
    assert kimbot.count(Notification, Notification.key == "notify.sla_reminder") == 1
    assert kimbot.svc is not None
    with kimbot.svc.db.session() as session:
        case = session.exec(select(Case)).one()
        assert case.sla_stage == 1
        # Next look: the due time, still ahead.
        assert case.sla_next_at == case.due_at
