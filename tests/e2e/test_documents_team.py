"""Refusals around /mulai, the working document and the field team (seed 001)."""

from __future__ import annotations

from datetime import date, timedelta

from bot.conversations import intents
from bot.conversations.render import day_text
from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import PDF, KimBot, text
from tests.support.kolaka import (
    SUBJECT,
    act,
    case_ref,
    kolaka,
    said,
    start_by_mulai,
    task,
    to_step_11,
)


def alert(user: FakeUser) -> str:
    answer = user.last_callback_answer
    assert answer is not None
    assert answer.show_alert, answer
    return answer.text or ""


async def press(kimbot: KimBot, user: FakeUser, message: SentMessage, data: str) -> str:
    """`user` presses forged/old `data` on `message`; returns the alert text."""
    answer = await kimbot.press_as(user, message, data)
    assert answer.show_alert, answer
    return answer.text or ""


async def test_only_the_holder_of_the_starting_role_may_start_an_internal_sop(
    kimbot: KimBot,
) -> None:
    office = await kolaka(kimbot, tim=())
    wati = await kimbot.member()
    stranger = kimbot.person("Tamu")
    for user in (office.staf, office.kasi, wati, stranger):
        [refusal] = await user.send("/mulai")
        assert refusal.text == text("mulai.not_allowed"), user
        assert not refusal.has_inline_keyboard

    # The alias works too; a cancelled summary starts nothing.
    [choose] = await office.kadis.send("/start_sop")
    assert choose.text == text("mulai.choose")
    await office.kadis.click("Pembentukan KIM", message=choose)
    await said(kimbot, office.kadis, text("mulai.ask_subject", sop="Pembentukan KIM"), choose)
    assert [m.text for m in await office.kadis.send("   ")] == [text("error.empty_answer")]
    await office.kadis.send(SUBJECT)
    [summary] = await office.kadis.send("Bentuk KIM.")
    await office.kadis.click(text("button.cancel"), message=summary)
    await said(kimbot, office.kadis, text("mulai.cancelled"), summary)
    assert kimbot.cases() == 0

    # A second press on the summary's start button cannot start it twice.
    [choose] = await office.kadis.send("/mulai")
    await office.kadis.click("Pembentukan KIM", message=choose)
    await said(kimbot, office.kadis, text("mulai.ask_subject", sop="Pembentukan KIM"), choose)
    await office.kadis.send(SUBJECT)
    [summary] = await office.kadis.send("Bentuk KIM.")
    _, data = summary.buttons()[0][0]
    assert data is not None
    await office.kadis.click(text("button.start_sop"), message=summary)
    receipt = await said(kimbot, office.kadis, "✅ Pembentukan KIM dimulai.", summary)
    agenda_line = next(line for line in (receipt.text or "").splitlines()
                       if line.startswith("Nomor agenda: "))
    agenda = agenda_line.removeprefix("Nomor agenda: ")
    assert await press(kimbot, office.kadis, summary, data) == text(
        "mulai.already_started", agenda=agenda)
    assert kimbot.cases() == 1


async def test_attaching_is_refused_where_the_step_has_no_document(kimbot: KimBot) -> None:
    office = await kolaka(kimbot, tim=())
    agenda = await start_by_mulai(kimbot, office.kadis)
    step1 = await task(kimbot, office.kadis, 1)
    case_id, version = case_ref(step1)
    assert text("button.attach_document") not in [
        label for row in step1.buttons() for label, _ in row]
    attach_at_1 = intents.DocAttach(case_id, version).encode()
    assert await press(kimbot, office.kadis, step1, attach_at_1) == (
        text("error.no_document_here"))

    await act(kimbot, office.kadis, 1, "Perintahkan Kabid", "Laksanakan.")
    await act(kimbot, office.kabid, 2, "Beri petunjuk teknis", "Koordinasi.")
    step3 = await task(kimbot, office.kasi, 3)
    _, version = case_ref(step3)
    # Someone who does not hold step 3, and the old version of the case, are refused.
    attach = intents.DocAttach(case_id, version).encode()
    assert await press(kimbot, office.kabid, step3, attach) == text("error.not_allowed")
    assert await press(kimbot, office.kasi, step3, intents.DocAttach(case_id, 1).encode()) == text(
        "error.stale", agenda=agenda)

    # The holder must send a photo or an accepted file; a video or plain text is not one.
    await office.kasi.click(text("button.attach_document"), message=step3)
    assert [m.text for m in await office.kasi.send("ini konsepnya")] == [
        text("error.expect_file")]
    assert [m.text for m in await office.kasi.send_document("x.zip", b"PK", "application/zip")
            ] == [text("error.file_type")]
    [saved] = await office.kasi.send_photo(caption="Foto konsep")
    assert saved.text == text("doc.saved", title="Konsep naskah dinas", version=1,
                              agenda=agenda)

    # /dokumen: usage, unknown numbers and people outside the office are refused.
    [usage] = await office.kasi.send("/dokumen")
    assert usage.text == text("docs.usage")
    missing = "999/SM/DISKOMINFO-KLK/2026"
    [unknown] = await office.kasi.send(f"/dokumen {missing}")
    assert unknown.text == text("print.not_found", agenda=missing)
    wati = await kimbot.member()
    [refused] = await wati.send(f"/dokumen {agenda}")
    assert refused.text == text("error.not_allowed")
    [listing] = await office.staf.send(f"/dokumen {agenda}")
    assert "v1 — Konsep naskah dinas (langkah 3)\nRina, " in (listing.text or "")
    [resent] = await office.staf.click(text("button.send_version", version=1), message=listing)
    assert resent.kind == "photo"
    forged = intents.DocSend(case_id, 1).encode()
    assert await press(kimbot, wati, listing, forged) == text("error.not_allowed")


async def test_a_new_case_has_no_document_versions(kimbot: KimBot) -> None:
    office = await kolaka(kimbot, tim=())
    agenda = await start_by_mulai(kimbot, office.kadis)
    [none] = await office.kabid.send(f"/dokumen {agenda}")
    assert none.text == text("docs.none", agenda=agenda)


async def test_team_refusals_and_a_stale_team_button(kimbot: KimBot) -> None:
    office = await kolaka(kimbot)
    andi, citra, eko = office.tim
    kasi = office.kasi
    agenda = await to_step_11(kimbot, office)
    step11 = await task(kimbot, kasi, 11)
    case_id, version = case_ref(step11)

    # Only the holder opens the picker; "Lanjut" needs someone chosen.
    team_data = intents.Team(case_id, version).encode()
    assert await press(kimbot, office.kabid, step11, team_data) == text("error.not_allowed")
    [picker] = await kasi.click(text("button.team"), message=step11)
    assert await kasi.click(text("button.team_next"), message=picker) == []
    assert alert(kasi) == text("error.team_required")
    # A person without the Tim role cannot be slipped in with forged data.
    staf_id = kimbot.user_row(office.staf).id
    assert staf_id is not None
    forged = intents.TeamToggle(case_id, version, staf_id).encode()
    assert await press(kimbot, kasi, picker, forged) == text("error.not_team_member")

    [picker] = await kasi.click("Andi", message=picker)
    [picker] = await kasi.click("Andi", message=picker)  # unchosen again
    assert picker.buttons()[0][0][0] == "▫️ Andi"
    [picker] = await kasi.click("Citra", message=picker)
    await kasi.click(text("button.team_next"), message=picker)
    await said(kimbot, kasi, text("team.ask_date", names="Citra"), picker)
    for typed, error in [("besok", "error.bad_date"), ("2026-02-30", "error.bad_date"),
                         ("2020-01-01", "error.date_past")]:
        assert [m.text for m in await kasi.send(typed)] == [text(error)], typed
    duty = date.today() + timedelta(days=10)
    [done] = await kasi.send(duty.isoformat())
    assert done.text == text("team.assigned", agenda=agenda, date=day_text("id", duty),
                             names="• Citra")
    told = text("notify.team_assigned", agenda=agenda, subject=SUBJECT,
                duty_date=day_text("id", duty), by_name="Rina")
    await kimbot.api.wait_until(lambda: told in citra.texts())
    assert told not in andi.texts()

    await act(kimbot, kasi, 11, "Tim siap berangkat")
    step12 = await task(kimbot, citra, 12)

    # An old "Atur tim" button (e.g. from /tugas), after the step moved on, is stale.
    assert await press(kimbot, kasi, step11, team_data) == text("error.stale", agenda=agenda)
    # At step 12 no team is arranged, and a Tim member outside the team cannot act.
    _, version12 = case_ref(step12)
    assert await press(kimbot, citra, step12, intents.Team(case_id, version12).encode()) == text(
        "error.no_team_here")
    done_12 = intents.Act(case_id, version12, "laksana").encode()
    assert await press(kimbot, eko, step12, done_12) == (
        text("error.not_allowed"))
    await act(kimbot, citra, 12, "Kegiatan terlaksana")
    await task(kimbot, citra, 13)


async def test_the_buttons_speak_english_to_an_english_official(kimbot: KimBot) -> None:
    office = await kolaka(kimbot, tim=())
    await office.kasi.send("/bahasa")
    await office.kasi.click("English")
    await start_by_mulai(kimbot, office.kadis)
    await act(kimbot, office.kadis, 1, "Perintahkan Kabid", "Laksanakan.")
    await act(kimbot, office.kabid, 2, "Beri petunjuk teknis", "Koordinasi.")
    step3 = await task(kimbot, office.kasi, 3)
    assert text("button.attach_document", "en") in [
        label for row in step3.buttons() for label, _ in row]
    [ask] = await office.kasi.click(text("button.attach_document", "en"), message=step3)
    assert ask.text == text("doc.ask", "en", title="Konsep naskah dinas",
                            agenda=(step3.text or "").split("Agenda no.: ")[1].split("\n")[0])
    [saved] = await office.kasi.send_document("konsep.pdf", PDF, "application/pdf")
    assert (saved.text or "").startswith("✅ Konsep naskah dinas version 1")
