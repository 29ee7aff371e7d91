"""The SKM survey and complaints driven through the core with no channel (ChatHub)."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import col, select

from bot.clock import ManualClock, from_db
from bot.conversations.events import Command, Inbound, Press, Sender
from bot.conversations.intents import ComplaintAct, SurveyAct, SurveyAnswer
from bot.models import Case, Complaint, Notification, RespondentProfile, Survey
from bot.services import Services, build_services
from bot.settings import Settings
from tests.e2e.test_core_flows import ADMIN, act, member, official
from tests.support.catalog import text
from tests.support.chat import JPEG, PDF, ChatHub, ChatPerson


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    settings = Settings(_env_file=None, DATABASE_URL=database_url,
                        KIMBOT_ADMIN_IDS=ADMIN)
    services = build_services(settings, clock=clock)
    try:
        yield services
    finally:
        services.db.dispose()


@pytest.fixture
def hub(svc: Services) -> ChatHub:
    return ChatHub(svc)


# One respondent's answers by button label (u1..u9) giving scores 4,4,4,4,4,4,4,3,3.
ANSWERS = ["Sangat sesuai", "Sangat mudah", "Sangat cepat", "Gratis", "Sangat sesuai",
           "Sangat kompeten", "Sangat sopan dan ramah", "Kurang maksimal", "Baik"]


async def finished_request(hub: ChatHub, wati: ChatPerson | None = None,
                           people: dict[str, ChatPerson] | None = None) -> tuple[ChatPerson, str]:
    """Wati's request through all eight Lumajang steps; returns her and its agenda number."""
    if people is None:
        people = {role: await official(hub, name, role) for role, name in (
            ("staf", "Sari"), ("kadis", "Dony"), ("kabid", "Budi"), ("kasi", "Rina"))}
    wati = wati or await member(hub)
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Mohon peliputan kegiatan KIM.")
    await wati.send_photo()
    await wati.send_file("surat_tugas.pdf", PDF, "application/pdf")
    [receipt] = await wati.click(text("button.send"))
    agenda = re.search(r"\d{3}/SM/DISKOMINFO-LMJ/\d{4}", receipt.text)
    assert agenda, receipt.text
    staf, kadis, kabid, kasi = (people[r] for r in ("staf", "kadis", "kabid", "kasi"))
    for person, step_no, label, note in [
            (staf, 1, "Terima berkas", None), (staf, 2, "Agendakan & teruskan ke Kadin", None),
            (kadis, 3, "Disposisikan", "Segera."), (staf, 4, "Catat disposisi", None),
            (staf, 5, "Sampaikan ke Sekdin/Kabid", None), (kabid, 6, "Tindak lanjuti", "Ok."),
            (staf, 7, "Pelayanan selesai", None), (kasi, 8, "Arsipkan & selesai", None)]:
        await act(person, step_no, label, note)
    hub.people_by_role = people  # type: ignore[attr-defined]
    return wati, agenda.group(0)


def invitations(person: ChatPerson) -> list[str]:
    head = text("notify.survey_invite", agenda="", subject="")[:30]
    return [m for m in person.texts() if m.startswith(head)]


async def invited(hub: ChatHub, clock: ManualClock) -> tuple[ChatPerson, str]:
    wati, agenda = await finished_request(hub)
    clock.advance(timedelta(hours=1))
    hub.deliver()
    assert len(invitations(wati)) == 1
    return wati, agenda


async def answer_all(wati: ChatPerson, answers: list[str] = ANSWERS) -> None:
    for number, label in enumerate(answers, 1):
        assert wati.last.text.startswith(f"📝 Pertanyaan {number} dari 9"), wati.last.text
        await wati.click(label)


async def test_a_finished_request_invites_its_member_once_within_office_hours(
        hub: ChatHub, svc: Services, clock: ManualClock) -> None:
    wati, agenda = await finished_request(hub)
    assert invitations(wati) == []  # not at once: an hour of office time later
    clock.advance(timedelta(minutes=59))
    hub.deliver()
    assert invitations(wati) == []
    clock.advance(timedelta(minutes=1))
    hub.deliver()
    [invite] = [m for m in wati.inbox if m.text in invitations(wati)]
    assert agenda in invite.text
    assert invite.labels() == [text("button.survey_start"), text("button.survey_skip")]
    with svc.db.session() as session:  # finishing again (a replayed hook) adds nothing
        case = session.exec(select(Case).where(Case.agenda_number == agenda)).one()
        for hook in svc.workflow.on_finish:
            hook(session, case)
        assert len(session.exec(select(Survey)).all()) == 1
    clock.advance(timedelta(days=3))
    hub.deliver()
    assert len(invitations(wati)) == 1


async def test_a_request_finished_after_hours_invites_next_morning(
        hub: ChatHub, svc: Services, clock: ManualClock) -> None:
    clock.advance(timedelta(hours=6, minutes=30))  # Monday 15:30 WIB
    await finished_request(hub)
    with svc.db.session() as session:
        survey = session.exec(select(Survey)).one()
        local = from_db(survey.invited_at).astimezone(
            __import__("zoneinfo").ZoneInfo("Asia/Jakarta"))
    assert (local.weekday(), local.hour, local.minute) == (1, 8, 0)  # Tuesday 07:30 + 30 min


async def test_the_survey_by_buttons_with_profile_suggestion_and_skm(
        hub: ChatHub, svc: Services, clock: ManualClock) -> None:
    wati, _agenda = await invited(hub, clock)
    [first] = await wati.click(text("button.survey_start"))
    assert first.text == text("survey.question", number=1, total=9, name="Persyaratan",
                              question="Bagaimana pendapat Saudara tentang kesesuaian "
                              "persyaratan pelayanan dengan jenis pelayanannya?")
    assert first.labels() == ["Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai",
                              text("button.survey_pause"), text("button.survey_skip")]
    await answer_all(wati)
    assert wati.inbox[-2].buttons == []  # the answered question lost its buttons
    assert "✓ Baik" in wati.inbox[-2].text
    assert wati.last.text.startswith("👤")
    await wati.click("25–34 tahun")
    await wati.click("Tidak ingin menjawab")
    await wati.click("SMA/SMK")
    await wati.click("Wirausaha")
    assert wati.last.text == text("survey.ask_suggestion")
    [photo_refused] = await wati.send_photo()
    assert photo_refused.text == text("survey.suggestion_text")
    [thanks] = await wati.send("Mohon jam layanan diperpanjang.")
    assert thanks.text == text("survey.thanks")
    [again] = await wati.send("/survei")
    assert again.text == text("survey.none")
    [mine] = await wati.send("/dataku")
    assert "25–34 tahun" in mine.text
    assert "Tidak ingin menjawab" in mine.text

    admin = hub.people[ADMIN]
    [member_try] = await wati.send("/skm")
    assert member_try.text == text("error.admin_only")
    summary, chart = await admin.send("/skm")
    assert "Responden: 1 dari 1 permohonan selesai (sampel minimal 1" in summary.text
    assert "U8 Penanganan pengaduan, saran dan masukan: 3.00" in summary.text
    # (7 x 4 + 2 x 3) / 9 x 25 = 94.444… -> 94.44, grade A
    assert text("skm.index_line", index="94.44", letter="A", grade="Sangat Baik") in summary.text
    assert "Mohon jam layanan diperpanjang." in summary.text
    assert chart.files == 1

    outcome = await hub.core.handle(_inbound(hub, admin, "/skm lumajang tahun xlsx"))
    assert outcome is not None
    [answers_file, summary_file] = outcome.messages[0].files
    assert answers_file.make is not None
    assert summary_file.make is not None
    sheet = load_workbook(io.BytesIO(answers_file.make())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("No", "Tanggal", "Layanan", "U1", "U2")
    assert rows[1][3:12] == (4, 4, 4, 4, 4, 4, 4, 3, 3)
    assert "Wati" not in repr(rows)  # anonymised: no name, no agenda number
    assert "DISKOMINFO" not in repr(rows)
    assert rows[1][12:] == ("25–34 tahun", "Tidak ingin menjawab", "SMA/SMK", "Wirausaha")
    summary_sheet = load_workbook(io.BytesIO(summary_file.make())).active
    assert summary_sheet is not None
    summary_rows = list(summary_sheet.iter_rows(values_only=True))
    assert summary_rows[-1][4:] == ("94.44", "A (Sangat Baik)")

    outcome = await hub.core.handle(_inbound(hub, admin, "/skm pdf"))
    assert outcome is not None
    [pdf_file] = outcome.messages[0].files
    assert pdf_file.make is not None
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_file.make())).pages)
    assert "LAPORAN HASIL SURVEI KEPUASAN MASYARAKAT" in pdf_text
    assert "94.44" in pdf_text
    assert "Sangat Baik" in pdf_text
    assert "Mohon jam layanan diperpanjang." in pdf_text

    # The second finished request of the same member does not ask the profile again.
    people = hub.people_by_role  # type: ignore[attr-defined]
    await finished_request(hub, wati, people)
    clock.advance(timedelta(hours=1))
    hub.deliver()
    await wati.click(text("button.survey_start"))
    await answer_all(wati)
    assert wati.last.text == text("survey.ask_suggestion")
    await wati.click(text("button.survey_no_suggestion"))
    assert wati.last.text == text("survey.thanks")
    with svc.db.session() as session:
        assert [s.state for s in session.exec(select(Survey).order_by(col(Survey.id)))] == [
            "done", "done"]


def _inbound(hub: ChatHub, person: ChatPerson, command: str) -> Inbound:
    name, *args = command[1:].split()
    sender = Sender(hub.channel, person.account_id, person.account_id, person.name, "id")
    return Inbound(sender, Command(name, tuple(args)), f"test:{command}")


async def test_a_skipped_survey_stays_skipped_and_foreign_presses_are_refused(
        hub: ChatHub, svc: Services, clock: ManualClock) -> None:
    wati, _ = await invited(hub, clock)
    [skipped] = await wati.click(text("button.survey_skip"))
    assert skipped.text == text("survey.skipped")
    with svc.db.session() as session:
        survey = session.exec(select(Survey)).one()
        assert survey.state == "skipped"
        survey_id = survey.id
    assert survey_id is not None
    assert wati.inbox[-2].buttons == []  # the invitation's buttons are gone
    # Its old "start" button, pressed anyway (e.g. a copy elsewhere), is refused.
    await hub.turn(wati, Press(SurveyAct(survey_id, "start"), f"sv {survey_id} start"))
    assert wati.alerts[-1] == text("survey.closed")
    stranger = hub.person("Stranger")
    await hub.turn(stranger, Press(SurveyAnswer(survey_id, "u1", 4), f"sa {survey_id} u1 4"))
    assert stranger.alerts[-1] == text("error.not_allowed")
    await hub.turn(wati, Press(SurveyAnswer(survey_id, "u1", 4), f"sa {survey_id} u1 4"))
    assert wati.alerts[-1] == text("survey.closed")
    [none] = await wati.send("/survei")
    assert none.text == text("survey.none")


async def test_a_paused_survey_resumes_after_a_restart(
        hub: ChatHub, svc: Services, clock: ManualClock, database_url: str) -> None:
    wati, _ = await invited(hub, clock)
    await wati.click(text("button.survey_start"))
    for label in ANSWERS[:3]:
        await wati.click(label)
    question_4 = wati.last
    [paused] = await wati.click(text("button.survey_pause"))
    assert paused.text == text("survey.paused")
    # An answer to a question already answered is refused (it was that question's button).
    await hub.turn(wati, Press(SurveyAnswer(1, "u1", 1), "sa 1 u1 1"))
    assert wati.alerts[-1] == text("survey.answered_already")

    settings = Settings(_env_file=None, DATABASE_URL=database_url,
                        KIMBOT_ADMIN_IDS=ADMIN)
    restarted = build_services(settings, clock=clock)
    try:
        hub2 = ChatHub(restarted)
        hub2._updates = itertools.count(100_000)  # the channel's update ids go on
        wati2 = hub2.person("Wati Susanti", account_id=wati.account_id)
        [resumed] = await wati2.send("/survei")
        assert resumed.text.startswith("📝 Pertanyaan 4 dari 9")
        wati2.inbox.append(question_4)  # the button sent before the restart still works
        [q5] = await wati2.click("Gratis")
        assert q5.text.startswith("📝 Pertanyaan 5 dari 9")
    finally:
        restarted.db.dispose()


# -- complaints ------------------------------------------------------------------------------


async def test_a_complaint_reaches_the_handler_who_answers_it_in_chat(
        hub: ChatHub, svc: Services, clock: ManualClock) -> None:
    kasi = await official(hub, "Rina", "kasi")
    kabid = await official(hub, "Budi", "kabid")
    wati = await member(hub)
    [ask] = await wati.send("/pengaduan")
    assert ask.text.startswith("📣 Pengaduan tentang layanan Dinas Komunikasi")
    [photo_first] = await wati.send_photo()
    assert photo_first.text == text("complaint.text_first")
    [too_long] = await wati.send("x" * 2001)
    assert too_long.text == text("error.too_long", limit=2000)
    [ask_file] = await wati.send("Petugas loket tidak ada di tempat pada jam layanan.")
    assert ask_file.text == text("complaint.ask_file")
    [text_again] = await wati.send("lagi")
    assert text_again.text == text("complaint.file_or_send")
    [bad_type] = await wati.send_file("virus.exe", b"MZ\x90\x00" * 10, "application/x-dos")
    assert bad_type.text == text("error.file_type")
    [receipt] = await wati.send_file("bukti.jpg", JPEG, "image/jpeg", kind="photo")
    assert "001/PGD/DISKOMINFO-LMJ/2026" in receipt.text
    assert "Senin, 30 Nov 2026 09.00 WIB" in receipt.text  # 5 working days from Mon 09:00
    [new] = [m for m in kasi.inbox if m.text.startswith("📣 Pengaduan baru")]
    assert "Petugas loket tidak ada" in new.text
    assert "Wati Susanti" in new.text
    assert new.labels() == [text("button.complaint_answer"), text("button.complaint_file")]
    assert not any("Pengaduan" in m for m in kabid.texts())

    files = await kasi.click(text("button.complaint_file"))
    assert files[0].files == 1
    clock.set(clock.now() + timedelta(days=4))  # Friday 09:00: the reminder
    hub.deliver()
    assert kasi.texts()[-1].startswith("⏰ Pengingat: pengaduan 001/PGD/DISKOMINFO-LMJ/2026")
    # Someone else pressing the answer button is refused.
    with svc.db.session() as session:
        complaint_id = session.exec(select(Complaint)).one().id
    assert complaint_id is not None
    await hub.turn(kabid, Press(ComplaintAct(complaint_id, "answer"),
                                f"pg {complaint_id} answer"))
    assert kabid.alerts[-1] == text("error.not_allowed")
    [ask_answer] = await kasi.click(text("button.complaint_answer"))
    assert ask_answer.text.startswith("✍️")
    [photo] = await kasi.send_photo()
    assert photo.text == text("complaint.answer_text")
    [sent] = await kasi.send("Mohon maaf, petugas sudah kami tegur.")
    assert sent.text == text("complaint.answer_sent", number="001/PGD/DISKOMINFO-LMJ/2026")
    assert wati.texts()[-1] == text("notify.complaint_answered",
                                    number="001/PGD/DISKOMINFO-LMJ/2026",
                                    answer="Mohon maaf, petugas sudah kami tegur.")
    clock.set(clock.now() + timedelta(days=7))  # past the due time: no overdue notice
    hub.deliver()
    assert not any(m.startswith("⚠️ Pengaduan") for m in kasi.texts())
    with svc.db.session() as session:
        overdue = session.exec(select(Notification).where(
            Notification.key == "notify.complaint_overdue")).all()
        assert [r.status for r in overdue] == ["cancelled", "cancelled"]  # the kasi, the admin
    [report, *_charts] = await hub.people[ADMIN].send("/laporan 2026-11")
    assert text("report.complaints", received=1, answered=1, on_time=1,
                overdue=0) in report.text


async def test_a_complaint_about_a_request_never_reaches_its_officials(
        hub: ChatHub, svc: Services, clock: ManualClock) -> None:
    wati, agenda = await finished_request(hub)
    people = hub.people_by_role  # type: ignore[attr-defined]
    [unknown] = await wati.send("/pengaduan 999/SM/DISKOMINFO-LMJ/2026")
    assert unknown.text == text("complaint.no_such_request", agenda="999/SM/DISKOMINFO-LMJ/2026")
    [status] = await wati.send("/status")
    assert text("button.complaint_of") in status.labels()
    [ask] = await wati.click(text("button.complaint_of"))
    assert agenda in ask.text
    await wati.send("Kasi yang mengarsipkan bersikap kasar.")
    before = {role: len(p.inbox) for role, p in people.items()}
    [receipt] = await wati.click(text("button.complaint_send"))
    assert "001/PGD/DISKOMINFO-LMJ/2026" in receipt.text
    for role, person in people.items():  # every one of them acted on the request
        assert not any("Pengaduan" in m.text for m in person.inbox[before[role]:]), role
    admin = hub.people[ADMIN]
    assert admin.texts()[-1].startswith("📣 Pengaduan baru 001/PGD/DISKOMINFO-LMJ/2026")
    with svc.db.session() as session:
        complaint = session.exec(select(Complaint)).one()
        assert complaint.handler_role == ""
    # The kasi cannot answer it even with a forged press.
    assert complaint.id is not None
    await hub.turn(people["kasi"], Press(ComplaintAct(complaint.id, "answer"),
                                         f"pg {complaint.id} answer"))
    assert people["kasi"].alerts[-1] == text("error.not_allowed")


async def test_erasing_personal_data_drops_the_survey_profile(
        hub: ChatHub, svc: Services, clock: ManualClock) -> None:
    wati, _ = await invited(hub, clock)
    await wati.click(text("button.survey_start"))
    await answer_all(wati)
    await wati.click("Di bawah 25 tahun")
    await wati.send("/pengaduan")
    await wati.send("Loket tutup lebih awal.")
    await wati.send_file("bukti.pdf", PDF + b"%bukti", "application/pdf")
    with svc.db.session() as session:
        blob = session.exec(select(Complaint)).one().blob_hash
    assert blob is not None
    assert svc.files.has(blob)
    [mine] = await wati.send("/dataku")
    assert "Di bawah 25 tahun" in mine.text
    await wati.send("/hapus_data")
    await wati.click(text("button.erase_yes"))
    with svc.db.session() as session:
        assert session.exec(select(RespondentProfile)).all() == []
        assert session.exec(select(Survey)).one().state == "skipped"
        complaint = session.exec(select(Complaint)).one()
    # The complaint stays (an office record) without the file the member sent.
    assert (complaint.text, complaint.blob_hash, complaint.file_ref) == (
        "Loket tutup lebih awal.", None, "")
    assert not svc.files.has(blob)


async def test_bad_arguments_to_skm_and_pengaduan_are_refused(hub: ChatHub) -> None:
    admin = hub.person("Admin", account_id=ADMIN)
    offices = "lumajang, kolaka"
    [two_periods] = await admin.send("/skm 2026 2027")
    assert two_periods.text == text("skm.usage", offices=offices)
    [unknown] = await admin.send("/skm jakarta")
    assert unknown.text == text("report.unknown_office", office="jakarta", offices=offices)
    [elsewhere] = await admin.send("/skm lumajang klk-bentuk-kim")
    assert elsewhere.text == text("skm.sop_elsewhere", sop="klk-bentuk-kim", office="lumajang")
    [bad_period] = await admin.send("/skm 2026-13")
    assert bad_period.text == text("report.bad_period", period="2026-13")
    [empty] = await admin.send("/skm kolaka")
    assert text("skm.no_respondents") in empty.text
    stranger = hub.person("Tamu")
    [unregistered] = await stranger.send("/pengaduan")
    assert unregistered.text == text("complaint.unregistered")
    wati = await member(hub)
    [usage] = await wati.send("/pengaduan satu dua")
    assert usage.text == text("complaint.usage")
    [ask] = await wati.send("/pengaduan")
    [cancelled] = await wati.click(text("button.cancel"))
    assert cancelled.text == text("complaint.cancelled")
    assert ask.buttons == []
    [none] = await wati.send("/survei")
    assert none.text == text("survey.none")


async def test_the_survey_works_the_same_on_whatsapp(
        database_url: str, clock: ManualClock) -> None:
    """Channel-neutral: the invitation goes out on the member's channel, buttons the same."""
    settings = Settings(_env_file=None, DATABASE_URL=database_url,
                        KIMBOT_ADMIN_IDS="whatsapp:6281100009000")
    services = build_services(settings, clock=clock)
    try:
        wa = ChatHub(services, channel="whatsapp")
        wa.person("Admin", account_id="6281100009000")
        wa._ids = itertools.count(6281200000001)  # WhatsApp numbers for everyone else
        people = {role: await wa_official(wa, name, role)
                  for role, name in (("staf", "Sari"), ("kadis", "Dony"), ("kabid", "Budi"),
                                     ("kasi", "Rina"))}
        wati, _agenda = await finished_request(wa, people=people)
        clock.advance(timedelta(hours=1))
        wa.deliver()
        assert len(invitations(wati)) == 1
        with services.db.session() as session:
            assert session.exec(select(Notification).where(
                Notification.key == "notify.survey_invite")).one().channel == "whatsapp"
        await wati.click(text("button.survey_start"))
        await answer_all(wati)
        for label in ("Di bawah 25 tahun", "Perempuan", "S1", "Lainnya"):
            await wati.click(label)
        [thanks] = await wati.click(text("button.survey_no_suggestion"))
        assert thanks.text == text("survey.thanks")
    finally:
        services.db.dispose()


async def wa_official(hub: ChatHub, name: str, role: str) -> ChatPerson:
    [invite] = await hub.people["6281100009000"].send(f"/undang lumajang {role}")
    match = re.search(r"(?:Kode|Code): ([A-Za-z0-9_-]+)", invite.text)
    assert match, invite.text
    person = hub.person(name)
    await person.send(f"/start {match.group(1)}")
    return person


async def test_a_complaint_answered_by_another_handler_ends_the_second_answer(
        hub: ChatHub) -> None:
    rina = await official(hub, "Rina", "kasi")
    dewi = await official(hub, "Dewi", "kasi")
    wati = await member(hub)
    await wati.send("/pengaduan")
    await wati.send("Petugas loket tidak ada di tempat pada jam layanan.")
    await wati.click(text("button.complaint_send"))
    await rina.click(text("button.complaint_answer"))
    await dewi.click(text("button.complaint_answer"))
    await rina.send("Mohon maaf, petugas sudah kami tegur.")
    [late] = await dewi.send("Jawaban kedua.")
    assert late.text == text("complaint.answered_already", number="001/PGD/DISKOMINFO-LMJ/2026")
    # Dewi is not stuck answering a closed complaint: her next message is a fresh one.
    [after] = await dewi.send("halo")
    assert after.text == text("idle.unregistered")
