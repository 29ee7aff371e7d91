"""Returns for correction: to an earlier step, and to the member; the lembar disposisi."""

from __future__ import annotations

import re

from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import PDF, KimBot, text

SUBJECT = "Permohonan pelayanan bagi anggota KIM - KIM Sumber Makmur"
PURPOSE = "Mohon peliputan kegiatan KIM."


def activity(kimbot: KimBot, step_no: int) -> str:
    assert kimbot.svc is not None
    sop = kimbot.svc.registry.get("lmj-layanan-kim")
    assert sop is not None
    return sop.step(step_no).activity


def entries(sheet: str) -> list[str]:
    """The action lines of a lembar disposisi, one string per entry (note included)."""
    return ["• Langkah" + part.rstrip("\n") for part in sheet.split("• Langkah")[1:]]


def entry_summary(entry: str) -> tuple[int, str, str]:
    """(step, '<actor> (<role>) <action>', note)."""
    lines = entry.splitlines()
    step = re.match(r"• Langkah (\d+) — ", lines[0])
    assert step, entry
    note = lines[2].removeprefix("Catatan: ") if len(lines) > 2 else ""
    return int(step.group(1)), lines[1].strip(), note


async def sheet_of(user: FakeUser, agenda: str) -> str:
    [sheet] = await user.send(f"/disposisi {agenda}")
    return sheet.text or ""


def returned_to(user: FakeUser) -> list[SentMessage]:
    first_line = text("notify.task_returned").splitlines()[0]
    return [m for m in user.messages if m.content.startswith(first_line)]


async def test_kadis_returns_to_step_2_only_the_staf_who_acted_there_is_told(
    kimbot: KimBot,
) -> None:
    sari = await kimbot.official("Sari", "staf")
    ana = await kimbot.official("Ana", "staf")
    dony = await kimbot.official("Dony", "kadis")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)

    await sari.click("Terima berkas", message=await kimbot.task(sari, 1))
    await kimbot.task(sari, 2)  # both staf hold step 2; Ana registers the letter
    await ana.click("Agendakan", message=await kimbot.task(ana, 2))
    task = await kimbot.task(dony, 3)
    assert [label for row in dony.buttons(task) for label, _ in row] == [
        "Disposisikan", text("action.kembalikan"), text("button.trail")]

    [ask] = await dony.click(text("action.kembalikan"), message=task)
    assert ask.text == text("act.ask_note", action=text("action.kembalikan"), agenda=agenda)
    note = "Perihal belum sesuai dengan buku agenda."
    [done] = await dony.send(note)
    assert done.text == "✅ " + text("act.done_moved", action=text("action.kembalikan"),
                                     agenda=agenda, step_no=2, activity=activity(kimbot, 2),
                                     roles="Staf Administrasi")

    # Ana, who registered it at step 2, gets it back with the note and her buttons ...
    await kimbot.api.wait_until(lambda: bool(returned_to(ana)))
    [back] = returned_to(ana)
    lines = (back.text or "").splitlines()
    assert f"No. agenda: {agenda}" in lines
    assert f"Langkah 2: {activity(kimbot, 2)}" in lines
    assert "Dari: Dony" in lines
    assert f"Catatan: {note}" in lines
    assert [label for row in ana.buttons(back) for label, _ in row] == [
        "Agendakan & teruskan ke Kadin", text("button.trail")]
    # ... the member sees where it went, and Sari (who did not act at step 2) hears nothing.
    def progress_to_step_2() -> int:
        return sum(f"{agenda} berpindah ke langkah 2:" in m.content for m in wati.messages)

    await kimbot.api.wait_until(lambda: progress_to_step_2() == 2)  # forward, then the return
    await sari.expect_silence(0.2)
    assert returned_to(sari) == []

    # The flow goes on from step 2.
    await ana.click("Agendakan", message=back)
    task = await kimbot.task(dony, 3)
    assert task.message_id != back.message_id
    await dony.click("Disposisikan", message=task)
    await dony.send("Tindak lanjuti segera.")
    await kimbot.task(sari, 4)
    [status] = await wati.send("/status")
    assert f"Langkah 4: {activity(kimbot, 4)}" in (status.text or "")

    summary = [entry_summary(e) for e in entries(await sheet_of(dony, agenda))]
    assert summary == [
        (1, "Wati Susanti (Pemohon (anggota KIM)) mengajukan", PURPOSE),
        (1, "Sari (Staf Administrasi) meneruskan", ""),
        (2, "Ana (Staf Administrasi) meneruskan", ""),
        (3, "Dony (Kepala Dinas) mengembalikan untuk diperbaiki", note),
        (2, "Ana (Staf Administrasi) meneruskan", ""),
        (3, "Dony (Kepala Dinas) mendisposisikan", "Tindak lanjuti segera."),
    ]


async def test_staf_returns_to_the_member_who_sends_a_correction(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    task = await kimbot.task(sari, 1)

    [ask] = await sari.click("Kembalikan ke pemohon", message=task)
    assert ask.text == text("act.ask_note", action="Kembalikan ke pemohon", agenda=agenda)
    note = "Surat tugas belum ditandatangani."
    [done] = await sari.send(note)
    assert done.text == "✅ " + text("act.done_requester", action="Kembalikan ke pemohon",
                                     agenda=agenda)

    # The member gets the note and a button to send the correction.
    expected = text("notify.member_returned", agenda=agenda, by_role="Staf Administrasi",
                    note_line=text("line.note", note=note))
    await kimbot.api.wait_until(lambda: any(m.content == expected for m in wati.messages))
    [returned] = [m for m in wati.messages if m.content == expected]
    assert [label for row in wati.buttons(returned) for label, _ in row] == [text("button.fix")]
    assert "Kirim perbaikan" in text("button.fix")

    [status] = await wati.send("/status")
    assert f"Status: {text('status.with_requester')}" in (status.text or "")
    assert "dikembalikan kepada Anda" in (status.text or "")
    # The staf's old buttons are stale while the member holds it.
    assert await sari.click("Terima berkas", message=task) == []
    answer = sari.last_callback_answer
    assert answer is not None
    assert answer.text == text("error.stale", agenda=agenda)

    # The member sends a file and an explanation.
    assert [m.text for m in await wati.click("Kirim perbaikan", message=returned)] == [
        text("fix.ask", agenda=agenda)]
    assert [m.text for m in await wati.send_document("x.zip", b"PK", "application/zip")] == [
        text("error.file_type")]
    assert [m.text for m in await wati.send_document(
        "surat_tugas_ttd.pdf", PDF, "application/pdf")] == [text("fix.file_ok", count=1)]
    fix_note = "Surat tugas sudah ditandatangani Kepala Desa."
    assert [m.text for m in await wati.send(fix_note)] == [text("fix.sent", agenda=agenda)]

    # Back to the staf at step 1, with the member's explanation and the new file.
    await kimbot.api.wait_until(lambda: bool(returned_to(sari)))
    [back] = returned_to(sari)
    lines = (back.text or "").splitlines()
    assert f"Langkah 1: {activity(kimbot, 1)}" in lines
    assert "Dari: Wati Susanti" in lines
    assert f"Catatan: {fix_note}" in lines
    assert [label for row in sari.buttons(back) for label, _ in row] == [
        "Terima berkas", "Kembalikan ke pemohon", text("button.trail")]
    corrections = [m for m in sari.messages if m.kind == "document"
                   and m.message_id > done.message_id]
    assert len(corrections) == 1

    # The correction button cannot be used twice.
    assert await wati.click("Kirim perbaikan", message=returned) == []
    answer = wati.last_callback_answer
    assert answer is not None
    assert answer.text == text("error.stale", agenda=agenda)
    [status] = await wati.send("/status")
    assert f"Status: {text('status.open')}" in (status.text or "")
    assert f"Langkah 1: {activity(kimbot, 1)}" in (status.text or "")

    await sari.click("Terima berkas", message=back)
    step_2 = await kimbot.task(sari, 2)

    # The lembar disposisi, from the 📋 button, shows every action with its note.
    [sheet] = await sari.click(text("button.trail"), message=step_2)
    body = sheet.text or ""
    assert body.startswith("LEMBAR DISPOSISI")
    assert f"No. agenda: {agenda}" in body
    assert "Lampiran: 3" in body  # two documents with the request, one correction
    assert [entry_summary(e) for e in entries(body)] == [
        (1, "Wati Susanti (Pemohon (anggota KIM)) mengajukan", PURPOSE),
        (1, "Sari (Staf Administrasi) mengembalikan untuk diperbaiki", note),
        (1, "Wati Susanti (Pemohon (anggota KIM)) mengirim perbaikan", fix_note),
        (1, "Sari (Staf Administrasi) meneruskan", ""),
    ]
    # The member reads the same sheet.
    assert entries(await sheet_of(wati, agenda)) == entries(body)
