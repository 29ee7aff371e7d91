"""/cetak: the lembar disposisi as a PDF document in chat, only for those who may see it."""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader

from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import KimBot, text


def pdf_text(kimbot: KimBot, message: SentMessage) -> str:
    """Download the sent document from the fake server and extract its text."""
    assert message.kind == "document"
    assert message.document is not None
    stored = kimbot.api.get_file(message.document)
    assert stored is not None
    assert stored.data is not None
    assert stored.data.startswith(b"%PDF")
    reader = PdfReader(BytesIO(stored.data))
    return " ".join(" ".join((page.extract_text() or "") for page in reader.pages).split())


async def sheet(user: FakeUser, agenda: str) -> SentMessage:
    [message] = await user.send(f"/cetak {agenda}")
    return message


async def test_a_member_prints_the_disposition_sheet(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member("Wati Susanti")
    agenda = await kimbot.submit(wati)
    task = await kimbot.task(sari, 1)
    await sari.click("Terima berkas", message=task)

    message = await sheet(wati, agenda)
    assert message.media["document"]["file_name"] == (
        "lembar-disposisi-" + agenda.replace("/", "-") + ".pdf")
    assert message.caption == text("print.caption", agenda=agenda)
    content = pdf_text(kimbot, message)
    for expected in ["LEMBAR DISPOSISI", "PEMERINTAH KABUPATEN LUMAJANG", agenda,
                     "Wati Susanti — KIM Sumber Makmur", "Sari", "Nomor agenda"]:
        assert expected in content, expected

    # An official of the office may print it too.
    assert agenda in pdf_text(kimbot, await sheet(sari, agenda))


async def test_the_sheet_follows_the_readers_language(kimbot: KimBot) -> None:
    wati = await kimbot.member("Wati Susanti")
    agenda = await kimbot.submit(wati)
    await wati.send("/bahasa")
    await wati.click("English")
    content = pdf_text(kimbot, await sheet(wati, agenda))
    assert "Agenda number" in content
    assert "Disposition trail" in content
    assert agenda in content


async def test_strangers_and_unknown_numbers_are_refused(kimbot: KimBot) -> None:
    wati = await kimbot.member("Wati Susanti")
    agenda = await kimbot.submit(wati)
    budi = await kimbot.member("Budi Santoso")
    tamu = kimbot.person("Tamu")

    for stranger in (budi, tamu):
        refusal = await sheet(stranger, agenda)
        assert refusal.kind == "text"
        assert refusal.text == text("error.not_allowed")

    missing = "999/SM/DISKOMINFO-LMJ/2026"
    assert (await sheet(wati, missing)).text == text("print.not_found", agenda=missing)
    [usage] = await wati.send("/cetak")
    assert usage.text == text("print.usage")
    assert not kimbot.api.calls_of("sendDocument")
