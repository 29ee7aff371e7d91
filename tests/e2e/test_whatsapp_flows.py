# ruff: noqa: F811  (the WhatsApp fixtures are imported from tests.support.wa)
"""Whole SOPs with WhatsApp parties: everyone on WhatsApp; member on WhatsApp and officials on
Telegram (one bot, both fakes); a stale button; the 24-hour window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.models import Case, ChannelMessage
from fakebotapi import FakeBotApi, FakeUser
from fakewa import FakeWaUser, FakeWhatsApp
from tests.support.wa import WaKimBot, fakewa, text, wabot  # noqa: F401

NOTES = {"dispo": "Tindak lanjuti segera.", "lanjut": "Laksanakan peliputan."}
HOLDERS = {1: "staf", 2: "staf", 3: "kadis", 4: "staf", 5: "staf", 6: "kabid", 7: "staf",
           8: "kasi"}


async def _act_on_whatsapp(bot: WaKimBot, official: FakeWaUser, step: int, agenda: str) -> None:
    task = await bot.task(official, step)
    assert any(agenda in m.content for m in official.messages)
    choice_id, _title = task.choices[0]
    await official.click(id=choice_id, message=task)
    action = choice_id.split()[-1]
    if action in NOTES:
        await official.send(NOTES[action])
    elif any("Lewati" in b for b in official.buttons()):
        await official.click("Lewati")


async def test_lumajang_sop_with_everyone_on_whatsapp(wabot: WaKimBot) -> None:
    people = {role: await wabot.official(name, role) for name, role in
              (("Sari", "staf"), ("Dony", "kadis"), ("Budi", "kabid"), ("Rina", "kasi"))}
    member = await wabot.member()
    agenda = await wabot.submit(member)
    assert agenda.startswith("001/SM/DISKOMINFO-LMJ/")
    for step, role in HOLDERS.items():
        await _act_on_whatsapp(wabot, people[role], step, agenda)
    await wabot.fake.wait_until(
        lambda: any("telah selesai" in m.content for m in member.messages), 5,
        message=lambda: wabot.fake.dump_chat(member.wa_id))
    replies = await member.send("status")
    assert any("selesai" in m.content for m in replies)
    # Delivery statuses came back from WhatsApp and were recorded on what we sent.
    await wabot.fake.wait_until(
        lambda: "delivered" in wabot.statuses().values(), 5)
    assert wabot.count(ChannelMessage, ChannelMessage.notification_id.is_not(None)) > 0  # type: ignore[union-attr]


async def test_a_stale_button_on_whatsapp_is_refused(wabot: WaKimBot) -> None:
    staf = await wabot.official("Sari", "staf")
    member = await wabot.member()
    agenda = await wabot.submit(member)
    task = await wabot.task(staf, 1)
    choice_id, _ = task.choices[0]
    await staf.click(id=choice_id, message=task)
    if choice_id.split()[-1] in NOTES:
        await staf.send(NOTES[choice_id.split()[-1]])
    elif any("Lewati" in b for b in staf.buttons()):
        await staf.click("Lewati")
    replies = await staf.click(id=choice_id, message=task)  # the same button again
    assert any(m.content.startswith(text("error.stale")[:20]) for m in replies), \
        [m.content for m in replies]
    assert agenda


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


async def test_member_on_whatsapp_officials_on_telegram(
        fakewa: FakeWhatsApp, api: FakeBotApi, database_url: str) -> None:
    bot = WaKimBot(fakewa, database_url, api=api)
    await bot.start()
    try:
        people = {role: await bot.tg_official(name, role) for name, role in
                  (("Sari", "staf"), ("Dony", "kadis"), ("Budi", "kabid"), ("Rina", "kasi"))}
        member = await bot.member()
        agenda = await bot.submit(member)
        for step, role in HOLDERS.items():
            official = people[role]

            def has_task(o: FakeUser = official, s: int = step) -> bool:
                return any(f"Langkah {s}:" in (m.text or "") and m.reply_markup
                           for m in o.messages)

            await api.wait_until(has_task, timeout=5)
            task = next(m for m in reversed(official.messages)
                        if f"Langkah {step}:" in (m.text or "") and m.reply_markup)
            assert agenda in (task.text or "")
            # The member's photo and document reach the Telegram officials (step 1's task).
            _label, data = official.buttons(task)[0][0]
            await official.click(data=data, message=task)
            action = (data or "").split()[-1]
            if action in NOTES:
                await official.send(NOTES[action])
            elif any("Lewati" in t for row in official.buttons() for t, _ in row):
                await official.click("Lewati")
        await fakewa.wait_until(
            lambda: any("telah selesai" in m.content for m in member.messages), 5,
            message=lambda: fakewa.dump_chat(member.wa_id))
        staf = people["staf"]
        assert any(m.document or m.photo for m in staf.messages)
    finally:
        await bot.stop()


async def test_notifications_after_24_hours_of_silence_use_the_template(
        fakewa: FakeWhatsApp, database_url: str, clock: ManualClock) -> None:
    bot = WaKimBot(fakewa, database_url, clock=clock)
    await bot.start()
    try:
        staf = await bot.official("Sari", "staf")
        member = await bot.member()
        await bot.submit(member)
        task = await bot.task(staf, 1)
        # A day passes without the member writing; then staf acts: the member is told by
        # the template (free-form is not allowed any more).
        clock.advance(timedelta(hours=25))
        fakewa.advance(hours=25)
        before = len(member.messages)
        await staf.send("menu")  # the official writes again: their own window is open
        choice_id, _ = task.choices[0]
        await staf.click(id=choice_id, message=task)
        action = choice_id.split()[-1]
        if action in NOTES:
            await staf.send(NOTES[action])
        elif any("Lewati" in b for b in staf.buttons()):
            await staf.click("Lewati")
        await fakewa.wait_until(lambda: len(member.messages) > before, 5,
                                message=lambda: fakewa.dump_chat(member.wa_id))
        new = member.messages[before:]
        assert all(m.kind == "template" for m in new), [m.describe() for m in new]
        assert new[0].template_name == "kimbot_pemberitahuan"
        assert new[0].template_language == "id"
        # The quick reply brings the member back: their window opens, "status" answers.
        replies = await member.click(new[-1].choices[0][1], message=new[-1])
        assert replies
        assert replies[-1].kind != "template"
    finally:
        await bot.stop()


async def test_a_telegram_member_writing_from_the_same_number_is_linked(
        fakewa: FakeWhatsApp, api: FakeBotApi, database_url: str) -> None:
    bot = WaKimBot(fakewa, database_url, api=api)
    await bot.start()
    try:
        tg = bot.tg_person("Wati Susanti")
        for answer in ["/start", "Wati Susanti", "KIM Sumber Makmur", "Desa Tempeh Tengah",
                       "Kecamatan Tempeh"]:
            await tg.send(answer)
        await tg.share_contact("+6281234567890")
        await tg.click("Lumajang")
        wa = FakeWaUser(fakewa, "6281234567890", "Wati")
        replies = await wa.send("halo")
        assert replies[-1].content == text("link.ask", name="Wati Susanti", channel="telegram")
        replies = await wa.click(text("button.link_yes"))
        assert any(m.content.startswith("✅") for m in replies)
        # One person: the WhatsApp account answers as the registered member.
        agenda = await bot.submit(wa)
        assert agenda.startswith("001/SM/")
        assert bot.user_of("6281234567890").full_name == "Wati Susanti"
    finally:
        await bot.stop()


async def test_pair_rate_limit_is_waited_out_and_failures_are_recorded(
        wabot: WaKimBot, fakewa: FakeWhatsApp) -> None:
    staf = await wabot.official("Sari", "staf")
    member = await wabot.member()
    # WhatsApp refuses the first try of the task (too many messages to this person): it
    # comes once the pause is over, not lost and not twice.
    fakewa.fail_next(131056, wa_id=staf.wa_id)
    agenda = await wabot.submit(member)
    task = await wabot.task(staf, 1)
    assert any(agenda in m.content for m in staf.messages)
    assert sum(1 for m in staf.messages if "Langkah 1:" in m.content) == 1
    assert any(c.error and "131056" in str(c.error) for c in fakewa.calls)
    # A message WhatsApp accepts but cannot deliver: its "failed" status is recorded.
    fakewa.fail_next(131026, wa_id=member.wa_id, via="webhook")
    choice_id, _ = task.choices[0]
    await staf.click(id=choice_id, message=task)
    if choice_id.split()[-1] in NOTES:
        await staf.send(NOTES[choice_id.split()[-1]])
    elif any("Lewati" in b for b in staf.buttons()):
        await staf.click("Lewati")
    await fakewa.wait_until(lambda: "failed" in wabot.statuses().values(), 5)


async def test_a_broadcast_reaches_whatsapp_members_as_the_template(
        wabot: WaKimBot, fakewa: FakeWhatsApp) -> None:
    wati = await wabot.member("Wati Susanti")
    budi = await wabot.member("Budi Santoso")
    await budi.send("berhenti")  # opted out: gets nothing
    admin = wabot.admin
    await admin.send("siaran")
    await admin.send("Rapat KIM se-kabupaten Sabtu pukul 09.00.")
    await admin.click("Semua anggota")
    await admin.click("Kirim")

    def announced(user: FakeWaUser) -> list[str]:
        return [m.template_name or "" for m in user.messages if m.kind == "template"]

    await fakewa.wait_until(lambda: bool(announced(wati)), 10,
                            message=lambda: fakewa.dump_chat(admin.wa_id))
    [sent] = [m for m in wati.messages if m.kind == "template"]
    assert sent.template_name == "kimbot_siaran"
    assert sent.template_params == ["Rapat KIM se-kabupaten Sabtu pukul 09.00."]
    await fakewa.wait_until(
        lambda: any(m.content.startswith(("📊 Laporan siaran", "📊 Broadcast"))
                    for m in admin.messages), 10, message=lambda: fakewa.dump_chat(admin.wa_id))
    assert announced(budi) == []


async def test_without_telegram_the_sla_watcher_still_reminds_on_whatsapp(
        wabot: WaKimBot) -> None:
    staf = await wabot.official("Sari", "staf")
    member = await wabot.member()
    agenda = await wabot.submit(member)
    await wabot.task(staf, 1)
    reminder = text("notify.sla_reminder").split(":")[0]  # "⏰ Pengingat"
    assert not any(m.content.startswith(reminder) for m in staf.messages)
    # The reminder time has come (the stored deadline says so); the watcher is told.
    assert wabot.svc is not None
    past = datetime.now(UTC) - timedelta(minutes=1)
    with wabot.svc.db.session() as session:
        case = session.exec(select(Case)).one()
        case.remind_at = case.sla_next_at = past
        session.add(case)
    wabot.svc.kick_sla()
    await wabot.fake.wait_until(
        lambda: any(m.content.startswith(reminder) for m in staf.messages), 5,
        message=lambda: wabot.fake.dump_chat(staf.wa_id))
    assert any(agenda in m.content for m in staf.messages if m.content.startswith(reminder))


async def test_a_window_closed_after_all_sends_the_template_instead(
        wabot: WaKimBot, fakewa: FakeWhatsApp) -> None:
    staf = await wabot.official("Sari", "staf")
    member = await wabot.member()
    await wabot.submit(member)
    task = await wabot.task(staf, 1)
    # WhatsApp accepts the free-form notice, then reports 131047 (window closed): the bot
    # sends the notification again as the template.
    fakewa.fail_next(131047, wa_id=member.wa_id, via="webhook")
    before = len(member.messages)
    choice_id, _ = task.choices[0]
    await staf.click(id=choice_id, message=task)
    if choice_id.split()[-1] in NOTES:
        await staf.send(NOTES[choice_id.split()[-1]])
    elif any("Lewati" in b for b in staf.buttons()):
        await staf.click("Lewati")
    await fakewa.wait_until(
        lambda: any(m.kind == "template" for m in member.messages[before:]), 5,
        message=lambda: fakewa.dump_chat(member.wa_id))
    [template] = [m for m in member.messages[before:] if m.kind == "template"]
    assert template.template_name == "kimbot_pemberitahuan"
