"""bot.delivery with a fake channel (no Telegram): one loop for notifications and broadcasts.

Per-attachment progress across a 429, continuous release of expired leases, the broadcast
outcomes (unreachable, unconfirmed, transient), the commit before every broadcast request,
an upload made once and reused, and the admin's progress and report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot import broadcast as bc
from bot import delivery, outbox
from bot.broadcast import Audience
from bot.clock import ManualClock, to_db
from bot.conversations.output import Message
from bot.delivery import (
    Commit,
    DeliveryLoop,
    RateLimited,
    Sent,
    Transient,
    Unconfirmed,
    Unreachable,
)
from bot.files import ref_for
from bot.models import Attachment, BroadcastDelivery, Case, FileRef, Notification, User
from bot.ratelimit import RateLimiter
from bot.services import Services, build_services
from bot.settings import Settings
from tests.support.factories import DEFAULT_AT, make_member, make_user

ADMIN = "9000"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Call:
    chat_id: str
    text: str
    kind: str = ""  # "" for text, else photo/document
    ref: str = ""
    blob: str = ""
    committed: str | None = None  # the delivery's status when the request "left"


@dataclass
class FakeChannel:
    """Records sends and edits; per chat, each send takes the next queued outcome (an
    error to raise, or None: it goes through)."""

    svc: Services
    name: str = "telegram"
    calls: list[Call] = field(default_factory=list)
    edits: list[tuple[str, int, Message]] = field(default_factory=list)
    failures: dict[str, list[Exception | None]] = field(default_factory=dict)

    async def send(self, chat_id: str, message: Message, *,
                   commit: Commit | None = None) -> Sent:
        item = message.files[0] if message.files else None
        call = Call(chat_id, item.caption if item else message.text,
                    item.kind if item else "", item.ref if item else "",
                    item.blob if item else "")
        if commit is not None:
            await commit(lambda: setattr(call, "committed", self._status(chat_id)))
        await asyncio.sleep(0)
        queued = self.failures.get(chat_id)
        error = queued.pop(0) if queued else None
        if error is not None:
            raise error
        self.calls.append(call)
        if item is not None and not (item.ref and item.channel == self.name):
            return Sent(len(self.calls), file_ref=f"tg-{item.blob[:8]}")
        return Sent(len(self.calls))

    def _status(self, chat_id: str) -> str:
        """The broadcast delivery's status for this chat, as committed right now."""
        with self.svc.db.session() as session:
            rows = session.exec(select(BroadcastDelivery)).all()
            users = {r.user_id: r.status for r in rows}
            user = session.exec(select(User).where(User.chat_id == chat_id)).one()
            return users[user.id]

    async def edit(self, chat_id: str, message_id: int, message: Message) -> None:
        self.edits.append((chat_id, message_id, message))

    def to(self, chat_id: str) -> list[Call]:
        return [c for c in self.calls if c.chat_id == chat_id]


class FakeTime:
    """The limiter's clock: moves only when it sleeps (or the test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    settings = Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                        KIMBOT_ADMIN_IDS=ADMIN, KIMBOT_OUTBOX_POLL=0.05)
    services = build_services(settings, clock=clock)
    try:
        yield services
    finally:
        services.db.dispose()


def _case(s: Session, requester: int) -> int:
    case = Case(office="lumajang", sop_code="LMJ-01", agenda_year=2026, agenda_seq=1,
                agenda_number="001/SM/X/2026", requester_id=requester, started_by_id=requester,
                subject="s", purpose="p", step_no=1, step_started_at=DEFAULT_AT,
                created_at=DEFAULT_AT, request_key="k1")
    s.add(case)
    s.flush()
    assert case.id is not None
    return case.id


async def test_a_429_keeps_the_files_already_delivered(svc: Services,
                                                        clock: ManualClock) -> None:
    """Files go first, each recorded once delivered; the retry sends only the text. A file
    from another channel is uploaded from the store and its new reference remembered."""
    blob = svc.files.put(PDF)
    with svc.db.session() as s:
        sari = make_user(s, name="Sari")
        assert sari.id is not None
        case_id = _case(s, sari.id)
        photo = Attachment(case_id=case_id, kind="photo", file_ref="AgADphoto",
                           channel="telegram", label="Foto", uploaded_by=sari.id,
                           created_at=DEFAULT_AT)
        pdf = Attachment(case_id=case_id, kind="document", file_ref="wamid.1",
                         channel="whatsapp", blob_hash=blob, file_name="surat.pdf",
                         label="Surat", uploaded_by=sari.id, created_at=DEFAULT_AT)
        s.add_all([photo, pdf])
        s.flush()
        row = outbox.notify(s, clock, sari.id, "sub.stopped",
                            attachment_ids=[photo.id or 0, pdf.id or 0])
        s.flush()
        row_id, chat = row.id, sari.chat_id
    channel = FakeChannel(svc)
    fake = FakeTime()
    limiter = RateLimiter(1000, now=fake, sleep=fake.sleep)
    loop = DeliveryLoop(svc, channel, limiter)

    channel.failures[chat] = [None, None, RateLimited(5)]  # the text, after both files
    assert await loop.drain() == 1
    assert [(c.kind, c.ref, c.blob) for c in channel.to(chat)] == [
        ("photo", "AgADphoto", ""), ("document", "", blob)]
    assert limiter.paused_for == pytest.approx(5)
    with svc.db.session() as s:
        stored = s.get(Notification, row_id)
        assert stored is not None
        assert (stored.status, stored.attempts) == ("pending", 1)
        assert sorted(stored.params[outbox.FILES_SENT]) == sorted([photo.id, pdf.id])
        assert ref_for(s, blob=blob, origin_channel="whatsapp", origin_ref="wamid.1",
                       channel="telegram") == f"tg-{blob[:8]}"

    fake.now += 5
    clock.advance(timedelta(seconds=5))
    assert await loop.drain() == 1
    assert [c.kind for c in channel.to(chat)] == ["photo", "document", ""]
    with svc.db.session() as s:
        stored = s.get(Notification, row_id)
        assert stored is not None
        assert (stored.status, stored.attempts) == ("sent", 2)


async def test_unreachable_fails_the_row_and_transient_errors_retry(
    svc: Services, clock: ManualClock,
) -> None:
    with svc.db.session() as s:
        blocked, flaky = make_user(s), make_user(s)
        rows = [outbox.notify(s, clock, u.id or 0, "sub.started") for u in (blocked, flaky)]
        s.flush()
        ids = [r.id for r in rows]
    channel = FakeChannel(svc)
    channel.failures[blocked.chat_id] = [Unreachable("unreachable: 403: blocked")]
    channel.failures[flaky.chat_id] = [Unconfirmed("no answer")]
    loop = DeliveryLoop(svc, channel, RateLimiter(1000))
    assert await loop.drain() == 2
    with svc.db.session() as s:
        first, second = (s.get(Notification, i) for i in ids)
        assert first is not None
        assert second is not None
        assert (first.status, "blocked" in first.last_error) == ("failed", True)
        assert (second.status, second.last_error) == ("pending", "no answer")


async def test_expired_leases_are_released_while_running(
    svc: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row a killed process left `sending` goes out once its lease ends, no restart."""
    monkeypatch.setattr(delivery, "RELEASE_EVERY_S", 0.0)
    channel = FakeChannel(svc)
    loop = DeliveryLoop(svc, channel, RateLimiter(1000))
    await loop.start()
    try:
        with svc.db.session() as s:
            user = make_user(s)
            row = outbox.notify(s, clock, user.id or 0, "sub.started")
            row.status, row.next_attempt_at = "sending", to_db(clock.now() + outbox.LEASE)
            s.add(row)
        await asyncio.sleep(0.2)
        assert channel.calls == []  # still leased
        clock.advance(outbox.LEASE)
        loop.wake()
        for _ in range(100):
            if channel.calls:
                break
            await asyncio.sleep(0.02)
        assert [c.chat_id for c in channel.calls] == [user.chat_id]
    finally:
        await loop.stop()


async def _run_to_report(svc: Services, channel: FakeChannel) -> None:
    """Run a delivery loop until the admin has the broadcast's report."""
    loop = DeliveryLoop(svc, channel, RateLimiter(1000), progress_s=0.05)
    await loop.start()
    try:
        for _ in range(300):
            if any(c.text.startswith("📊") for c in channel.to(ADMIN)):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"no report: {channel.calls}")
    finally:
        await loop.stop()


def _start(svc: Services, clock: ManualClock, members: int,
           **media: str) -> tuple[int, list[str]]:
    """An admin, `members` members and a broadcast to them all, started: (id, chats)."""
    with svc.db.session() as s:
        admin = make_user(s, name="Admin", external_id=ADMIN)
        chats = [make_member(s, f"Anggota {i}").chat_id for i in range(members)]
        draft = bc.create_draft(s, clock, admin.id or 0, "Kerja bakti",
                                **media)  # type: ignore[arg-type]
        assert draft.id is not None
        bc.set_audience(s, draft.id, Audience("members"))
        bc.start(s, clock, draft.id, progress_chat_id=ADMIN, progress_message_id=77)
        return draft.id, chats


async def test_a_broadcast_commits_each_delivery_before_it_leaves(
    svc: Services, clock: ManualClock,
) -> None:
    broadcast_id, chats = _start(svc, clock, 5)
    channel = FakeChannel(svc)
    channel.failures[chats[1]] = [Unreachable("unreachable: 403: blocked")]
    channel.failures[chats[2]] = [Unconfirmed("no answer")]
    channel.failures[chats[3]] = [Transient("502: Bad Gateway")]
    await _run_to_report(svc, channel)

    # Sent once each (the 502 was retried; the unconfirmed one never repeated).
    assert [len(channel.to(c)) for c in chats] == [1, 0, 0, 1, 1]
    assert {c.committed for c in channel.calls if c.chat_id != ADMIN} == {"sending"}
    with svc.db.session() as s:
        statuses = [d.status for d in s.exec(select(BroadcastDelivery)
                                              .order_by(BroadcastDelivery.id))]
        state = bc.progress(s, broadcast_id)
    assert statuses == ["sent", "unreachable", "unconfirmed", "sent", "sent"]
    assert (state.status, state.sent, state.unreachable) == ("finished", 4, 1)
    [report] = [c.text for c in channel.to(ADMIN)]
    assert report.startswith("📊")
    chat_id, message_id, final = channel.edits[-1]
    assert (chat_id, message_id, final.buttons) == (ADMIN, 77, [])


async def test_a_file_from_another_channel_is_uploaded_once(
    svc: Services, clock: ManualClock,
) -> None:
    blob = svc.files.put(PDF)
    _, chats = _start(svc, clock, 6, media_kind="document", media_ref="wamid.9",
                      media_channel="whatsapp", media_blob=blob)
    channel = FakeChannel(svc)
    await _run_to_report(svc, channel)
    sends = [c for c in channel.calls if c.chat_id != ADMIN]
    assert len(sends) == len(chats)
    assert [c.ref for c in sends].count("") == 1  # the first one uploaded the bytes
    assert {c.ref for c in sends} == {"", f"tg-{blob[:8]}"}
    with svc.db.session() as s:
        assert s.get(FileRef, (blob, "telegram")) is not None
