"""Presses and messages the bot must refuse, clearly and without changing anything."""

from __future__ import annotations

from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import KimBot, text


def texts(messages: list[SentMessage]) -> list[str]:
    return [m.content for m in messages]


def data_of(user: FakeUser, message: SentMessage, label: str) -> str:
    for row in user.buttons(message):
        for text_, data in row:
            if label in text_ and data is not None:
                return data
    raise AssertionError(f"no button {label!r} on {message.describe()}")


def activity(kimbot: KimBot, step_no: int) -> str:
    assert kimbot.svc is not None
    sop = kimbot.svc.registry.get("lmj-layanan-kim")
    assert sop is not None
    return sop.step(step_no).activity


async def trail_lines(kimbot: KimBot, user: FakeUser, agenda: str) -> list[str]:
    [sheet] = await user.send(f"/disposisi {agenda}")
    return [line for line in (sheet.text or "").splitlines() if line.startswith("• Langkah")]


async def test_only_a_holder_of_the_step_may_press_its_buttons(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    ode = await kimbot.official("Ode", "staf", office="kolaka")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    task = await kimbot.task(sari, 1)
    await ode.expect_silence(0.1)  # Kolaka's staf never hears of a Lumajang letter
    accept = data_of(sari, task, "Terima berkas")

    # The member, on the official's own message ...
    answer = await kimbot.press_as(wati, task, accept)
    assert (answer.text, answer.show_alert) == (text("error.not_allowed"), True)
    assert "tidak berwenang" in (answer.text or "")
    # ... and with the same data on a keyboard in the member's own chat.
    [status] = await wati.send("/status")
    assert await wati.click(data=accept, message=status) == []
    own = wati.last_callback_answer
    assert own is not None
    assert (own.text, own.show_alert) == (text("error.not_allowed"), True)

    # A staf of another office, on the message and in their own chat.
    answer = await kimbot.press_as(ode, task, accept)
    assert (answer.text, answer.show_alert) == (text("error.not_allowed"), True)
    [help_text] = await ode.send("/bantuan")
    assert await ode.click(data=accept, message=help_text) == []
    own = ode.last_callback_answer
    assert own is not None
    assert (own.text, own.show_alert) == (text("error.not_allowed"), True)
    # Nor may they read its lembar disposisi, or see it among their tasks.
    assert texts(await ode.send(f"/disposisi {agenda}")) == [text("error.not_allowed")]
    assert texts(await ode.send("/tugas")) == [text("tasks.none")]

    # Nothing changed: the task still waits at step 1 with its buttons.
    assert task.has_inline_keyboard
    assert task.edited_count == 0
    [status] = await wati.send("/status")
    assert "Langkah 1:" in (status.text or "")
    assert len(await trail_lines(kimbot, wati, agenda)) == 1

    # The member's own notifications still reach the member's chat (not the one pressed in).
    await sari.click("Terima berkas", message=task)
    await kimbot.api.wait_until(
        lambda: any("berpindah ke langkah 2" in m.content for m in wati.messages))
    assert not any("berpindah ke langkah 2" in m.content for m in sari.messages)


async def test_a_button_is_stale_once_a_colleague_acted(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    ana = await kimbot.official("Ana", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    sari_task = await kimbot.task(sari, 1)
    ana_task = await kimbot.task(ana, 1)

    await sari.click("Terima berkas", message=sari_task)
    done = sari_task  # the pressed message is edited in place
    assert (done.text or "").endswith("\n\n✅ " + text(
        "act.done_moved", action="Terima berkas", agenda=agenda, step_no=2,
        activity=activity(kimbot, 2), roles="Staf Administrasi"))
    assert not done.has_inline_keyboard

    assert await ana.click("Terima berkas", message=ana_task) == []
    answer = ana.last_callback_answer
    assert answer is not None
    assert (answer.text, answer.show_alert) == (text("error.stale", agenda=agenda), True)
    assert "sudah kedaluwarsa" in (answer.text or "")
    lines = await trail_lines(kimbot, wati, agenda)
    assert len(lines) == 2  # submitted, accepted once
    [status] = await wati.send("/status")
    assert "Langkah 2:" in (status.text or "")


async def test_forged_callback_data_gets_a_clear_alert(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    task = await kimbot.task(sari, 1)
    case_id = data_of(sari, task, "Terima berkas").split()[1]
    before = len(sari.messages), len(wati.messages)

    forged = {
        f"a {case_id} 1 hack!!": text("error.forged"),
        "zzz": text("error.forged"),
        "a 1 1 " + "x" * 64: text("error.forged"),  # 70 bytes
        "": text("error.forged"),
        "l fr": text("error.forged"),
        "o mars": text("error.forged"),
        "s tidak-ada": text("error.forged"),
        "a 99999 1 terima": text("error.case_not_found"),
        "t 99999": text("error.case_not_found"),
        f"a {case_id} 1 arsip": text("error.stale", agenda=agenda),  # another step's action
        f"a {case_id} 9 terima": text("error.stale", agenda=agenda),  # a future version
        f"f {case_id} 1": text("error.not_allowed"),  # only the requester sends corrections
        "n skip": text("error.stale_button"),  # no note is being asked
        f"a {case_id} 1 terima\n": text("error.forged"),  # `$` would let the newline in
        "a \u0661 1 terima": text("error.forged"),  # an Arabic-Indic 1: int() reads it as 1
    }
    assert len(("a 1 1 " + "x" * 64).encode()) == 70
    for data, expected in forged.items():
        answer = await kimbot.press_as(sari, task, data)
        assert (data, answer.text, answer.show_alert) == (data, expected, True)

    # Nothing changed anywhere.
    assert (len(sari.messages), len(wati.messages)) == before
    assert task.has_inline_keyboard
    assert task.edited_count == 0
    [status] = await wati.send("/status")
    assert "Langkah 1:" in (status.text or "")
    assert len(await trail_lines(kimbot, wati, agenda)) == 1
    # The real button still works afterwards.
    await sari.click("Terima berkas", message=task)
    assert "✅" in (task.text or "")
    assert not task.has_inline_keyboard


async def test_a_forged_summary_verb_registers_nothing(kimbot: KimBot) -> None:
    wati = await kimbot.member()
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Mohon peliputan.")
    await wati.send_photo()
    [*_, summary] = await wati.send_photo()
    draft = data_of(wati, summary, "Kirim").split()[2]

    # "next" fits the pattern of summary buttons but is not one the summary offers.
    answer = await kimbot.press_as(wati, summary, f"r next {draft}")
    assert (answer.text, answer.show_alert) == (text("error.forged"), True)
    answer = await kimbot.press_as(wati, summary, "r send AAAAAAAA")
    assert (answer.text, answer.show_alert) == (text("error.stale_button"), True)
    assert texts(await wati.send("/status")) == [text("status.none")]
    # The real summary still works.
    changed = await wati.click("Kirim", message=summary)
    assert "Nomor agenda: 001/" in (changed[-1].text or "")


async def test_an_unknown_command(kimbot: KimBot) -> None:
    stranger = kimbot.person("Orang Asing")
    assert texts(await stranger.send("/terbang")) == [text("error.unknown_command")]
    assert texts(await stranger.send("/hapus_semua sekarang")) == [text("error.unknown_command")]
    assert texts(await kimbot.admin.send("/terbang")) == [text("error.unknown_command")]


async def test_a_note_over_1000_characters_is_refused(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    dony = await kimbot.official("Dony", "kadis")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    await sari.click("Terima berkas", message=await kimbot.task(sari, 1))
    await sari.click("Agendakan", message=await kimbot.task(sari, 2))
    task = await kimbot.task(dony, 3)

    # Asking for a note, then cancelling it, changes nothing.
    await dony.click(text("action.kembalikan"), message=task)
    assert texts(await dony.click("Batal"))[-1] == text("act.note_cancelled")
    assert texts(await dony.send("catatan terlambat")) == [text("idle.unregistered")]

    [ask] = await dony.click("Disposisikan", message=task)
    assert ask.text == text("act.ask_note", action="Disposisikan", agenda=agenda)
    # A note is required: no "skip" button, only cancel.
    assert [label for row in dony.buttons(ask) for label, _ in row] == [text("button.cancel")]
    answer = await kimbot.press_as(dony, ask, "n skip")
    assert (answer.text, answer.show_alert) == (text("error.note_required"), True)

    assert texts(await dony.send("x" * 1001)) == [text("error.too_long", limit=1000)]
    assert texts(await dony.send("   ")) == [text("error.note_required")]
    assert texts(await dony.send_photo()) == [text("error.expect_text")]
    assert len(await trail_lines(kimbot, dony, agenda)) == 3  # nothing was applied
    [status] = await wati.send("/status")
    assert "Langkah 3:" in (status.text or "")

    [done] = await dony.send("y" * 1000)
    assert done.text == "✅ " + text("act.done_moved", action="Disposisikan", agenda=agenda,
                                     step_no=4, activity=activity(kimbot, 4),
                                     roles="Staf Administrasi")
    lines = await trail_lines(kimbot, dony, agenda)
    assert len(lines) == 4
