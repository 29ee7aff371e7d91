"""The admin invites officials with one-time links and reads the agenda book."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.clock import ManualClock
from bot.roles import ROLES
from fakebotapi import FakeBotApi
from tests.support.catalog import help_section
from tests.support.kimbot import KimBot, text

LUMAJANG = "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
KOLAKA = "Dinas Komunikasi dan Informatika Kabupaten Kolaka"
LINK = re.compile(r"https://t\.me/kimbot_fake_bot\?start=([A-Za-z0-9_-]{8,32})")


async def invite(kimbot: KimBot, office: str, role: str) -> str:
    """The admin's /undang; returns the code of the link it shows."""
    [reply] = await kimbot.admin.send(f"/undang {office} {role}")
    match = LINK.search(reply.text or "")
    assert match, reply.text
    return match.group(1)


async def test_an_invitation_link_binds_the_role(kimbot: KimBot) -> None:
    [reply] = await kimbot.admin.send("/undang lumajang staf")
    match = LINK.search(reply.text or "")
    assert match, reply.text
    code = match.group(1)
    expected = text("invite.created", role="Staf Administrasi", office=LUMAJANG,
                    link=match.group(0), code=code, expires="EXPIRES").splitlines()
    shown = (reply.text or "").splitlines()
    assert shown[:3] == expected[:3]
    # Valid for 72 hours, shown in Lumajang time (WIB).
    assert re.fullmatch(r"Berlaku sampai \w+, \d{1,2} \w+ \d{4} \d\d\.\d\d WIB\.", shown[3])

    sari = kimbot.person("Sari")
    accepted, help_text = await sari.send(f"/start {code}")
    assert accepted.text == text("invite.accepted", role="Staf Administrasi", office=LUMAJANG)
    assert help_section("official") in (help_text.text or "")
    assert help_section("admin") not in (help_text.text or "")

    # The role works: Sari gets the member's request as a task.
    member = await kimbot.member()
    agenda = await kimbot.submit(member)
    task = await kimbot.task(sari, 1)
    assert agenda in (task.text or "")
    assert [label for label, _ in sari.buttons(task)[0]] == ["Terima berkas"]


async def test_roles_are_understood_in_the_spellings_of_the_seeds(kimbot: KimBot) -> None:
    for spelling, role in [("Kadin", "kadis"), ("Sekdin", "sekdis"), ("petugas", "staf")]:
        code = await invite(kimbot, "lumajang", spelling)
        person = kimbot.person(spelling)
        accepted, _ = await person.send(f"/start {code}")
        assert accepted.text == text("invite.accepted", role=text(f"role.{role}"),
                                     office=LUMAJANG)

    code = await invite(kimbot, "KOLAKA", "staff")
    person = kimbot.person("Ode")
    accepted, _ = await person.send(f"/start {code}")
    assert accepted.text == text("invite.accepted", role="Staf Administrasi", office=KOLAKA)


async def test_an_invitation_works_only_once(kimbot: KimBot) -> None:
    code = await invite(kimbot, "lumajang", "staf")
    sari = kimbot.person("Sari")
    await sari.send(f"/start {code}")

    intruder = kimbot.person("Penyusup")
    [refused] = await intruder.send(f"/start {code}")
    assert refused.text == text("error.invitation_used")
    # The intruder got no role: member commands only, and no task when a request arrives.
    [help_text] = await intruder.send("/bantuan")
    assert help_text.text == help_section("member")
    member = await kimbot.member()
    await kimbot.submit(member)
    await kimbot.task(sari, 1)
    await intruder.expect_silence(0.2)

    # The one who used it cannot use it again either.
    [again] = await sari.send(f"/start {code}")
    assert again.text == text("error.invitation_used")


async def test_garbage_codes_are_refused(kimbot: KimBot) -> None:
    stranger = kimbot.person("Orang Asing")
    for garbage in ["!!!", "x", "abcdefghij", "A" * 33, "'; DROP TABLE user; --"]:
        replies = await stranger.send(f"/start {garbage}")
        assert [m.text for m in replies] == [text("error.invitation_unknown")], garbage
    [help_text] = await stranger.send("/bantuan")
    assert help_text.text == help_section("member")


async def test_an_expired_invitation_is_refused(api: FakeBotApi, database_url: str) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    kimbot = KimBot(api, database_url, clock=clock)
    await kimbot.start()
    try:
        code = await invite(kimbot, "lumajang", "kasi")
        clock.advance(timedelta(hours=72, seconds=1))
        late = kimbot.person("Rina")
        [refused] = await late.send(f"/start {code}")
        assert refused.text == text("error.invitation_expired")
    finally:
        await kimbot.stop()


async def test_only_the_admin_may_invite_or_read_the_agenda(kimbot: KimBot) -> None:
    stranger = kimbot.person("Orang Asing")
    kadis = await kimbot.official("Dony", "kadis")  # an official is not an admin either
    for person in (stranger, kadis):
        assert [m.text for m in await person.send("/undang lumajang staf")] == [
            text("error.admin_only")]
        assert [m.text for m in await person.send("/agenda")] == [text("error.admin_only")]
    english = kimbot.person("John", language="en")
    assert [m.text for m in await english.send("/undang lumajang staf")] == [
        text("error.admin_only", "en")]


async def test_a_bad_role_or_office_gets_a_clear_message(kimbot: KimBot) -> None:
    admin = kimbot.admin
    [bad_role] = await admin.send("/undang lumajang presiden")
    assert bad_role.text == text("error.unknown_role", roles=", ".join(ROLES))
    [bad_office] = await admin.send("/undang jakarta staf")
    assert bad_office.text == text("error.unknown_office", offices="kolaka, lumajang")
    usage = text("invite.usage", offices="lumajang, kolaka", roles=", ".join(ROLES))
    assert [m.text for m in await admin.send("/undang")] == [usage]
    assert [m.text for m in await admin.send("/undang lumajang")] == [usage]
    # Nothing was created by the refusals: the next real invitation is the only one.
    code = await invite(kimbot, "lumajang", "staf")
    assert len(code) >= 8


async def test_the_agenda_book_lists_the_registered_letters(kimbot: KimBot) -> None:
    admin = kimbot.admin
    [empty] = await admin.send("/agenda")
    year = datetime.now(UTC).year
    assert empty.text == text("agenda.header", office=LUMAJANG, year=year, count=0) + "\n\n-"

    await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    first = await kimbot.submit(wati, "Mohon pembinaan KIM.")
    second = await kimbot.submit(wati, "Mohon peliputan.")

    [book] = await admin.send("/agenda")
    lines = (book.text or "").splitlines()
    assert lines[:2] == text("agenda.header", office=LUMAJANG, year=year, count=2).splitlines()
    entries = [line for line in lines if "/SM/" in line]
    assert [e.split(" | ")[0] for e in entries] == [second, first]  # newest first
    for entry in entries:
        assert "Permohonan pelayanan bagi anggota KIM - KIM Sumber Makmur" in entry
        assert entry.endswith(f"{text('status.open')} (langkah 1)")

    [other_year] = await admin.send(f"/agenda lumajang {year - 1}")
    assert other_year.text == text("agenda.header", office=LUMAJANG, year=year - 1,
                                   count=0) + "\n\n-"
    [kolaka] = await admin.send("/agenda kolaka")
    assert kolaka.text == text("agenda.header", office=KOLAKA, year=year, count=0) + "\n\n-"
    usage = text("agenda.usage", offices="lumajang, kolaka")
    assert [m.text for m in await admin.send("/agenda mars")] == [usage]
    assert [m.text for m in await admin.send("/agenda lumajang tahun")] == [usage]
