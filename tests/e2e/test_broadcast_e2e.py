"""/siaran end to end: the admin's dialog, delivery, 429, blocked members, cancel, restart."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from sqlmodel import select

from bot.broadcast import CANCELLED, SENT, UNREACHABLE
from bot.models import BroadcastDelivery, User
from fakebotapi import FakeBotApi, FakeUser, SentMessage
from handlers.telegram import delivery as edge
from tests.support.factories import DEFAULT_AT
from tests.support.kimbot import PDF, KimBot, text

_ids = itertools.count(70_001)


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress edits every 0.3 s instead of 2 s, so short broadcasts show some."""
    monkeypatch.setattr(edge, "PROGRESS_S", 0.3)


@pytest.fixture(params=["raw", "ptb"])
def send_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Broadcasts go out through handlers.telegram.rawapi, or through PTB (the fallback behind
    a proxy).

    Request this fixture before `kimbot`: the bot reads the switch when it starts."""
    monkeypatch.setattr(edge, "USE_RAW", request.param == "raw")
    return str(request.param)


@pytest.fixture
async def slow_bot(api: FakeBotApi, database_url: str) -> AsyncIterator[KimBot]:
    """A bot whose global limit is 10 messages/s, so a broadcast lasts long enough to act."""
    bot = KimBot(api, database_url, KIMBOT_GLOBAL_RATE=10)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def seed_members(
    kimbot: KimBot, count: int, *, district: str = "Kecamatan Tempeh",
    group: str = "KIM Sumber Makmur", office: str = "lumajang",
) -> list[FakeUser]:
    """Registered members written straight into the database (registration is tested
    elsewhere); each is a FakeUser whose chat the bot can write to."""
    assert kimbot.svc is not None
    people = []
    with kimbot.svc.db.session() as session:
        for _ in range(count):
            ident = next(_ids)
            person = FakeUser(kimbot.api, ident, f"Anggota {ident}")
            session.add(User(external_id=str(ident), chat_id=str(ident),
                             display_name=person.user["first_name"], full_name=f"A {ident}",
                             kim_group=group, village="Desa", district=district,
                             phone="0812", office=office, registered_at=DEFAULT_AT,
                             created_at=DEFAULT_AT))
            people.append(person)
    return people


def got(person: FakeUser, content: str) -> int:
    """How many times the announcement reached this person."""
    return sum(1 for m in person.all_messages if m.content == content)


def report_of(admin: FakeUser) -> SentMessage | None:
    for message in reversed(admin.messages):
        if message.content.startswith(("📊 Laporan siaran", "📊 Broadcast")):
            return message
    return None


def expected_report(state: dict[str, Any], *, cancelled: bool = False) -> str:
    key = "bc.report_cancelled" if cancelled else "bc.report"
    return text(key, **state).split("⏱")[0]


async def broadcast(kimbot: KimBot, content: str, audience: Iterable[str] = ("Semua anggota",),
                    *, send: bool = True) -> list[SentMessage]:
    """Go through /siaran as the admin; returns the messages of the last step."""
    admin = kimbot.admin
    await admin.send("/siaran")
    assert admin.last_message is not None
    assert admin.last_message.content == text("bc.ask_content", text=4096, caption=1024)
    await admin.send(content)
    shown: list[SentMessage] = []
    for label in audience:
        shown = await admin.click(label)
    if send:
        shown = await admin.click("Kirim")
    return shown


async def wait_report(kimbot: KimBot, timeout: float = 10.0) -> str:  # noqa: ASYNC109
    await kimbot.api.wait_until(lambda: report_of(kimbot.admin) is not None, timeout,
                                message=lambda: kimbot.api.dump_chat(kimbot.admin.chat_id))
    report = report_of(kimbot.admin)
    assert report is not None
    return report.content


def deliveries(kimbot: KimBot) -> list[BroadcastDelivery]:
    assert kimbot.svc is not None
    with kimbot.svc.db.session() as session:
        rows = list(session.exec(select(BroadcastDelivery).order_by(BroadcastDelivery.id)))
        for row in rows:
            session.expunge(row)
        return rows


def progress_message(kimbot: KimBot) -> SentMessage:
    found = [m for m in kimbot.admin.all_messages if m.content.startswith(("📢 Siaran #", "⏹"))]
    assert len(found) == 1, [m.content for m in found]
    return found[0]


async def test_admin_broadcasts_to_members_and_the_opted_out_get_nothing(kimbot: KimBot) -> None:
    members = seed_members(kimbot, 3)
    wati = await kimbot.member("Wati")
    await wati.send("/berhenti")
    assert wati.last_message is not None
    assert wati.last_message.content == text("sub.stopped")
    await wati.send("/berhenti")
    assert wati.last_message.content == text("sub.already_stopped")

    # A member may not broadcast.
    await members[0].send("/siaran")
    assert members[0].last_message is not None
    assert members[0].last_message.content == text("error.admin_only")

    admin = kimbot.admin
    await admin.send("/siaran")
    await admin.send("Kerja bakti Minggu pagi pukul 07.00 di balai desa.")
    assert admin.last_message is not None
    labels = [label for row in admin.buttons() for label, _ in row]
    assert text("bc.button_all", count=3) in labels  # Wati opted out
    preview = await admin.click(text("bc.button_all", count=3))
    # The announcement as members will see it, then the count and the send button.
    assert [m.content for m in preview][-2:] == [
        "Kerja bakti Minggu pagi pukul 07.00 di balai desa.",
        text("bc.preview", count=3, audience=text("bc.audience_members"))]
    summary = preview[-1]
    send_data = summary.buttons()[0][0][1]
    assert send_data is not None
    await admin.click(text("bc.button_send", count=3))

    report = await wait_report(kimbot)
    announcement = "Kerja bakti Minggu pagi pukul 07.00 di balai desa."
    # Kirim pressed once more (a double tap): nothing is sent again.
    answer = await kimbot.press_as(admin, summary, send_data)
    assert answer.text == text("error.stale_button")
    assert [got(m, announcement) for m in members] == [1, 1, 1]
    assert got(wati, announcement) == 0
    assert report.startswith(expected_report(
        {"id": 1, "total": 3, "sent": 3, "failed": 0, "unreachable": 0}))
    progress = progress_message(kimbot)
    assert progress.edited_count >= 1
    assert progress.content.startswith(text("bc.progress_finished", id=1, bar="▓" * 10,
                                            percent=100, total=3, sent=3, failed=0,
                                            unreachable=0, left=0).split("\n")[0])
    assert "⏳" in progress.content
    assert progress.buttons() == []  # no stop button at the end
    assert {d.status for d in deliveries(kimbot)} == {SENT}

    # Back on the list: the next broadcast reaches Wati too.
    await wati.send("/langganan")
    assert wati.last_message is not None
    assert wati.last_message.content == text("sub.started")
    await broadcast(kimbot, "Rapat KIM Kamis.", [text("bc.button_all", count=4)])
    await kimbot.api.wait_until(lambda: got(wati, "Rapat KIM Kamis.") == 1)


async def test_audience_by_kecamatan_group_and_role(kimbot: KimBot) -> None:
    tempeh = seed_members(kimbot, 2, district="Kecamatan Tempeh", group="KIM Makmur")
    pasirian = seed_members(kimbot, 3, district="Kecamatan Pasirian", group="KIM Jaya")
    sari = await kimbot.official("Sari", "staf")
    admin = kimbot.admin

    await admin.send("/siaran")
    await admin.send("Untuk Pasirian.")
    await admin.click(text("bc.button_district"))
    labels = [label for row in admin.buttons() for label, _ in row]
    assert labels[:2] == ["☐ Kecamatan Pasirian (3)", "☐ Kecamatan Tempeh (2)"]
    answer = await admin.click(text("bc.button_next"))  # nothing chosen yet
    assert admin.last_callback_answer is not None
    assert admin.last_callback_answer.text == text("bc.pick_one")
    assert answer == []
    await admin.click("Kecamatan Pasirian (3)")
    await admin.click("Kecamatan Tempeh (2)")
    await admin.click("Kecamatan Tempeh (2)")  # toggled off again
    labels = [label for row in admin.buttons() for label, _ in row]
    assert labels[:2] == ["☑ Kecamatan Pasirian (3)", "☐ Kecamatan Tempeh (2)"]
    shown = await admin.click(text("bc.button_next"))
    assert shown[-1].content == text("bc.preview", count=3, audience=text(
        "bc.audience_district", values="Kecamatan Pasirian"))
    await admin.click(text("bc.button_send", count=3))
    await wait_report(kimbot)
    assert [got(m, "Untuk Pasirian.") for m in pasirian + tempeh] == [1, 1, 1, 0, 0]
    assert got(sari, "Untuk Pasirian.") == 0

    # By KIM group, with a photo and its caption.
    await admin.send("/siaran")
    await admin.send_photo(caption="Foto kegiatan KIM Makmur")
    await admin.click(text("bc.button_group"))
    await admin.click("KIM Makmur (2)")
    shown = await admin.click(text("bc.button_next"))
    assert shown[-2].kind == "photo"
    assert shown[-2].caption == "Foto kegiatan KIM Makmur"
    await admin.click(text("bc.button_send", count=2))
    await kimbot.api.wait_until(lambda: all(
        sum(m.caption == "Foto kegiatan KIM Makmur" for m in p.messages) == 1 for p in tempeh))
    assert not any(m.kind == "photo" for p in pasirian for m in p.messages)

    # Officials of a role, in one office; a document this time.
    await kimbot.api.wait_until(lambda: len([m for m in admin.messages
                                             if m.content.startswith("📊")]) == 2)
    await admin.send("/siaran")
    await admin.send_document("edaran.pdf", PDF, "application/pdf", caption="Edaran staf")
    await admin.click(text("bc.button_role"))
    await admin.click("Staf Administrasi (1)")
    shown = await admin.click("Kabupaten Lumajang")
    assert shown[-1].content.startswith(text("bc.preview", count=1, audience="").split("(")[0])
    await admin.click(text("bc.button_send", count=1))
    await kimbot.api.wait_until(
        lambda: [m.caption for m in sari.messages if m.kind == "document"] == ["Edaran staf"])
    assert not any(m.kind == "document" for p in pasirian + tempeh for m in p.messages)


async def test_a_429_pauses_the_broadcast_and_everyone_gets_it_once(
    send_path: str, kimbot: KimBot,
) -> None:
    assert kimbot.app is not None
    broadcaster = kimbot.app.bot_data[edge.BOT_DATA_KEY]
    assert (broadcaster.raw is not None) == (send_path == "raw")
    members = seed_members(kimbot, 6)
    kimbot.api.fail_next("sendMessage", error_code=429,
                         description="Too Many Requests: retry after 1", retry_after=1,
                         chat_id=members[2].chat_id)
    await broadcast(kimbot, "Pengumuman A", [text("bc.button_all", count=6)])
    report = await wait_report(kimbot)

    assert [got(m, "Pengumuman A") for m in members] == [1] * 6
    calls = [c for c in kimbot.api.calls_of("sendMessage")
             if c.params.get("text") == "Pengumuman A"]
    [refused] = [c for c in calls if c.error]
    assert refused.error is not None
    assert refused.error["error_code"] == 429
    after = [c.at - refused.at for c in calls if c.ok and c.at > refused.at]
    assert after
    assert min(after) >= 0.9  # everyone waited as Telegram asked
    assert report.startswith(expected_report(
        {"id": 1, "total": 6, "sent": 6, "failed": 0, "unreachable": 0}))


async def test_a_member_who_blocked_the_bot_is_counted_unreachable(
    send_path: str, kimbot: KimBot,
) -> None:
    members = seed_members(kimbot, 4)
    kimbot.api.block(members[1].chat_id)
    await broadcast(kimbot, "Pengumuman B", [text("bc.button_all", count=4)])
    report = await wait_report(kimbot)

    assert [got(m, "Pengumuman B") for m in members] == [1, 0, 1, 1]
    assert report.startswith(expected_report(
        {"id": 1, "total": 4, "sent": 3, "failed": 0, "unreachable": 1}))
    statuses = [d.status for d in deliveries(kimbot)]
    assert sorted(statuses) == sorted([SENT, UNREACHABLE, SENT, SENT])
    [blocked] = [d for d in deliveries(kimbot) if d.status == UNREACHABLE]
    assert "blocked" in blocked.error
    # Not retried: one refused call only.
    refused = [c for c in kimbot.api.calls_of("sendMessage") if c.error]
    assert len(refused) == 1


async def test_the_admin_stops_a_broadcast_midway(slow_bot: KimBot) -> None:
    kimbot = slow_bot
    members = seed_members(kimbot, 30)
    await broadcast(kimbot, "Pengumuman C", [text("bc.button_all", count=30)])
    await kimbot.api.wait_until(lambda: sum(got(m, "Pengumuman C") for m in members) >= 5)
    progress = progress_message(kimbot)
    await kimbot.press_as(kimbot.admin, progress, progress.buttons()[0][0][1] or "")
    report = await wait_report(kimbot)

    delivered = sum(got(m, "Pengumuman C") for m in members)
    assert 5 <= delivered < 30
    assert max(got(m, "Pengumuman C") for m in members) == 1
    rows = deliveries(kimbot)
    assert sum(d.status == SENT for d in rows) == delivered
    assert sum(d.status == CANCELLED for d in rows) == 30 - delivered
    assert report.startswith(expected_report(
        {"id": 1, "total": 30, "sent": delivered, "failed": 0, "unreachable": 0},
        cancelled=True))
    assert text("bc.report_not_sent", count=30 - delivered) in report
    await kimbot.admin.expect_silence(0.5)
    assert sum(got(m, "Pengumuman C") for m in members) == delivered  # nothing after the stop


async def test_a_restart_midway_resumes_without_duplicates_or_gaps(slow_bot: KimBot) -> None:
    kimbot = slow_bot
    members = seed_members(kimbot, 30)
    await broadcast(kimbot, "Pengumuman D", [text("bc.button_all", count=30)])
    await kimbot.api.wait_until(lambda: sum(got(m, "Pengumuman D") for m in members) >= 8)
    before = progress_message(kimbot)
    edits_before = before.edited_count
    await kimbot.stop()
    halfway = sum(got(m, "Pengumuman D") for m in members)
    assert halfway < 30  # the process stopped with work left
    await kimbot.start()
    report = await wait_report(kimbot, timeout=15)

    assert [got(m, "Pengumuman D") for m in members] == [1] * 30
    assert report.startswith(expected_report(
        {"id": 1, "total": 30, "sent": 30, "failed": 0, "unreachable": 0}))
    # The same progress message went on being edited after the restart.
    after = progress_message(kimbot)
    assert after.message_id == before.message_id
    assert after.edited_count > edits_before
    assert {d.status for d in deliveries(kimbot)} == {SENT}


async def test_a_member_answered_promptly_while_a_broadcast_runs(slow_bot: KimBot) -> None:
    kimbot = slow_bot
    members = seed_members(kimbot, 40)
    asker = await kimbot.member("Rina")
    await broadcast(kimbot, "Pengumuman E", [text("bc.button_all", count=41)])
    await kimbot.api.wait_until(lambda: sum(got(m, "Pengumuman E") for m in members) >= 3)
    pushed = time.monotonic()  # the fake server stamps calls with the same clock
    kimbot.api.push_message(asker.user, "/status")
    await kimbot.api.wait_until(lambda: any(
        m.content == text("status.none") for m in asker.messages))
    replies = [c for c in kimbot.api.calls_of("sendMessage")
               if c.params.get("chat_id") in (asker.chat_id, str(asker.chat_id))
               and c.params.get("text") == text("status.none")]
    assert replies
    assert replies[0].at - pushed < 0.5  # not queued behind the broadcast (4 s at 10/s)
    assert sum(got(m, "Pengumuman E") for m in members) < 40


async def test_notifications_overtake_a_running_broadcast(slow_bot: KimBot) -> None:
    """Outbox notifications share the 10/s limit with the broadcast but go first."""
    kimbot = slow_bot
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member("Wati")
    members = seed_members(kimbot, 60)
    await broadcast(kimbot, "Pengumuman F", [text("bc.button_all", count=61)])
    await kimbot.api.wait_until(lambda: sum(got(m, "Pengumuman F") for m in members) >= 3)
    agenda = await kimbot.submit(wati)
    submitted = time.monotonic()
    task = await kimbot.task(sari, 1)
    arrived = [c.at for c in kimbot.api.calls_of("sendMessage")
               if c.ok and agenda in str(c.params.get("text")) and
               str(c.params.get("chat_id")) == str(sari.chat_id)]
    assert task is not None
    assert arrived
    assert arrived[0] - submitted < 1.0  # not behind the ~6 s of broadcast left
    assert sum(got(m, "Pengumuman F") for m in members) < 60
    await wait_report(kimbot, timeout=15)
    assert [got(m, "Pengumuman F") for m in members] == [1] * 60
