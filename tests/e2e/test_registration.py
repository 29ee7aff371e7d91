"""A new KIM member registers: questions, the contact button, the office, and every refusal."""

from __future__ import annotations

from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import KimBot, text

LUMAJANG = "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
KOLAKA = "Dinas Komunikasi dan Informatika Kabupaten Kolaka"


def texts(messages: list[SentMessage]) -> list[str]:
    return [m.content for m in messages]


async def answer_up_to_phone(user: FakeUser, name: str = "Wati Susanti") -> None:
    for answer in ["/start", name, "KIM Sumber Makmur", "Desa Tempeh Tengah", "Kecamatan Tempeh"]:
        await user.send(answer)


async def test_a_member_registers_question_by_question(kimbot: KimBot) -> None:
    wati = kimbot.person("Wati")

    assert texts(await wati.send("/start")) == [text("reg.welcome"), text("reg.ask_full_name")]
    assert texts(await wati.send("Wati Susanti")) == [text("reg.ask_kim_group")]
    assert texts(await wati.send("KIM Sumber Makmur")) == [text("reg.ask_village")]
    assert texts(await wati.send("Desa Tempeh Tengah")) == [text("reg.ask_district")]
    [ask_phone] = await wati.send("Kecamatan Tempeh")

    # The phone question comes with a reply keyboard whose one button shares the contact.
    assert ask_phone.text == text("reg.ask_phone")
    [[button]] = (ask_phone.reply_markup or {})["keyboard"]
    assert button == {"text": text("button.share_contact"), "request_contact": True}
    assert wati.reply_keyboard() == [[text("button.share_contact")]]

    saved, ask_office = await wati.share_contact("+6281234567890")
    assert saved.text == text("reg.phone_ok")
    assert wati.reply_keyboard() == []  # the contact keyboard is taken away
    assert ask_office.text == text("reg.ask_office")
    assert [label for row in wati.buttons(ask_office) for label, _ in row] == [LUMAJANG, KOLAKA]

    changed = await wati.click("Lumajang")
    done = changed[-1]
    assert done.text == text("reg.done", name="Wati Susanti", office=LUMAJANG)
    assert "terdaftar sebagai anggota KIM" in done.text
    assert not wati.messages[-2].has_inline_keyboard  # the office buttons are gone

    # Back again: greeted by name, no second registration.
    back = await wati.send("/start")
    assert back[0].text == text("start.back", name="Wati Susanti")
    assert text("reg.ask_full_name") not in texts(back)


async def test_the_office_button_works_only_once(kimbot: KimBot) -> None:
    wati = kimbot.person("Wati")
    await answer_up_to_phone(wati)
    await wati.share_contact("081234567890")
    office_message = wati.messages[-1]
    [[(_, lumajang)], [(_, _kolaka)]] = wati.buttons(office_message)
    assert lumajang is not None
    await wati.click(data=lumajang, message=office_message)

    again = await wati.click(data=lumajang, message=office_message)
    assert again == []
    answer = wati.last_callback_answer
    assert answer is not None
    assert (answer.text, answer.show_alert) == (text("error.stale_button"), True)


async def test_empty_and_whitespace_answers_are_refused_and_the_question_stays(
    kimbot: KimBot,
) -> None:
    wati = kimbot.person("Wati")
    await wati.send("/start")

    assert texts(await wati.send("   ")) == [text("error.empty_answer")]
    assert texts(await wati.send("\n\t ")) == [text("error.empty_answer")]
    # Still the name question: the next answer is taken as the name.
    assert texts(await wati.send("Wati Susanti")) == [text("reg.ask_kim_group")]
    assert texts(await wati.send("  ")) == [text("error.empty_answer")]
    assert texts(await wati.send("KIM Sumber Makmur")) == [text("reg.ask_village")]


async def test_an_answer_over_100_characters_is_refused(kimbot: KimBot) -> None:
    wati = kimbot.person("Wati")
    await wati.send("/start")

    assert texts(await wati.send("W" * 101)) == [text("error.too_long", limit=100)]
    # Exactly 100 characters is still a name.
    assert texts(await wati.send("W" * 100)) == [text("reg.ask_kim_group")]


async def test_a_contact_of_someone_else_is_refused(kimbot: KimBot) -> None:
    wati = kimbot.person("Wati")
    await answer_up_to_phone(wati)

    other = {"phone_number": "+6289999999999", "first_name": "Tetangga", "user_id": 424242}
    refused = await kimbot.send_raw_message(wati, contact=other)
    assert texts(refused) == [text("error.contact_not_yours")]

    # A contact picked from the address book carries no user id: not the member's own either.
    unknown = {"phone_number": "+6289999999999", "first_name": "Tetangga"}
    refused = await kimbot.send_raw_message(wati, contact=unknown)
    assert texts(refused) == [text("error.contact_not_yours")]

    # A photo is not an answer to the phone question: it is asked again with the button.
    [again] = await wati.send_photo()
    assert again.text == text("reg.ask_phone")
    assert wati.reply_keyboard() == [[text("button.share_contact")]]

    assert texts(await wati.send("12345")) == [text("error.bad_phone")]
    saved, _ = await wati.share_contact("+6281234567890")
    assert saved.text == text("reg.phone_ok")


async def test_a_photo_instead_of_a_text_answer(kimbot: KimBot) -> None:
    wati = kimbot.person("Wati")
    await wati.send("/start")
    await wati.send("Wati Susanti")

    replies = await wati.send_photo()
    assert texts(replies) == [text("error.expect_text"), text("reg.ask_kim_group")]
    assert replies[0].text == "Mohon jawab dengan teks."
    assert texts(await wati.send("KIM Sumber Makmur")) == [text("reg.ask_village")]


async def test_batal_stops_registration(kimbot: KimBot) -> None:
    wati = kimbot.person("Wati")
    await answer_up_to_phone(wati)
    assert wati.reply_keyboard() == [[text("button.share_contact")]]

    [cancelled] = await wati.send("/batal")
    assert cancelled.text == text("cancel.done")
    assert wati.reply_keyboard() == []
    # Nothing is running any more.
    assert texts(await wati.send("Kecamatan Tempeh")) == [text("idle.unregistered")]
    assert texts(await wati.send("/batal")) == [text("cancel.nothing")]
    # /start begins again from the first question; nothing was kept.
    assert texts(await wati.send("/start")) == [text("reg.welcome"), text("reg.ask_full_name")]
    assert kimbot.user_row(wati).registered_at is None


async def test_permohonan_during_registration_repeats_the_current_question(
    kimbot: KimBot,
) -> None:
    wati = kimbot.person("Wati")
    await wati.send("/start")
    await wati.send("Wati Susanti")
    await wati.send("KIM Sumber Makmur")

    replies = await wati.send("/permohonan")
    assert texts(replies) == [text("req.register_first"), text("reg.ask_village")]
    # It did not restart: the answers so far are kept and the next one is the village.
    assert texts(await wati.send("Desa Tempeh Tengah")) == [text("reg.ask_district")]
    await wati.send("Kecamatan Tempeh")

    replies = await wati.send("/permohonan")
    assert texts(replies) == [text("req.register_first"), text("reg.ask_phone")]
    assert wati.reply_keyboard() == [[text("button.share_contact")]]

    await wati.share_contact("+6281234567890")
    replies = await wati.send("/permohonan")
    assert texts(replies) == [text("req.register_first"), text("reg.ask_office")]
    await wati.click("Lumajang")
    row = kimbot.user_row(wati)
    assert (row.full_name, row.kim_group, row.village, row.district, row.phone, row.office) == (
        "Wati Susanti", "KIM Sumber Makmur", "Desa Tempeh Tengah", "Kecamatan Tempeh",
        "+6281234567890", "lumajang")


async def test_an_english_speaking_user_gets_english_texts(kimbot: KimBot) -> None:
    john = kimbot.person("John", language="en")

    replies = await john.send("/start")
    assert texts(replies) == [text("reg.welcome", "en"), text("reg.ask_full_name", "en")]
    assert replies[1].text == "What is your full name?"
    assert texts(await john.send(" ")) == [text("error.empty_answer", "en")]
    await john.send("John Smith")
    await john.send("KIM Sumber Makmur")
    await john.send("Desa Tempeh Tengah")
    [ask_phone] = await john.send("Kecamatan Tempeh")
    assert ask_phone.text == text("reg.ask_phone", "en")
    assert john.reply_keyboard() == [[text("button.share_contact", "en")]]
    await john.share_contact("+6281234567890")
    done = (await john.click("Lumajang"))[-1]
    assert done.text == text("reg.done", "en", name="John Smith", office=LUMAJANG)

    assert texts(await john.send("/terbang")) == [text("error.unknown_command", "en")]


async def test_bahasa_switches_the_language(kimbot: KimBot) -> None:
    wati = kimbot.person("Wati")
    await wati.send("/start")

    [choose] = await wati.send("/bahasa")
    assert choose.text == text("lang.choose")
    assert [label for row in wati.buttons(choose) for label, _ in row] == [
        "Bahasa Indonesia", "English"]
    [switched] = await wati.click("English")
    assert switched.message_id == choose.message_id  # the choice is edited into the answer
    assert switched.text == text("lang.set", "en")

    # The registration that was running goes on, now in English.
    assert texts(await wati.send("Wati Susanti")) == [text("reg.ask_kim_group", "en")]
    assert texts(await wati.send_photo()) == [text("error.expect_text", "en"),
                                              text("reg.ask_kim_group", "en")]

    await wati.send("/bahasa")
    [switched] = await wati.click("Bahasa Indonesia")
    assert switched.text == text("lang.set", "id")
    assert texts(await wati.send("/batal")) == [text("cancel.done", "id")]
