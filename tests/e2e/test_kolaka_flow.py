"""Seed 001 (Kolaka, Pembentukan KIM) end to end: /mulai, documents, two returns, the team."""

from __future__ import annotations

from datetime import date

from bot.conversations.render import day_text
from fakebotapi import FakeUser, SentMessage
from tests.e2e.test_print_e2e import pdf_text
from tests.support.kimbot import KimBot, text
from tests.support.kolaka import (
    DOCX,
    SUBJECT,
    act,
    activity,
    is_task,
    kolaka,
    last_id,
    said,
    start_by_mulai,
    task,
)

ORDER = "Laksanakan pembentukan KIM Wundulako."
BRIEF = "Koordinasi dengan camat Wundulako."
RETURNS = ["Perbaiki dasar hukum.", "Tambahkan jadwal kegiatan."]
V1 = b"PK\x03\x04 konsep naskah dinas versi 1"
V2 = b"%PDF-1.4\n% konsep naskah dinas versi 2 (diketik)\n%%EOF\n"
TITLE = "Konsep naskah dinas"


def labels(user: FakeUser, message: SentMessage) -> list[str]:
    return [label for row in user.buttons(message) for label, _ in row]


def file_data(kimbot: KimBot, message: SentMessage) -> bytes:
    file_id = message.document or message.photo
    assert file_id is not None, message.describe()
    stored = kimbot.api.get_file(file_id)
    assert stored is not None
    assert stored.data is not None
    return stored.data


def documents(user: FakeUser) -> list[SentMessage]:
    return [m for m in user.messages if m.kind in ("document", "photo")]


def returned(user: FakeUser) -> list[SentMessage]:
    first_line = text("notify.task_returned").splitlines()[0]
    return [m for m in user.messages if m.content.startswith(first_line)]


async def test_kim_formation_from_mulai_to_the_printed_sheet(kimbot: KimBot) -> None:
    office = await kolaka(kimbot)
    wulan = await kimbot.official("Wulan", "kasi", "kolaka")  # a second Kasi: never acts
    kadis, kabid, kasi, staf = office.kadis, office.kabid, office.kasi, office.staf
    andi, citra, eko = office.tim

    # The Kepala Dinas starts it with /mulai and, holding step 1, gets its task.
    agenda = await start_by_mulai(kimbot, kadis)
    assert agenda.startswith("001/SM/DISKOMINFO-KLK/")
    first = await task(kimbot, kadis, 1)
    lines = (first.text or "").splitlines()
    assert f"No. agenda: {agenda}" in lines
    assert f"Perihal: {SUBJECT}" in lines
    assert f"Langkah 1: {activity(kimbot, 1)}" in lines
    assert labels(kadis, first) == ["Perintahkan Kabid", text("button.trail")]
    await act(kimbot, kadis, 1, "Perintahkan Kabid", ORDER)
    await act(kimbot, kabid, 2, "Beri petunjuk teknis", BRIEF)

    # Step 3: the Kasi attaches the konsep (v1) with a note in the caption.
    step3 = await task(kimbot, kasi, 3)
    assert labels(kasi, step3) == ["Konsep siap, serahkan untuk diketik",
                                   text("button.attach_document"), text("button.trail")]
    [ask] = await kasi.click(text("button.attach_document"), message=step3)
    assert ask.text == text("doc.ask", title=TITLE, agenda=agenda)
    [saved] = await kasi.send_document("konsep_v1.docx", V1, DOCX, caption="Konsep awal")
    assert saved.text == text("doc.saved", title=TITLE, version=1, agenda=agenda)
    await act(kimbot, kasi, 3, "Konsep siap")

    # Step 4: the Staf gets v1 with the task and replaces it with the typed v2.
    step4 = await task(kimbot, staf, 4)
    [v1] = documents(staf)
    assert v1.caption == f"{TITLE} v1"
    assert file_data(kimbot, v1) == V1
    assert v1.message_id < step4.message_id
    await staf.click(text("button.attach_document"), message=step4)
    [saved] = await staf.send_document("konsep_v2.pdf", V2, "application/pdf",
                                       caption="Sudah diketik dan distempel")
    assert saved.text == text("doc.saved", title=TITLE, version=2, agenda=agenda)
    await act(kimbot, staf, 4, "Sudah diketik")

    # Step 5 → 6: the Kabid's task carries the latest version only (v2).
    await act(kimbot, kasi, 5, "Paraf & teruskan ke Kabid", "")
    step6 = await task(kimbot, kabid, 6)
    [v2] = documents(kabid)
    assert v2.caption == f"{TITLE} v2"
    assert file_data(kimbot, v2) == V2
    assert v2.message_id < step6.message_id

    # The Kabid returns the konsep twice; each time the same Kasi (Rina) gets it with the note.
    for number, note in enumerate(RETURNS, start=1):
        kasi_mark, kabid_mark = last_id(kasi), last_id(kabid)
        await act(kimbot, kabid, 6, "Kembalikan ke Kasi", note, after=step6.message_id - 1)
        back = await task(kimbot, kasi, 5, after=kasi_mark)
        assert len(returned(kasi)) == number
        assert back.content.startswith(text("notify.task_returned").splitlines()[0])
        back_lines = back.content.splitlines()
        assert f"Catatan: {note}" in back_lines
        assert "Dari: Budi" in back_lines
        await act(kimbot, kasi, 5, "Paraf & teruskan ke Kabid", f"Sudah diperbaiki ({number})",
                  after=back.message_id - 1)
        step6 = await task(kimbot, kabid, 6, after=kabid_mark)
    assert returned(wulan) == []
    assert len(documents(kabid)) == 1  # v2 is not sent again

    await act(kimbot, kabid, 6, "Paraf & teruskan ke Sekdis", "", after=step6.message_id - 1)
    await act(kimbot, office.sekdis, 7, "Paraf & teruskan ke Kadis", "")
    await act(kimbot, kadis, 8, "Tandatangani")
    await act(kimbot, kasi, 9, "Terima & serahkan")
    await act(kimbot, staf, 10, "Terdaftar & terkirim")

    # Step 11: no forward without a team; the Kasi picks two of the three Tim members.
    step11 = await task(kimbot, kasi, 11)
    assert labels(kasi, step11) == ["Tim siap berangkat", text("button.team"),
                                    text("button.trail")]
    assert await kasi.click("Tim siap berangkat", message=step11) == []
    answer = kasi.last_callback_answer
    assert answer is not None
    assert answer.text == text("error.team_required")
    assert answer.show_alert

    [picker] = await kasi.click(text("button.team"), message=step11)
    assert picker.text == text("team.choose", agenda=agenda, subject=SUBJECT, count=0)
    assert labels(kasi, picker) == ["▫️ Andi", "▫️ Citra", "▫️ Eko", text("button.team_next")]
    [picker] = await kasi.click("Andi", message=picker)
    [picker] = await kasi.click("Citra", message=picker)
    assert picker.text == text("team.choose", agenda=agenda, subject=SUBJECT, count=2)
    assert labels(kasi, picker) == ["✅ Andi", "✅ Citra", "▫️ Eko", text("button.team_next")]
    await kasi.click(text("button.team_next"), message=picker)
    ask = await said(kimbot, kasi, text("team.ask_date", names="Andi, Citra"), picker)
    assert not picker.has_inline_keyboard  # the choice is closed
    days = [data for row in kasi.buttons(ask) for _, data in row]
    assert len(days) == 5
    assert days[0] is not None
    raw = days[0].split()[-1]
    duty = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    assert duty > date.today()
    await kasi.click(data=days[0], message=ask)
    assigned = text("team.assigned", agenda=agenda, date=day_text("id", duty),
                    names="• Andi\n• Citra")
    assert (await said(kimbot, kasi, assigned, ask)).text == assigned
    assert not ask.has_inline_keyboard  # the date buttons are closed

    # Each chosen member is told; Eko is not.
    told = text("notify.team_assigned", agenda=agenda, subject=SUBJECT,
                duty_date=day_text("id", duty), by_name="Rina")
    await kimbot.api.wait_until(lambda: all(told in m.texts() for m in (andi, citra)))
    assert told not in eko.texts()
    team_line = text("line.team", names="Andi, Citra", date=day_text("id", duty))
    [sheet] = await kasi.send(f"/disposisi {agenda}")
    assert team_line.strip() in (sheet.text or "")

    # Step 12 goes to the assigned team only, with the team on the task.
    await act(kimbot, kasi, 11, "Tim siap berangkat")
    step12 = await task(kimbot, andi, 12)
    await task(kimbot, citra, 12)
    assert team_line.strip() in (step12.text or "")
    await eko.expect_silence(0.2)
    assert not any(is_task(m, 12) for m in eko.messages)
    [none] = await eko.send("/tugas")
    assert none.text == text("tasks.none")

    await act(kimbot, andi, 12, "Kegiatan terlaksana")
    await act(kimbot, citra, 13, "Serahkan bahan laporan")
    await act(kimbot, kasi, 14, "Serahkan laporan ke Kabid")
    await act(kimbot, kabid, 15, "Sesuai, serahkan ke Kadis")
    await act(kimbot, kadis, 16, "Laporan diterima")
    last = await act(kimbot, staf, 17, "Didokumentasikan")
    assert text("act.done_finished", action="Didokumentasikan & selesai",
                agenda=agenda) in (last.text or "")

    # The Kadis, who started it, follows it in /status, team included.
    [status] = await kadis.send("/status")
    assert agenda in (status.text or "")
    assert f"Status: {text('status.finished')}" in (status.text or "")
    assert team_line.strip() in (status.text or "")

    # /dokumen lists both versions (who, note) and resends a chosen one.
    [listing] = await kadis.send(f"/dokumen {agenda}")
    body = listing.text or ""
    assert body.startswith(text("docs.header", agenda=agenda, subject=SUBJECT))
    assert f"v1 — {TITLE} (langkah 3)\nRina, " in body
    assert f"v2 — {TITLE} (langkah 4)\nSari, " in body
    assert "Catatan: Konsep awal" in body
    assert "Catatan: Sudah diketik dan distempel" in body
    assert labels(kadis, listing) == [text("button.send_version", version=1),
                                      text("button.send_version", version=2)]
    [resent] = await kadis.click(text("button.send_version", version=1), message=listing)
    assert resent.kind == "document"
    assert resent.caption == text("docs.caption", title=TITLE, version=1, agenda=agenda)
    assert file_data(kimbot, resent) == V1

    # The lembar disposisi shows every action, the returns with their notes, the documents.
    [sheet] = await kadis.send(f"/disposisi {agenda}")
    body = sheet.text or ""
    assert body.count("• Langkah") == 1 + 17 + 4 + 2 + 1  # start, steps, returns+redo, docs, team
    for note in RETURNS:
        assert f"Catatan: {note}" in body
    assert body.count(text("kind.dokumen")) == 2
    assert text("kind.tim") in body

    # /cetak: the printed sheet has the agenda number, the return notes and the team.
    [printed] = await kadis.send(f"/cetak {agenda}")
    content = pdf_text(kimbot, printed)
    for expected in [agenda, *RETURNS, "Andi", "Citra", "PEMERINTAH KABUPATEN KOLAKA"]:
        assert expected in content, expected
    assert "Eko" not in content
