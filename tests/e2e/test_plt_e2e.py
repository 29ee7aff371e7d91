"""The admin names a Plt (pelaksana tugas) with /plt; the Plt gets the absent Kadis' work.

Real clock: the period is given as today and tomorrow in Lumajang (WIB).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.models import Notification
from bot.roles import ROLES
from fakebotapi import FakeUser
from tests.support.catalog import help_section
from tests.support.kimbot import CATALOG, KimBot, text

WIB = ZoneInfo("Asia/Jakarta")
LUMAJANG = "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
OFFICES = "lumajang, kolaka"


def days() -> tuple[str, str]:
    today = datetime.now(WIB).date()
    return today.isoformat(), (today + timedelta(days=1)).isoformat()


def has_text(user: FakeUser, wanted: str) -> bool:
    return any(m.text == wanted for m in user.messages)


async def step(kimbot: KimBot, official: FakeUser, step_no: int, note: str = "") -> None:
    """The official presses the first button of their task for this step (and writes a note)."""
    task = await kimbot.task(official, step_no)
    _label, data = official.buttons(task)[0][0]
    await official.click(data=data, message=task)
    if note:
        await official.send(note)


def step_tasks(kimbot: KimBot, official: FakeUser, step_no: int) -> list[Notification]:
    return [n for n in kimbot.notifications_to(official)
            if n.key == "notify.task" and n.params.get("step_no") == step_no]


async def test_a_plt_named_by_the_admin_does_the_kadis_work_until_revoked(
    kimbot: KimBot,
) -> None:
    staf = await kimbot.official("Sari", "staf")
    kadis = await kimbot.official("Dony", "kadis")
    budi = await kimbot.official("Budi", "sekdis")  # the Sekretaris stands in for the Kadis
    first, last = days()

    [reply] = await kimbot.admin.send(f"/plt lumajang kadin {budi.user_id} {first} {last}")
    start = datetime.fromisoformat(first).replace(tzinfo=WIB)
    until = datetime.fromisoformat(last).replace(tzinfo=WIB) + timedelta(hours=23, minutes=59)
    match = re.match(r"✅ Plt #(\d+):", reply.text or "")
    assert match, reply.text
    plt_id = int(match.group(1))
    assert reply.text == text(
        "plt.created", id=plt_id, name="Budi", role="Kepala Dinas", office=LUMAJANG,
        start=CATALOG.when("id", start, "Asia/Jakarta"),
        until=CATALOG.when("id", until, "Asia/Jakarta"))
    assert "00.00 WIB" in (reply.text or "")
    assert "23.59 WIB" in (reply.text or "")

    # Budi is told, in his chat.
    told = text("notify.plt_assigned", roles="Kepala Dinas", office_name=LUMAJANG,
                starts_at=CATALOG.when("id", start, "Asia/Jakarta"),
                last_at=CATALOG.when("id", until, "Asia/Jakarta"))
    await kimbot.api.wait_until(lambda: has_text(budi, told), timeout=5,
                                message=lambda: kimbot.api.dump_chat(budi.chat_id))

    # The list shows him, in force.
    [listing] = await kimbot.admin.send("/plt")
    assert listing.text == "\n\n".join([
        text("plt.list_header", count=1),
        text("plt.line", id=plt_id, office="DISKOMINFO-LMJ", role="Kepala Dinas", name="Budi",
             external_id=budi.user_id, first=first, last=last,
             state=text("plt.state_current")),
    ])

    # A letter reaches step 3: the disposition goes to Budi, not to the absent Kadis.
    member = await kimbot.member()
    agenda = await kimbot.submit(member)
    await step(kimbot, staf, 1)
    await step(kimbot, staf, 2)
    task = await kimbot.task(budi, 3)
    assert agenda in (task.text or "")
    assert step_tasks(kimbot, kadis, 3) == []
    # ... and Budi may dispose it.
    await step(kimbot, budi, 3, "Kabid mohon ditindaklanjuti.")
    task = await kimbot.task(staf, 4)
    assert agenda in (task.text or "")
    await member.send(f"/disposisi {agenda}")
    sheet = member.last_message.text if member.last_message else ""
    assert "Kabid mohon ditindaklanjuti." in (sheet or "")

    # Revoked: Budi is told, the list is empty, the next letter goes to the Kadis.
    [revoked] = await kimbot.admin.send(f"/plt_batal {plt_id}")
    assert revoked.text == text("plt.revoked", id=plt_id, name="Budi", role="Kepala Dinas",
                                office=LUMAJANG)
    gone = text("notify.plt_revoked", roles="Kepala Dinas", office_name=LUMAJANG)
    await kimbot.api.wait_until(lambda: has_text(budi, gone), timeout=5)
    [listing] = await kimbot.admin.send("/plt")
    assert listing.text == text("plt.list_empty")

    second = await kimbot.submit(member, "Permohonan kedua.")
    await step(kimbot, staf, 1)
    await step(kimbot, staf, 2)
    task = await kimbot.task(kadis, 3)
    assert second in (task.text or "")
    assert len(step_tasks(kimbot, budi, 3)) == 1  # only the first letter
    # Budi is no longer Plt: pressing the Kadis' button himself is refused.
    _label, data = kadis.buttons(task)[0][0]
    assert data is not None
    answer = await kimbot.press_as(budi, task, data)
    assert answer.text == text("error.not_allowed")

    [again] = await kimbot.admin.send(f"/plt_batal {plt_id}")
    assert again.text == text("plt.already_revoked", id=plt_id)


async def test_plt_commands_refuse_wrong_input_with_clear_messages(kimbot: KimBot) -> None:
    budi = await kimbot.official("Budi", "sekdis")
    first, last = days()
    admin = kimbot.admin

    async def reply(command: str) -> str | None:
        [message] = await admin.send(command)
        return message.text

    assert await reply("/plt") == text("plt.list_empty")
    usage = text("plt.usage", offices=OFFICES, roles=", ".join(ROLES))
    assert await reply("/plt lumajang kadis") == usage
    assert await reply(f"/plt lumajang kadis {budi.user_id} {first}") == usage
    assert await reply(f"/plt malang kadis {budi.user_id} {first} {last}") == text(
        "error.unknown_office", offices=OFFICES)
    assert await reply(f"/plt lumajang bupati {budi.user_id} {first} {last}") == text(
        "error.unknown_role", roles=", ".join(ROLES))
    # Someone who never opened the bot cannot be named.
    assert await reply(f"/plt lumajang kadis 424242 {first} {last}") == text(
        "plt.unknown_user", user="424242")
    assert await reply(f"/plt lumajang kadis {budi.user_id} besok {last}") == text(
        "plt.bad_date", value="besok")
    assert await reply(f"/plt lumajang kadis {budi.user_id} {first} 31-12-2026") == text(
        "plt.bad_date", value="31-12-2026")
    assert await reply(f"/plt lumajang kadis {budi.user_id} {last} {first}") == text(
        "plt.bad_period", first=last, last=first)
    assert await reply(f"/plt lumajang sekdis {budi.user_id} {first} {last}") == text(
        "plt.holds_role", name="Budi")
    assert await reply("/plt_batal") == text("plt.revoke_usage")
    assert await reply("/plt_batal dua") == text("plt.revoke_usage")
    assert await reply("/plt_batal 999") == text("plt.not_found", id=999)
    assert kimbot.notifications_to(budi) == []
    assert await reply("/plt") == text("plt.list_empty")

    # Only the admin may use them.
    for command in ("/plt", f"/plt lumajang kadis {budi.user_id} {first} {last}",
                    "/plt_batal 1"):
        [refused] = await budi.send(command)
        assert refused.text == text("error.admin_only")
    assert await reply("/plt") == text("plt.list_empty")


async def test_the_admin_help_lists_the_plt_commands_in_both_languages(kimbot: KimBot) -> None:
    [help_id] = await kimbot.admin.send("/bantuan")
    assert help_section("admin") in (help_id.text or "")
    assert "\n/plt_batal " in help_section("admin")
    assert "\n/plt_batal " in help_section("admin", "en")
    await kimbot.admin.send("/bahasa")
    await kimbot.admin.click("English")
    [help_en] = await kimbot.admin.send("/help")
    assert help_section("admin", "en") in (help_en.text or "")
    [usage] = await kimbot.admin.send("/plt lumajang")
    assert usage.text == text("plt.usage", "en", offices=OFFICES, roles=", ".join(ROLES))
