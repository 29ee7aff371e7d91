"""Telegram may deliver an update twice: a replay must change nothing and say nothing."""

from __future__ import annotations

from fakebotapi import FakeUser
from tests.support.kimbot import KimBot, text


def snapshot(*users: FakeUser) -> list[tuple[int, int]]:
    """(message count, total edits) per chat."""
    return [(len(u.all_messages), sum(m.edited_count for m in u.all_messages)) for u in users]


async def sheet_entries(user: FakeUser, agenda: str) -> int:
    [sheet] = await user.send(f"/disposisi {agenda}")
    return (sheet.text or "").count("• Langkah")


async def test_a_replayed_kirim_press_registers_nothing_more(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    press = wati.last_update
    assert press is not None
    assert "callback_query" in press
    await kimbot.task(sari, 1)
    before = snapshot(wati, sari)

    await kimbot.replay(press, witness=kimbot.admin)

    await wati.expect_silence(0.2)  # the other chats were watched by the snapshot below
    assert snapshot(wati, sari) == before
    assert kimbot.api.callback_answer(str(press["callback_query"]["id"])) is None  # not handled
    [book] = await kimbot.admin.send("/agenda")
    assert "(1 surat)" in (book.text or "")
    [status] = await wati.send("/status")
    assert (status.text or "").startswith(text("status.header", count=1))
    assert await sheet_entries(wati, agenda) == 1
    # The next request still gets the next number: the replay used none.
    assert (await kimbot.submit(wati)).startswith("002/")


async def test_replayed_official_presses_and_notes_make_no_second_move(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    dony = await kimbot.official("Dony", "kadis")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)

    await sari.click("Terima berkas", message=await kimbot.task(sari, 1))
    accept = sari.last_update
    await sari.click("Agendakan", message=await kimbot.task(sari, 2))
    register = sari.last_update
    await dony.click("Disposisikan", message=await kimbot.task(dony, 3))
    await dony.send("Tindak lanjuti segera.")
    note = dony.last_update
    assert accept is not None
    assert register is not None
    assert note is not None
    assert "callback_query" in accept
    assert note["message"]["text"] == "Tindak lanjuti segera."
    await kimbot.task(sari, 4)
    await kimbot.api.wait_until(
        lambda: any(f"{agenda} berpindah ke langkah 4" in m.content for m in wati.messages))
    before = snapshot(wati, sari, dony)

    await kimbot.replay(accept, witness=kimbot.admin)
    await kimbot.replay(register, witness=kimbot.admin)
    await kimbot.replay(note, witness=kimbot.admin)  # a stray text would at least get "idle"

    await sari.expect_silence(0.2)
    assert snapshot(wati, sari, dony) == before
    for update in (accept, register):
        assert kimbot.api.callback_answer(str(update["callback_query"]["id"])) is None
    # Submitted, accepted, registered, disposed: each once.
    assert await sheet_entries(wati, agenda) == 4
    [status] = await wati.send("/status")
    assert "Langkah 4:" in (status.text or "")
