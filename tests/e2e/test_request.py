"""A member's service request: purpose, documents, summary, receipt, /status."""

from __future__ import annotations

import re

from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import PDF, KimBot, text

SERVICE = "Permohonan pelayanan bagi anggota KIM"
LUMAJANG = "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
SUBJECT = "Permohonan pelayanan bagi anggota KIM - KIM Sumber Makmur"
AGENDA = re.compile(r"Nomor agenda: (\d{3}/SM/DISKOMINFO-LMJ/\d{4})")
WHEN_WIB = r"\w+, \d{1,2} \w+ \d{4} \d\d\.\d\d WIB"


def texts(messages: list[SentMessage]) -> list[str]:
    return [m.content for m in messages]


def ask_document(index: int) -> str:
    item = ["Print Out Berita", "Surat Tugas"][index - 1]
    return text("req.ask_document", item=item, index=index, total=2)


def then(first: str, second: str) -> str:
    """An acknowledgement and the next question, sent as one message."""
    return f"{first}\n\n{second}"


def labels(user: FakeUser, message: SentMessage) -> list[str]:
    return [label for row in user.buttons(message) for label, _ in row]


async def fill_request(member: FakeUser, purpose: str = "Mohon peliputan kegiatan KIM.") -> (
        SentMessage):
    """Go as far as the summary; return it."""
    await member.send("/permohonan")
    await member.click("Permohonan pelayanan")
    await member.send(purpose)
    await member.send_photo()
    replies = await member.send_document("surat_tugas.pdf", PDF, "application/pdf")
    return replies[-1]


async def test_the_request_conversation_from_service_to_receipt(kimbot: KimBot) -> None:
    await kimbot.official("Sari", "staf")
    wati = await kimbot.member()

    [choose] = await wati.send("/permohonan")
    assert choose.text == text("req.choose_service")
    assert labels(wati, choose) == [SERVICE]

    await wati.click(SERVICE)
    # The menu became the question, without its buttons.
    assert choose.text == text("req.ask_purpose", service=SERVICE)
    assert not choose.has_inline_keyboard

    assert texts(await wati.send("Mohon peliputan kegiatan KIM.")) == [ask_document(1)]
    assert texts(await wati.send_photo()) == [
        then(text("req.document_ok", item="Print Out Berita"), ask_document(2))]
    [summary] = await wati.send_document("surat_tugas.pdf", PDF, "application/pdf")
    assert summary.text == then(text("req.document_ok", item="Surat Tugas"), text(
        "req.summary", service=SERVICE, name="Wati Susanti", group="KIM Sumber Makmur",
        purpose="Mohon peliputan kegiatan KIM.",
        files="• Print Out Berita: foto.jpg\n• Surat Tugas: surat_tugas.pdf"))
    rows = wati.buttons(summary)
    assert [[label for label, _ in row] for row in rows] == [
        [text("button.send")],
        [text("button.edit_purpose"), text("button.redo_documents")],
        [text("button.cancel")],
    ]
    verbs = [re.fullmatch(r"r (\w+) ([\w-]{8})", data or "") for row in rows for _, data in row]
    assert [m.group(1) for m in verbs if m] == ["send", "edit", "docs", "cancel"]
    assert len({m.group(2) for m in verbs if m}) == 1  # one draft behind all four

    changed = await wati.click("Kirim")
    receipt = changed[-1]
    match = AGENDA.search(receipt.text or "")
    assert match, receipt.text
    agenda = match.group(1)
    assert agenda.startswith("001/SM/DISKOMINFO-LMJ/")
    lines = (receipt.text or "").splitlines()
    assert lines[0] == "📨 Tanda terima"
    assert LUMAJANG in lines[1]
    assert any(re.fullmatch(f"Diterima: {WHEN_WIB}", line) for line in lines)
    assert f"Perihal: {SUBJECT}" in lines
    # The summary's buttons are gone once sent.
    assert not summary.has_inline_keyboard


async def test_wrong_files_and_texts_are_refused_where_they_do_not_fit(kimbot: KimBot) -> None:
    wati = await kimbot.member()
    await wati.send("/permohonan")
    await wati.click(SERVICE)

    # The purpose must be text, not empty and at most 2000 characters.
    assert texts(await wati.send_photo()) == [text("error.expect_text")]
    assert texts(await wati.send("   ")) == [text("error.empty_answer")]
    assert texts(await wati.send("x" * 2001)) == [text("error.too_long", limit=2000)]
    assert texts(await wati.send("Mohon peliputan.")) == [ask_document(1)]

    # Files that are not accepted, and text where a file is expected.
    refused = text("error.file_type")
    assert "tidak diterima" in refused
    zipped = await wati.send_document("berkas.zip", b"PK\x03\x04", "application/zip")
    assert texts(zipped) == [refused]
    assert texts(await wati.send_document("lagu.mp3", b"ID3", "audio/mpeg")) == [refused]
    video = {"file_id": "vid1", "file_unique_id": "v1", "width": 2, "height": 2, "duration": 1}
    assert texts(await kimbot.send_raw_message(wati, video=video)) == [refused]
    audio = {"file_id": "aud1", "file_unique_id": "a1", "duration": 1}
    assert texts(await kimbot.send_raw_message(wati, audio=audio)) == [refused]
    voice = {"file_id": "voc1", "file_unique_id": "o1", "duration": 1}
    assert texts(await kimbot.send_raw_message(wati, voice=voice)) == [refused]
    assert texts(await wati.send("ini suratnya")) == [
        then(text("error.expect_file"), ask_document(1))]

    # Still the first document: a good one is taken as "Print Out Berita".
    assert texts(await wati.send_document("berita.pdf", PDF, "application/pdf")) == [
        then(text("req.document_ok", item="Print Out Berita"), ask_document(2))]
    # A typed message on the summary only points at the buttons.
    await wati.send_document("tugas.docx", b"PK\x03\x04", "application/vnd.openxmlformats-"
                             "officedocument.wordprocessingml.document")
    assert texts(await wati.send("kirim")) == [text("req.use_buttons")]


async def test_summary_buttons_edit_replace_and_cancel(kimbot: KimBot) -> None:
    wati = await kimbot.member()
    summary = await fill_request(wati, "Maksud pertama.")

    replies = await wati.click("Ubah maksud", message=summary)
    assert texts(replies)[-1] == text("req.ask_purpose_again")
    # The documents are kept: the new purpose leads straight back to the summary.
    [summary] = await wati.send("Maksud kedua.")
    assert "Maksud dan tujuan: Maksud kedua." in (summary.text or "")
    assert "• Surat Tugas: surat_tugas.pdf" in (summary.text or "")

    replies = await wati.click("Ganti berkas", message=summary)
    assert texts(replies)[-1] == ask_document(1)
    await wati.send_document("berita_baru.pdf", PDF, "application/pdf")
    [summary] = await wati.send_document("tugas_baru.pdf", PDF, "application/pdf")
    assert "• Print Out Berita: berita_baru.pdf\n• Surat Tugas: tugas_baru.pdf" in (
        summary.text or "")
    assert "surat_tugas.pdf" not in (summary.text or "")

    [[(_, send_data)], *_] = wati.buttons(summary)
    assert send_data is not None
    replies = await wati.click("Batal", message=summary)
    assert texts(replies)[-1] == text("req.cancelled")
    assert not summary.has_inline_keyboard
    # Nothing was registered.
    assert texts(await wati.send("/status")) == [text("status.none")]
    [book] = await kimbot.admin.send("/agenda")
    assert "(0 surat)" in (book.text or "")
    # The cancelled summary's Kirim, pressed anyway (an old client), is refused.
    assert await wati.click(data=send_data, message=summary) == []
    answer = wati.last_callback_answer
    assert answer is not None
    assert (answer.text, answer.show_alert) == (text("error.stale_button"), True)
    assert texts(await wati.send("/status")) == [text("status.none")]
    assert texts(await wati.send("lanjut")) == [text("idle.registered")]


async def test_two_requests_get_001_then_002_and_status_shows_them(kimbot: KimBot) -> None:
    await kimbot.official("Sari", "staf")
    await kimbot.official("Ana", "staf")
    wati = await kimbot.member()

    first = await kimbot.submit(wati, "Permohonan pertama.")
    second = await kimbot.submit(wati, "Permohonan kedua.")
    assert first.split("/")[0] == "001"
    assert second.split("/")[0] == "002"
    assert first.split("/")[1:] == second.split("/")[1:]

    [status] = await wati.send("/status")
    body = status.text or ""
    assert body.startswith(text("status.header", count=2))
    blocks = body.split("\n\n")[1:]
    assert [b.splitlines()[0] for b in blocks] == [
        f"📄 {second} — {SUBJECT}", f"📄 {first} — {SUBJECT}"]
    for block in blocks:
        lines = block.splitlines()
        assert f"Status: {text('status.open')}" in lines
        assert "Langkah 1: Anggota KIM menemui petugas" in lines  # the step
        assert "Ditangani: Staf Administrasi (Ana, Sari)" in lines  # holder role and names
        assert any(re.fullmatch(f"Sejak: {WHEN_WIB}", line) for line in lines)  # since when
    complain = text("button.complaint_of")  # each request's line has its complaint button
    assert labels(wati, status) == [f"📋 {second}", complain, f"📋 {first}", complain]


async def test_pressing_kirim_twice_registers_one_letter(kimbot: KimBot) -> None:
    wati = await kimbot.member()
    summary = await fill_request(wati)
    [[(_, send_data)], *_] = wati.buttons(summary)
    assert send_data is not None

    # Two quick presses, both queued before the bot handles the first.
    first = kimbot.api.push_callback(wati.user, summary, send_data)
    second = kimbot.api.push_callback(wati.user, summary, send_data)
    ids = [str(u["callback_query"]["id"]) for u in (first, second)]
    await kimbot.api.wait_until(
        lambda: all(kimbot.api.callback_answer(i) is not None for i in ids))
    await wati.wait_quiet()
    receipts = [m for m in wati.messages if AGENDA.search(m.text or "")]
    assert len(receipts) == 1
    agenda = AGENDA.search(receipts[0].text or "")
    assert agenda
    already = text("req.already_sent", agenda=agenda.group(1))
    assert "sudah terkirim" in already
    late = kimbot.api.callback_answer(ids[1])
    assert late is not None
    assert (late.text, late.show_alert) == (already, True)
    messages_before = len(wati.messages)

    # The same button again later (an old client still showing it): not sent again either.
    assert await wati.click(data=send_data, message=summary) == []
    answer = wati.last_callback_answer
    assert answer is not None
    assert (answer.text, answer.show_alert) == (already, True)
    assert len(wati.messages) == messages_before

    [status] = await wati.send("/status")
    assert (status.text or "").startswith(text("status.header", count=1))
    [book] = await kimbot.admin.send("/agenda")
    assert "(1 surat)" in (book.text or "")


async def test_a_member_of_an_office_without_services_is_told_so(kimbot: KimBot) -> None:
    ode = await kimbot.member("Ode Rahman", office="Kolaka")
    assert texts(await ode.send("/permohonan")) == [text("req.no_services")]
    # A Lumajang service button, forged on their own chat, is refused.
    answer = await kimbot.press_as(ode, ode.messages[-1], "s lmj-layanan-kim")
    assert (answer.text, answer.show_alert) == (text("error.forged"), True)
    assert texts(await ode.send("/status")) == [text("status.none")]
