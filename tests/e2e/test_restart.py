"""A restart (new PTB application and services, same database) loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import ManualClock
from bot.models import Notification
from fakebotapi import FakeBotApi, FakeUser
from tests.support.kimbot import PDF, KimBot, text

TASK_HEAD = "📥 Disposisi untuk Anda"


def activity(kimbot: KimBot, step_no: int) -> str:
    assert kimbot.svc is not None
    sop = kimbot.svc.registry.get("lmj-layanan-kim")
    assert sop is not None
    return sop.step(step_no).activity


def tasks(user: FakeUser, agenda: str) -> list[str]:
    return [m.content for m in user.messages
            if m.content.startswith(TASK_HEAD) and agenda in m.content]


def kinds(user: FakeUser) -> list[str]:
    return [m.kind for m in user.messages]


async def test_a_case_continues_where_it_was_after_a_restart(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    dony = await kimbot.official("Dony", "kadis")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    task = await kimbot.task(sari, 1)

    await kimbot.restart()

    # The button sent before the restart still works.
    await sari.click("Terima berkas", message=task)
    assert (task.text or "").endswith("✅ " + text(
        "act.done_moved", action="Terima berkas", agenda=agenda, step_no=2,
        activity=activity(kimbot, 2), roles="Staf Administrasi"))
    step_2 = await kimbot.task(sari, 2)
    [status] = await wati.send("/status")
    assert f"Langkah 2: {activity(kimbot, 2)}" in (status.text or "")
    assert "Ditangani: Staf Administrasi (Sari)" in (status.text or "")

    await kimbot.restart()
    await sari.click("Agendakan", message=step_2)
    await kimbot.task(dony, 3)
    [status] = await wati.send("/status")
    assert f"Langkah 3: {activity(kimbot, 3)}" in (status.text or "")
    assert "Ditangani: Kepala Dinas (Dony)" in (status.text or "")
    [sheet] = await wati.send(f"/disposisi {agenda}")
    assert (sheet.text or "").count("• Langkah") == 3


async def test_a_conversation_survives_a_restart(kimbot: KimBot) -> None:
    wati = await kimbot.member()
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Mohon peliputan sebelum restart.")
    await wati.send_photo()

    await kimbot.restart()

    [summary] = await wati.send_document("surat_tugas.pdf", PDF, "application/pdf")
    assert (summary.text or "").startswith(text("req.document_ok", item="Surat Tugas"))
    assert "Maksud dan tujuan: Mohon peliputan sebelum restart." in (summary.text or "")
    assert "• Print Out Berita: foto.jpg\n• Surat Tugas: surat_tugas.pdf" in (summary.text or "")
    await kimbot.restart()
    changed = await wati.click("Kirim", message=summary)
    assert "Nomor agenda: 001/SM/DISKOMINFO-LMJ/" in (changed[-1].text or "")

    # A half-done registration too.
    budi = kimbot.person("Budi")
    await budi.send("/start")
    await budi.send("Budi Santoso")
    await kimbot.restart()
    assert [m.text for m in await budi.send("KIM Maju")] == [text("reg.ask_village")]


async def test_notifications_pending_at_a_stop_are_delivered_once_after_it(
    kimbot: KimBot,
) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    await kimbot.hold_outbox()  # the process dies right after committing
    agenda = await kimbot.submit(wati)
    await sari.expect_silence(0.2)
    assert tasks(sari, agenda) == []
    assert [n.status for n in kimbot.notifications_to(sari)] == ["pending"]

    await kimbot.restart()

    await kimbot.api.wait_until(lambda: bool(tasks(sari, agenda)))
    await sari.expect_silence(0.2)
    assert len(tasks(sari, agenda)) == 1
    assert kinds(sari).count("photo") == 1
    assert kinds(sari).count("document") == 1
    assert [n.status for n in kimbot.notifications_to(sari)] == ["sent"]
    # The member's receipt was a direct answer, sent before the stop, and only once.
    assert sum("Nomor agenda:" in m.content for m in wati.messages) == 1


async def test_a_notification_that_failed_before_a_restart_arrives_once_after_it(
    api: FakeBotApi, database_url: str,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    kimbot = KimBot(api, database_url, clock=clock)
    await kimbot.start()
    try:
        sari = await kimbot.official("Sari", "staf")
        wati = await kimbot.member()
        api.fail_next("sendMessage", error_code=500, description="Internal Server Error",
                      chat_id=sari.chat_id)
        agenda = await kimbot.submit(wati)
        await api.wait_until(lambda: any(
            c.error and str(c.params.get("chat_id")) == str(sari.chat_id)
            for c in api.calls_of("sendMessage")))
        await sari.wait_quiet()
        [row] = kimbot.notifications_to(sari)
        assert (row.status, row.attempts) == ("pending", 1)
        assert tasks(sari, agenda) == []

        await kimbot.restart()
        clock.advance(timedelta(seconds=5))  # the back-off has passed

        await api.wait_until(lambda: bool(tasks(sari, agenda)))
        await sari.expect_silence(0.2)
        assert len(tasks(sari, agenda)) == 1
        # The documents went out before the failed text; the retry did not repeat them.
        assert kinds(sari).count("photo") == 1
        assert kinds(sari).count("document") == 1
        assert kimbot.count(Notification, Notification.status == "pending") == 0
    finally:
        await kimbot.stop()
