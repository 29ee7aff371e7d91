"""A member's own data (UU PDP): /dataku shows it; /hapus_data erases it, keeping the letters."""

from __future__ import annotations

from sqlmodel import select

from bot.clock import from_db
from bot.conversations import intents
from bot.models import Attachment, Case, User
from tests.support.catalog import help_section
from tests.support.kimbot import CATALOG, KimBot, text

LUMAJANG = "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
ERASED = "Anggota KIM (dihapus)"


async def reply(user: object, command: str) -> str:
    [message] = await user.send(command)  # type: ignore[attr-defined]
    return message.text or ""


async def test_dataku_shows_what_the_bot_holds(kimbot: KimBot) -> None:
    await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    await kimbot.submit(wati)
    registered = kimbot.user_row(wati).registered_at
    assert registered is not None
    shown = await reply(wati, "/dataku")
    assert shown == text(
        "privacy.data", full_name="Wati Susanti", display_name="Wati Susanti",
        external_id=wati.user_id, kim_group="KIM Sumber Makmur", village="Desa Tempeh Tengah",
        district="Kecamatan Tempeh", phone="+6281234567890", office=LUMAJANG,
        registered=CATALOG.when("id", from_db(registered), "Asia/Jakarta"),
        lang_name=text("privacy.lang_auto", lang_name="Bahasa Indonesia"),
        subscribed=text("privacy.subscribed_yes"), roles="-", cases=1, attachments=2)

    # In English, with the language chosen in the bot.
    await wati.send("/bahasa")
    await wati.click("English")
    shown = await reply(wati, "/mydata")
    assert "Language: English\n" in shown
    assert "Requests: 1\nFiles you sent: 2\n" in shown

    # An official sees their roles.
    sari = kimbot.person("Sari")
    await kimbot.admin.send("/undang lumajang kasi")
    code = (kimbot.admin.last_message.text or "").split("start=")[1].split()[0]
    await sari.send(f"/start {code}")
    assert "Peran: Kepala Seksi (DISKOMINFO-LMJ)\n" in await reply(sari, "/dataku")


async def test_erasure_keeps_the_letter_but_not_the_person(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    await kimbot.task(sari, 1)
    row = kimbot.user_row(wati)

    [question] = await wati.send("/hapus_data")
    assert question.text == text("privacy.erase_confirm", cases=1)
    assert [label for [(label, _)] in wati.buttons(question)] == [
        text("button.erase_yes"), text("button.erase_no")]
    _yes = wati.buttons(question)[0][0][1]
    await wati.click(text("button.erase_no"), message=question)
    assert wati.last_message is not None
    assert wati.last_message.text == text("privacy.erase_cancelled")
    assert wati.buttons(question) == []
    # The old "yes" no longer counts.
    answer = await kimbot.press_as(wati, question, _yes or "")
    assert answer.text == text("error.stale_button")
    assert kimbot.user_row(wati).full_name == "Wati Susanti"

    assert kimbot.svc is not None
    with kimbot.svc.db.session() as session:
        blobs = [a.blob_hash for a in session.exec(select(Attachment)).all()]
    assert len(blobs) == 2
    assert all(blob and kimbot.svc.files.has(blob) for blob in blobs)  # kept by the bot

    [question] = await wati.send("/hapus_data")
    await wati.click(text("button.erase_yes"), message=question)
    # The bytes she sent are gone from the bot's file store too.
    assert not any(kimbot.svc.files.has(blob or "") for blob in blobs)
    assert wati.last_message is not None
    assert wati.last_message.text == text("privacy.erased", cases=1)

    # The profile is gone ...
    assert kimbot.svc is not None
    with kimbot.svc.db.session() as session:
        old = session.get(User, row.id)
        assert old is not None
        assert (old.full_name, old.phone, old.village, old.kim_group, old.district) == (
            ERASED, None, None, None, None)
        assert old.erased_at is not None
        assert not old.subscribed
        files = session.exec(select(Attachment)).all()
        assert [(f.file_ref, f.file_name) for f in files] == [("", ""), ("", "")]
        assert all(f.label for f in files)  # what was received is still on record
        case = session.exec(select(Case)).one()
        assert (case.agenda_number, case.requester_id) == (agenda, row.id)
    # ... the letter is not: it is still in the agenda book, its sheet names nobody.
    book = await reply(kimbot.admin, "/agenda")
    assert agenda in book
    sheet = await reply(sari, f"/disposisi {agenda}")
    assert f"{ERASED} ({text('role.pemohon')}) {text('kind.submit')}" in sheet
    assert f"{ERASED} ({text('role.pemohon')}) {text('kind.erase')}" in sheet
    assert "Wati" not in sheet
    assert "+6281234567890" not in sheet
    # The admin no longer finds her.
    assert await reply(kimbot.admin, "/anggota lumajang") == "\n".join([
        text("members.header", offices="DISKOMINFO-LMJ", count=0, page=1, pages=1), "",
        text("members.none")])
    assert await reply(kimbot.admin, f"/anggota_lihat {wati.user_id}") == text(
        "admin.unknown_user", user=str(wati.user_id))

    # To the bot she is someone new, who may register again.
    again = await reply(wati, "/dataku")
    assert "Nama lengkap: -\n" in again
    assert "Permohonan: 0\n" in again
    welcome, ask = await wati.send("/start")
    assert (welcome.text, ask.text) == (text("reg.welcome"), text("reg.ask_full_name"))
    assert kimbot.count(User, User.external_id == str(wati.user_id)) == 1
    # The staf still works the letter; the member's progress message goes nowhere.
    task = await kimbot.task(sari, 1)
    await sari.click(data=sari.buttons(task)[0][0][1], message=task)
    await kimbot.task(sari, 2)
    await wati.expect_silence(0.3)


async def test_an_official_cannot_erase_their_acts(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    assert await reply(sari, "/hapus_data") == text("privacy.erase_official")
    forged_yes = intents.Erase("yes", "AAAAAAAA").encode()
    forged = await kimbot.press_as(sari, sari.messages[-1], forged_yes)
    assert forged.text == text("error.stale_button")
    assert kimbot.user_row(sari).full_name is None
    assert kimbot.user_row(sari).erased_at is None


async def test_the_member_help_names_the_privacy_commands(kimbot: KimBot) -> None:
    wati = await kimbot.member(language="en")
    [help_text] = await wati.send("/help")
    assert help_text.text == help_section("member", "en")
    assert "/dataku" in (help_text.text or "")
    assert "/hapus_data" in (help_text.text or "")
