"""The /siaran dialog in the core, with no channel: events in, outcomes and effects out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot import broadcast as bc
from bot.clock import ManualClock
from bot.conversations import broadcast as flow
from bot.conversations.events import Press
from bot.conversations.intents import BroadcastStep, BroadcastStop
from bot.conversations.output import Outcome
from bot.models import Broadcast, BroadcastDelivery
from bot.services import Services
from tests.support.catalog import text
from tests.support.chat import JPEG, ChatHub, ChatPerson, core_services
from tests.support.factories import make_member

ADMIN = "9000"
LUMAJANG_ADMIN = "9100"


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    with core_services(database_url, clock, KIMBOT_ADMIN_IDS=ADMIN,
                       KIMBOT_OFFICE_ADMINS=f"{LUMAJANG_ADMIN}:lumajang") as services:
        yield services


@pytest.fixture
def hub(svc: Services) -> ChatHub:
    with svc.db.session() as s:
        for i in range(3):
            make_member(s, f"Anggota {i}")
        make_member(s, "Anggota Kolaka", office="kolaka")
    return ChatHub(svc)


async def press(hub: ChatHub, person: ChatPerson, label: str) -> Outcome:
    """Press the newest button starting with `label`; the whole outcome (with effects)."""
    for shown in reversed(person.inbox):
        for button in (b for row in shown.buttons for b in row):
            if button.label.startswith(label):
                outcome = await hub.turn(person, Press(button.intent, button.intent.encode()))
                assert outcome is not None
                return outcome
    raise AssertionError(f"no button {label!r}")


async def test_compose_preview_launch_and_stop(hub: ChatHub, svc: Services) -> None:
    admin = hub.person("Admin", account_id=ADMIN)
    [ask] = await admin.send("/siaran")
    assert ask.text == text("bc.ask_content", text=4096, caption=1024)
    [menu] = await admin.send("Kerja bakti Minggu pagi.")
    assert menu.text == text("bc.choose_audience")
    assert menu.labels()[0] == text("bc.button_all", count=4)

    outcome = await press(hub, admin, text("bc.button_all", count=4))
    announcement, preview = outcome.messages
    assert (announcement.text, announcement.files) == ("Kerja bakti Minggu pagi.", [])
    assert preview.text == text("bc.preview", count=4, audience=text("bc.audience_members"))
    assert outcome.edit is not None
    assert outcome.edit.text == text("bc.audience_chosen",
                                     audience=text("bc.audience_members"))

    launch = await press(hub, admin, text("bc.button_send", count=4))
    [effect] = launch.effects
    assert isinstance(effect, flow.LaunchBroadcast)
    started = flow.launch(svc, effect, ADMIN, 501)
    assert started.running
    assert started.pressed == text("bc.sending", count=4, audience=text("bc.audience_members"))
    [[stop]] = started.progress.buttons
    assert stop.intent == BroadcastStop(effect.broadcast_id)
    assert flow.launch(svc, effect, ADMIN, 502).progress.text == text("bc.already_started")
    with svc.db.session() as s:
        row = s.get(Broadcast, effect.broadcast_id)
        assert row is not None
        assert (row.status, row.total, row.progress_message_id) == ("running", 4, 501)

    # Kirim again (a double tap) is stale: the dialog is over.
    again = await hub.turn(admin, Press(BroadcastStep("send", "x" * 8), "bc send xxxxxxxx"))
    assert again is not None
    assert again.answer == text("error.stale_button")

    stopped = await hub.turn(admin, Press(stop.intent, stop.intent.encode()))
    assert stopped is not None
    assert stopped.answer == text("bc.stopped")
    [halt] = stopped.effects
    assert isinstance(halt, flow.BroadcastStopped)
    progress, report = flow.stopped_report(svc, halt)
    assert progress.buttons == []
    assert report.text.startswith("📊")
    with svc.db.session() as s:
        statuses = {d.status for d in s.exec(select(BroadcastDelivery))}
    assert statuses == {bc.CANCELLED}
    again = await hub.turn(admin, Press(stop.intent, stop.intent.encode()))
    assert again is not None
    assert again.answer == text("bc.not_running")


async def test_a_photo_is_previewed_as_recipients_get_it(hub: ChatHub, svc: Services) -> None:
    admin = hub.person("Admin", account_id=ADMIN)
    await admin.send("/siaran")
    await admin.send_file("foto.jpg", JPEG, "image/jpeg", kind="photo", caption="Foto KIM")
    outcome = await press(hub, admin, text("bc.button_all", count=4))
    [item] = outcome.messages[0].files
    assert (outcome.messages[0].text, item.kind, item.caption) == ("", "photo", "Foto KIM")
    assert (item.ref, item.channel) == ("ref-foto.jpg", "telegram")
    assert item.blob
    assert svc.files.has(item.blob)


async def test_members_may_not_and_office_admins_stay_in_their_office(
    hub: ChatHub, svc: Services,
) -> None:
    member = hub.person("Wati")
    [refused] = await member.send("/siaran")
    assert refused.text == text("error.admin_only")
    [stopped] = await member.send("/berhenti")
    assert stopped.text == text("sub.stopped")
    [again] = await member.send("/berhenti")
    assert again.text == text("sub.already_stopped")

    local = hub.person("Admin Lumajang", account_id=LUMAJANG_ADMIN)
    await local.send("/siaran")
    await local.send("Untuk Lumajang.")
    # Its menu counts Lumajang's members only (issue 12, hole 3).
    outcome = await press(hub, local, text("bc.button_all", count=3))
    assert outcome.messages[-1].text == text(
        "bc.preview", count=3, audience=text("bc.audience_members"))  # not Kolaka's member
    with svc.db.session() as s:
        [row] = s.exec(select(Broadcast)).all()
        assert row.audience["office"] == "lumajang"
