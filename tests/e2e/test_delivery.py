"""Notifications reach people despite Telegram's refusals; buttons fit Telegram's limits."""

from __future__ import annotations

from fakebotapi import FakeUser
from tests.support.kimbot import MAX_CALLBACK_BYTES, PDF, KimBot, text

TASK_HEAD = "📥 Disposisi untuk Anda"


def tasks(user: FakeUser, agenda: str) -> list[str]:
    return [m.content for m in user.messages
            if m.content.startswith(TASK_HEAD) and agenda in m.content]


def kinds(user: FakeUser) -> list[str]:
    return [m.kind for m in user.messages]


async def test_a_429_delays_the_notification_which_still_arrives_once(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    kimbot.api.fail_next("sendMessage", error_code=429,
                         description="Too Many Requests: retry after 1", retry_after=1,
                         chat_id=sari.chat_id)

    agenda = await kimbot.submit(wati)
    await kimbot.task(sari, 1)
    await sari.expect_silence(0.2)

    assert len(tasks(sari, agenda)) == 1
    # The documents went before the refused text and were not sent again with the retry.
    assert kinds(sari).count("photo") == 1
    assert kinds(sari).count("document") == 1
    to_sari = [c for c in kimbot.api.calls_of("sendMessage")
               if str(c.params.get("chat_id")) == str(sari.chat_id)]
    refused = [c for c in to_sari if c.error]
    [delivered] = [c for c in to_sari if c.ok and agenda in str(c.params.get("text"))]
    assert [c.error["error_code"] for c in refused if c.error] == [429]
    assert delivered.at - refused[0].at >= 0.9  # it waited as Telegram asked
    [row] = kimbot.notifications_to(sari)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_blocked_chat_fails_its_row_and_others_still_get_theirs(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    ana = await kimbot.official("Ana", "staf")
    wati = await kimbot.member()
    kimbot.api.block(sari.chat_id)

    agenda = await kimbot.submit(wati)
    task = await kimbot.task(ana, 1)
    await kimbot.api.wait_until(
        lambda: [n.status for n in kimbot.notifications_to(sari)] == ["failed"])
    [row] = kimbot.notifications_to(sari)
    assert "blocked" in row.last_error
    assert tasks(sari, agenda) == []
    assert [n.status for n in kimbot.notifications_to(ana)] == ["sent"]

    # A failed row is not retried once the chat is open again; later news arrives normally.
    kimbot.api.unblock(sari.chat_id)
    await ana.click("Terima berkas", message=task)
    await kimbot.task(sari, 2)
    await kimbot.task(ana, 2)
    await sari.expect_silence(0.2)
    assert ["Langkah 2:" in task for task in tasks(sari, agenda)] == [True]
    assert kinds(sari).count("photo") == 1  # the documents come with the first delivered task
    await kimbot.api.wait_until(
        lambda: any(f"{agenda} berpindah ke langkah 2" in m.content for m in wati.messages))


async def test_callbacks_size(kimbot: KimBot) -> None:
    """Drive every kind of button, then check all the callback data the bot ever sent."""
    sari = await kimbot.official("Sari", "staf")
    dony = await kimbot.official("Dony", "kadis")
    wati = await kimbot.member()  # office buttons
    await wati.send("/bahasa")  # language buttons
    await wati.click("Bahasa Indonesia")
    agenda = await kimbot.submit(wati)  # service and summary buttons
    task = await kimbot.task(sari, 1)  # action and trail buttons
    await sari.click("Kembalikan ke pemohon", message=task)  # note buttons
    await sari.send("Lengkapi tanda tangan.")
    await kimbot.api.wait_until(lambda: any(
        text("button.fix") == label for m in wati.messages for row in wati.buttons(m)
        for label, _ in row))
    await wati.click(text("button.fix"))  # the correction button
    await wati.send_document("ttd.pdf", PDF, "application/pdf")
    await wati.send("Sudah ditandatangani.")
    await sari.click("Terima berkas", message=await kimbot.task(sari, 1))
    await sari.click("Agendakan", message=await kimbot.task(sari, 2))
    await dony.send("/tugas")  # the task list with its buttons
    await dony.click("Disposisikan")
    await dony.click("Batal")
    await wati.send("/status")  # trail buttons per request
    await wati.click(f"📋 {agenda}")

    sent = kimbot.callback_data_sent()
    assert {data.split()[0] for data in sent} >= {"a", "f", "t", "s", "o", "l", "r", "n"}
    too_long = [d for d in sent if len(d.encode()) > MAX_CALLBACK_BYTES]
    assert too_long == []
    assert all(d for d in sent)  # Telegram refuses empty data too
    assert not [c for c in kimbot.api.calls if c.error and "BUTTON_DATA" in str(c.error)]
