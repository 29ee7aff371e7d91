"""Issue 12: one regression test per hole the attack found, named after it.

Driven through the conversation core (tests/support/chat.py), no channel: what a person
sees, and that a refused input changed nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from bot import delivery, outbox
from bot.clock import ManualClock, to_db
from bot.conversations import router
from bot.conversations.events import Command, Inbound, Press, Sender
from bot.conversations.intents import Act, BroadcastStop, Trail, parse
from bot.conversations.output import Outcome
from bot.delivery import DeliveryLoop
from bot.models import (
    Attachment,
    AuditEntry,
    Broadcast,
    Case,
    Dialog,
    Invitation,
    Notification,
    ProcessedUpdate,
    User,
)
from bot.ratelimit import RateLimiter
from bot.retention import prune
from bot.services import Services, build_services
from bot.settings import Settings
from tests.support.catalog import text
from tests.support.chat import JPEG, PDF, ChatHub, ChatPerson, Shown
from tests.support.factories import DEFAULT_AT, make_member, make_user
from tests.unit.test_delivery_loop import FakeChannel

ADMIN = "9000"
LUMAJANG_ADMIN = "9100"
AGENDA = re.compile(r"\d{3}/SM/DISKOMINFO-LMJ/\d{4}")


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    settings = Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                        KIMBOT_ADMIN_IDS=ADMIN, KIMBOT_OFFICE_ADMINS=f"{LUMAJANG_ADMIN}:lumajang",
                        KIMBOT_OUTBOX_POLL=0.05)
    services = build_services(settings, clock=clock)
    try:
        yield services
    finally:
        services.db.dispose()


@pytest.fixture
def hub(svc: Services) -> ChatHub:
    return ChatHub(svc)


# -- people and a case -------------------------------------------------------------------


async def official(hub: ChatHub, name: str, role: str, office: str = "lumajang") -> ChatPerson:
    admin = hub.people.get(ADMIN) or hub.person("Admin", account_id=ADMIN)
    [invite] = await admin.send(f"/undang {office} {role}")
    match = re.search(r"(?:Kode|Code): ([A-Za-z0-9_-]+)", invite.text)
    assert match, invite.text
    person = hub.person(name)
    await person.send(f"/start {match.group(1)}")
    return person


async def member(hub: ChatHub, name: str = "Wati Susanti") -> ChatPerson:
    person = hub.person(name)
    await person.send("/start")
    for answer in (name, "KIM Sumber Makmur", "Desa Tempeh Tengah", "Kecamatan Tempeh"):
        await person.send(answer)
    await person.share_phone("+6281234567890")
    await person.click("Dinas Komunikasi dan Informatika Kabupaten Lumajang")
    return person


async def submitted(hub: ChatHub) -> tuple[ChatPerson, ChatPerson, str]:
    """A member's request, submitted: (staf, member, agenda number)."""
    staf = await official(hub, "Sari", "staf")
    wati = await member(hub)
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Mohon peliputan kegiatan KIM.")
    await wati.send_photo()
    await wati.send_file("surat_tugas.pdf", PDF, "application/pdf")
    [receipt] = await wati.click(text("button.send"))
    agenda = AGENDA.search(receipt.text)
    assert agenda, receipt.text
    return staf, wati, agenda.group(0)


def task(person: ChatPerson, step_no: int) -> Shown:
    for shown in reversed(person.inbox):
        if shown.buttons and re.search(rf"(Langkah|Step) {step_no}:", shown.text):
            return shown
    raise AssertionError(f"no task for step {step_no}: {person.texts()[-3:]}")


def snapshot(svc: Services) -> tuple[object, ...]:
    """Everything a refused input must leave alone."""
    with svc.db.session() as s:
        cases = [(c.id, c.step_no, c.version, c.status) for c in s.exec(select(Case)).all()]
        trail = len(s.exec(select(AuditEntry)).all())
        dialogs = [(d.user_id, d.state, dict(d.data)) for d in s.exec(select(Dialog)).all()]
        users = [(u.id, u.full_name, u.phone, u.active) for u in s.exec(select(User)).all()]
        outbox_rows = len(s.exec(select(Notification)).all())
        files = len(s.exec(select(Attachment)).all())
    return cases, trail, dialogs, users, outbox_rows, files


async def in_group(hub: ChatHub, person: ChatPerson, event: Command | Press) -> Outcome:
    """`person` writes (or presses) in a group chat with the bot."""
    sender = Sender(hub.channel, person.account_id, "-100777", person.name, person.language,
                    private=False)
    outcome = await hub.core.handle(Inbound(sender, event, f"group:{id(event)}"))
    assert outcome is not None
    return outcome


# -- 1 ------------------------------------------------------------------------------------


async def test_hole_1_a_kill_strands_no_notification_and_repeats_no_attachment(
    svc: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row a killed worker held (one of its two files already delivered) goes out while
    the loop runs, without a restart; only the file that did not arrive is sent again."""
    assert delivery.NOTIFY_BATCH <= 10  # small claims: a kill strands few rows
    monkeypatch.setattr(delivery, "RELEASE_EVERY_S", 0.0)
    blob = svc.files.put(PDF)
    with svc.db.session() as s:
        sari = make_user(s, name="Sari")
        case = Case(office="lumajang", sop_code="LMJ-01", agenda_year=2026, agenda_seq=1,
                    agenda_number="001/SM/X/2026", requester_id=sari.id or 0,
                    started_by_id=sari.id or 0, subject="s", purpose="p", step_no=1,
                    step_started_at=DEFAULT_AT, created_at=DEFAULT_AT, request_key="k1")
        s.add(case)
        s.flush()
        photo = Attachment(case_id=case.id or 0, kind="photo", file_ref="AgADphoto",
                           channel="telegram", label="Foto", uploaded_by=sari.id or 0,
                           created_at=DEFAULT_AT)
        pdf = Attachment(case_id=case.id or 0, kind="document", file_ref="AgADpdf",
                         channel="telegram", blob_hash=blob, file_name="surat.pdf",
                         label="Surat", uploaded_by=sari.id or 0, created_at=DEFAULT_AT)
        s.add_all([photo, pdf])
        s.flush()
        row = outbox.notify(s, clock, sari.id or 0, "sub.stopped",
                            attachment_ids=[photo.id or 0, pdf.id or 0])
        # The killed worker had claimed it and delivered the photo.
        row.status, row.next_attempt_at = "sending", to_db(clock.now() + outbox.LEASE)
        row.params = {**row.params, outbox.FILES_SENT: [photo.id]}
        s.add(row)
        s.flush()
        row_id, chat = row.id, sari.chat_id
    channel = FakeChannel(svc)
    loop = DeliveryLoop(svc, channel, RateLimiter(1000))
    await loop.start()  # a restart's own release: the lease has not ended, nothing goes
    try:
        await asyncio.sleep(0.2)
        assert channel.to(chat) == []
        clock.advance(outbox.LEASE)  # the running loop releases it, no restart
        loop.wake()
        for _ in range(150):
            if len(channel.to(chat)) >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        # Stopping must finish too (Python 3.11's wait_for once swallowed the cancel).
        await asyncio.wait_for(loop.stop(), 5)
    assert [(c.kind, c.ref) for c in channel.to(chat)] == [("document", "AgADpdf"), ("", "")]
    with svc.db.session() as s:
        stored = s.get(Notification, row_id)
        assert stored is not None
        assert stored.status == "sent"


# -- 2 ------------------------------------------------------------------------------------


async def test_hole_2_a_crash_after_the_replay_guard_loses_no_update(
    hub: ChatHub, svc: Services, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed between the replay mark and the work (here: the work raises), nothing is
    committed, so the redelivered update is handled; a third delivery is a replay."""
    wati = await member(hub)
    sender = Sender("telegram", wati.account_id, wati.account_id, wati.name)
    update = Inbound(sender, Command("status"), "tg:424242")
    real = router.command

    def crash(name: str) -> object:
        raise RuntimeError("killed here")

    monkeypatch.setattr(router, "command", crash)
    with pytest.raises(RuntimeError):
        await hub.core.handle(update)
    with svc.db.session() as s:
        assert s.get(ProcessedUpdate, "tg:424242") is None
    monkeypatch.setattr(router, "command", real)
    answered = await hub.core.handle(update)
    assert answered is not None
    assert answered.messages
    assert await hub.core.handle(update) is None


# -- 3 ------------------------------------------------------------------------------------


async def test_hole_3_office_admin_cannot_stop_another_offices_broadcast(
    hub: ChatHub, svc: Services,
) -> None:
    with svc.db.session() as s:
        for i in range(3):
            make_member(s, f"Anggota {i}")
        make_member(s, "Anggota Kolaka", office="kolaka").district = "Kecamatan Wundulako"
    admin = hub.person("Admin", account_id=ADMIN)
    await admin.send("/siaran")
    await admin.send("Kerja bakti Minggu pagi.")
    with svc.db.session() as s:
        draft = s.exec(select(Broadcast)).one()
        draft_id = draft.id
    before = snapshot(svc)

    office_admin = hub.person("Admin Lumajang", account_id=LUMAJANG_ADMIN)
    await office_admin.send("/batal")
    forged = BroadcastStop(draft_id or 0)
    outcome = await hub.turn(office_admin, Press(forged, forged.encode()))
    assert outcome is not None
    assert outcome.answer == text("error.not_allowed")
    with svc.db.session() as s:
        row = s.get(Broadcast, draft_id)
        assert row is not None
        assert row.status == "draft"
    assert snapshot(svc)[0] == before[0]

    # Its own menus count and list only Lumajang's people.
    await office_admin.send("/siaran")
    [menu] = await office_admin.send("Rapat KIM Lumajang.")
    assert menu.labels()[0] == text("bc.button_all", count=3)
    await office_admin.click(text("bc.button_district"))
    picker = office_admin.last
    assert any("Kecamatan Tempeh" in label for label in picker.labels())
    assert not any("Wundulako" in label for label in picker.labels()), picker.labels()


# -- 4 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["dataku", "status", "disposisi", "hapus_data"])
async def test_hole_4_personal_data_only_in_private_chats(
    hub: ChatHub, command: str,
) -> None:
    wati = await member(hub)
    outcome = await in_group(hub, wati, Command(command))
    [answer] = outcome.messages
    assert answer.text == text("error.private_only")
    assert "Wati" not in answer.text
    assert "6281234567890" not in answer.text


@pytest.mark.parametrize("command", ["anggota", "anggota_lihat", "peran", "undangan", "agenda",
                                     "plt", "laporan", "ekspor", "undang"])
async def test_hole_4_admin_listings_only_in_private_chats(hub: ChatHub, command: str) -> None:
    await member(hub)
    admin = hub.person("Admin", account_id=ADMIN)
    outcome = await in_group(hub, admin, Command(command))
    assert [m.text for m in outcome.messages] == [text("error.private_only")]


async def test_hole_4_a_button_pressed_in_a_group_shows_nothing(hub: ChatHub) -> None:
    staf, _wati, _agenda = await submitted(hub)
    with hub.svc.db.session() as s:
        case_id = s.exec(select(Case.id)).one()
    assert case_id is not None
    outcome = await in_group(hub, staf, Press(Trail(case_id), Trail(case_id).encode()))
    assert outcome.answer == text("error.private_only")
    assert not outcome.messages


# -- 5 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "key"), [
    ("/peran_cabut ²", "roles.revoke_usage"),
    ("/peran_cabut 99999999999999999999", "roles.revoke_usage"),
    ("/plt_batal ²²", "plt.revoke_usage"),
    ("/ekspor agenda csv ²⁰²⁶", "report.unknown_office"),
    ("/agenda lumajang ²⁰²⁶", "agenda.usage"),
    ("/nonaktif ٣٣٣", "account.usage_off"),
    ("/plt_batal 99999999999999999999", "plt.revoke_usage"),
    ("/laporan 9999", "report.bad_period"),
    ("/laporan 0001-01-01", "report.bad_period"),
    ("/laporan 9999-12", "report.bad_period"),
    ("/laporan 0001-01-01..0001-01-02", "report.bad_period"),
    (f"/plt lumajang kasi {ADMIN} 9999-12-31 9999-12-31", "plt.bad_date"),
    (f"/plt lumajang kasi {ADMIN} 0001-01-01 0001-01-02", "plt.bad_date"),
])
async def test_hole_5_commands_answer_instead_of_a_traceback(
    hub: ChatHub, svc: Services, typed: str, key: str,
) -> None:
    admin = hub.person("Admin", account_id=ADMIN)
    await admin.send("/start")
    before = snapshot(svc)
    [answer] = await admin.send(typed)
    first_line = text(key, value="§", period="§", offices="§", roles="§",
                      office="§").split("§")[0]
    assert answer.text.startswith(first_line[:12]), answer.text
    assert snapshot(svc) == before


async def test_hole_5_lone_surrogates_in_a_note_a_correction_and_a_name(
    hub: ChatHub, svc: Services,
) -> None:
    # A first name: the surrogate is dropped, the name is kept.
    odd = hub.person("Odd")
    await odd.send("/start")
    [ask] = await odd.send("Wati\ud800 Susanti")
    assert ask.text == text("reg.ask_kim_group")
    [refused] = await odd.send("\udfff")
    assert refused.text == text("error.empty_answer")

    # A required return reason made of a surrogate is refused; the case does not move.
    staf, wati, agenda = await submitted(hub)
    [ask] = await staf.click("Kembalikan ke pemohon")
    assert ask.text.startswith("Tulis catatan"), ask.text
    moved = snapshot(svc)[:2]
    [answer] = await staf.send("\ud83d")
    assert answer.text == text("error.note_required")
    assert snapshot(svc)[:2] == moved
    [done] = await staf.send("Berkas kurang\ud800 lengkap.")
    assert done.text.startswith("✅"), done.text

    # The member's correction: a surrogate alone is no correction; with words it goes.
    await wati.click(wati.last.labels()[0])
    state = snapshot(svc)[:2]
    [answer] = await wati.send("\udc00\u200b")
    assert answer.text == text("error.empty_answer")
    assert snapshot(svc)[:2] == state
    [sent] = await wati.send("Sudah\udc00 saya lengkapi.")
    assert sent.text == text("fix.sent", agenda=agenda)


async def test_hole_5_a_forged_action_on_the_document_message_gets_a_clear_answer(
    hub: ChatHub, svc: Services,
) -> None:
    """The action succeeds once (the task moves) and the same press again is stale."""
    staf, _wati, agenda = await submitted(hub)
    pressed = task(staf, 1)
    [intent] = [b.intent for row in pressed.buttons for b in row
                if b.label == "Terima berkas"]
    assert isinstance(intent, Act)
    first = await hub.turn(staf, Press(intent, intent.encode()))
    assert first is not None
    assert first.answer != text("error.internal")
    again = await hub.turn(staf, Press(intent, intent.encode()))
    assert again is not None
    assert again.answer == text("error.stale", agenda=agenda)


# -- 6 ------------------------------------------------------------------------------------

INVISIBLE = ["\u200b", "\u200d\u200c\ufeff", "\x00", "\u202e\u202d", " \u2060 "]


@pytest.mark.parametrize("typed", INVISIBLE)
async def test_hole_6_invisible_input_is_an_empty_answer(
    hub: ChatHub, svc: Services, typed: str,
) -> None:
    odd = hub.person("Odd")
    await odd.send("/start")
    before = snapshot(svc)
    [answer] = await odd.send(typed)
    assert answer.text == text("error.empty_answer")
    assert snapshot(svc) == before


async def test_hole_6_invisible_broadcast_and_purpose_are_refused(hub: ChatHub) -> None:
    admin = hub.person("Admin", account_id=ADMIN)
    await admin.send("/siaran")
    [answer] = await admin.send("\u200b\ufeff")
    assert answer.text == text("bc.expect_content", text=4096, caption=1024)
    wati = await member(hub)
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    [answer] = await wati.send("\u200d\u200c")
    assert answer.text == text("error.empty_answer")


@pytest.mark.parametrize("phone", ["²²²²²²²²²", "٠٨١٢٣٤٥٦٧٨٩٠", "+62 ８１２３４５６７８", "12"])
async def test_hole_6_spoofed_phone_numbers_are_refused(hub: ChatHub, phone: str) -> None:
    odd = hub.person("Odd")
    await odd.send("/start")
    for typed in ("Odd Person", "KIM X", "Desa Y", "Kecamatan Z"):
        await odd.send(typed)
    [answer] = await odd.send(phone)
    assert answer.text == text("error.bad_phone")


async def test_hole_6_indonesian_phone_forms_become_e164(hub: ChatHub, svc: Services) -> None:
    odd = hub.person("Odd")
    await odd.send("/start")
    for answer in ("Odd Person", "KIM X", "Desa Y", "Kecamatan Z", "0812-3456-7890"):
        await odd.send(answer)
    await odd.click("Dinas Komunikasi dan Informatika Kabupaten Lumajang")
    with svc.db.session() as s:
        user = s.exec(select(User).where(User.external_id == odd.account_id)).one()
        assert user.phone == "+6281234567890"


@pytest.mark.parametrize(("name", "data", "mime", "key"), [
    ("kosong.pdf", b"", "application/pdf", "error.file_empty"),
    ("virus.exe", b"MZ\x90\x00" + b"\x00" * 64, "application/pdf", "error.file_type"),
    ("tagihan\u202efdp.exe", b"MZ\x90\x00" + b"\x00" * 64, "application/pdf",
     "error.file_type"),
    ("foto.pdf", JPEG[:2], "application/pdf", "error.file_type"),
])
async def test_hole_6_a_file_is_judged_by_its_bytes(
    hub: ChatHub, svc: Services, name: str, data: bytes, mime: str, key: str,
) -> None:
    wati = await member(hub)
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Mohon peliputan kegiatan KIM.")
    await wati.send_photo()
    before = snapshot(svc)
    [answer] = await wati.send_file(name, data, mime)
    assert answer.text == text(key, limit=svc.settings.max_file_mb)
    assert snapshot(svc) == before


async def test_hole_6_a_file_name_loses_its_bidi_override_and_path(
    hub: ChatHub, svc: Services,
) -> None:
    wati = await member(hub)
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Mohon peliputan kegiatan KIM.")
    await wati.send_photo()
    await wati.send_file("../../etc/tagihan\u202efdp.exe", PDF, "application/octet-stream")
    await wati.click(text("button.send"))
    with svc.db.session() as s:
        names = [a.file_name for a in s.exec(select(Attachment)).all() if a.kind == "document"]
    assert names == ["tagihanfdp.pdf"]


# -- 7 ------------------------------------------------------------------------------------


async def test_hole_7_a_strangers_forged_press_reveals_nothing_about_the_case(
    hub: ChatHub, svc: Services,
) -> None:
    _staf, _wati, agenda = await submitted(hub)
    with svc.db.session() as s:
        case_id = s.exec(select(Case.id)).one()
    stranger = hub.person("Stranger")
    await stranger.send("/start")
    before = snapshot(svc)
    for version in (0, 1, 7):
        for action in ("x", "terima"):
            forged = parse(f"a {case_id} {version} {action}")
            assert forged is not None
            outcome = await hub.turn(stranger, Press(forged, forged.encode()))
            assert outcome is not None
            shown = (outcome.answer or "") + "".join(m.text for m in outcome.messages)
            assert agenda not in shown
            assert "DISKOMINFO" not in shown
            assert outcome.answer == text("error.not_allowed")
    assert snapshot(svc)[:2] == before[:2]


# -- 8 ------------------------------------------------------------------------------------


async def test_hole_8_logs_carry_no_invitation_code_and_no_message_text(
    hub: ChatHub, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = hub.person("Admin", account_id=ADMIN)
    [invite] = await admin.send("/undang lumajang kasi")
    code = re.search(r"(?:Kode|Code): ([A-Za-z0-9_-]+)", invite.text)
    assert code
    await admin.send(f"/undangan_batal {code.group(1)}")
    wati = await member(hub)
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Rahasia pribadi 0812999")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert code.group(1) not in logged
    assert "Rahasia" not in logged
    assert "0812999" not in logged
    assert "6281234567890" not in logged
    with hub.svc.db.session() as s:
        assert s.exec(select(Invitation)).first() is not None


@pytest.mark.parametrize("opt_in", [False, True])
async def test_hole_8_the_telegram_error_handler_logs_ids_and_kinds_only(
    svc: Services, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
    opt_in: bool,
) -> None:
    """A failed update is logged by id and kind; its text and the sender's name only with
    KIMBOT_LOG_CONTENTS, and then with a warning."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from telegram import Chat, Message, Update
    from telegram import User as TgUser

    from handlers.telegram import app

    monkeypatch.setattr(svc.settings, "log_contents", opt_in)
    monkeypatch.setattr(app, "services", lambda _application: svc)
    who = TgUser(id=4242, first_name="Wati Rahasia", is_bot=False)
    message = Message(message_id=1, date=datetime(2026, 11, 23, tzinfo=UTC),
                      chat=Chat(id=4242, type="private"), from_user=who,
                      text="Nomor saya 081299990000")
    update = Update(update_id=777, message=message)
    context = SimpleNamespace(application=None, error=RuntimeError("boom"))
    caplog.set_level(logging.DEBUG)
    await app.on_error(update, context)  # type: ignore[arg-type]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "777" in logged
    assert ("081299990000" in logged) is opt_in
    assert ("Wati Rahasia" in logged) is opt_in
    if opt_in:
        assert any(r.levelno == logging.WARNING and "KIMBOT_LOG_CONTENTS" in r.getMessage()
                   for r in caplog.records)


# -- 9 ------------------------------------------------------------------------------------


async def test_hole_9_delivered_notifications_and_old_replay_marks_are_pruned(
    svc: Services, clock: ManualClock,
) -> None:
    with svc.db.session() as s:
        user = make_user(s)
        old = outbox.notify(s, clock, user.id or 0, "sub.started")
        pending = outbox.notify(s, clock, user.id or 0, "sub.started")
        failed = outbox.notify(s, clock, user.id or 0, "sub.started")
        s.flush()
        outbox.mark_sent(s, clock, old.id or 0)
        outbox.mark_failed(s, clock, failed.id or 0, "403")
        s.add(ProcessedUpdate(key="tg:1", at=to_db(clock.now())))
        ids = (old.id, pending.id, failed.id)
    clock.advance(timedelta(days=svc.settings.keep_updates_days, hours=1))
    with svc.db.session() as s:
        s.add(ProcessedUpdate(key="tg:2", at=to_db(clock.now())))
        pruned = prune(s, clock, svc.settings)
    assert (pruned.notifications, pruned.updates) == (0, 1)  # the sent row is still young
    clock.advance(timedelta(days=svc.settings.keep_sent_days))
    with svc.db.session() as s:
        pruned = prune(s, clock, svc.settings)
    assert (pruned.notifications, pruned.updates) == (1, 1)
    with svc.db.session() as s:
        left = sorted(n.id or 0 for n in s.exec(select(Notification)).all())
        assert left == sorted(i or 0 for i in ids[1:])  # pending and failed are kept
        assert s.exec(select(ProcessedUpdate)).all() == []


async def test_hole_9_the_audit_trail_and_agenda_book_are_kept(
    hub: ChatHub, svc: Services, clock: ManualClock,
) -> None:
    await submitted(hub)
    with svc.db.session() as s:
        trail = len(s.exec(select(AuditEntry)).all())
        assert trail >= 1
    clock.advance(timedelta(days=3650))
    with svc.db.session() as s:
        pruned = prune(s, clock, svc.settings)
    assert pruned.notifications >= 1
    with svc.db.session() as s:
        assert len(s.exec(select(AuditEntry)).all()) == trail
        assert len(s.exec(select(Case)).all()) == 1


async def test_hole_9_the_running_delivery_loop_prunes_on_its_schedule(
    svc: Services, clock: ManualClock,
) -> None:
    with svc.db.session() as s:
        user = make_user(s)
        row = outbox.notify(s, clock, user.id or 0, "sub.started")
        s.flush()
        outbox.mark_sent(s, clock, row.id or 0)
        s.add(ProcessedUpdate(key="tg:old", at=to_db(clock.now())))
    clock.advance(timedelta(days=max(svc.settings.keep_sent_days,
                                     svc.settings.keep_updates_days) + 1))
    loop = DeliveryLoop(svc, FakeChannel(svc), RateLimiter(1000))
    loop._prune()  # the first pass of the loop prunes
    with svc.db.session() as s:
        assert s.exec(select(Notification)).all() == []
        assert s.exec(select(ProcessedUpdate)).all() == []
        s.add(ProcessedUpdate(key="tg:older", at=to_db(clock.now() - timedelta(days=30))))
    loop._prune()  # not due again within the hour
    with svc.db.session() as s:
        assert len(s.exec(select(ProcessedUpdate)).all()) == 1
