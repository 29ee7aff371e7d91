"""One deployment, two Dinas: Lumajang (WIB) and Kolaka (WITA).

Each office keeps its own officials, agenda numbering and clock; an admin of one office
(KIMBOT_OFFICE_ADMINS) manages only that office. Kolaka's seed SOP is internal (the Kepala
Dinas starts it), so for members of both offices to write in, this deployment also serves the
Lumajang member service re-homed to Kolaka.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.roles import ROLES
from fakebotapi import FakeBotApi, FakeUser, SentMessage
from tests.conftest import SOP_DIR
from tests.support.catalog import help_section
from tests.support.kimbot import PDF, KimBot, text

LUMAJANG = "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
KOLAKA = "Dinas Komunikasi dan Informatika Kabupaten Kolaka"
LUMAJANG_ADMIN, KOLAKA_ADMIN = 9100, 9200
# Monday 2026-11-23 09:00 WIB = 10:00 WITA.
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LINK = re.compile(r"start=([A-Za-z0-9_-]{8,32})")


def two_office_sops(directory: Path) -> Path:
    for name in ("offices.yaml", "lumajang_pelayanan_kim.yaml", "kolaka_pembentukan_kim.yaml"):
        shutil.copy(SOP_DIR / name, directory)
    service = (SOP_DIR / "lumajang_pelayanan_kim.yaml").read_text(encoding="utf-8")
    service = service.replace("kode: lmj-layanan-kim", "kode: klk-layanan-kim", 1)
    service = service.replace("kantor: lumajang", "kantor: kolaka", 1)
    (directory / "kolaka_layanan_kim.yaml").write_text(service, encoding="utf-8")
    return directory


@pytest.fixture
async def kimbot(api: FakeBotApi, database_url: str, tmp_path: Path) -> AsyncIterator[KimBot]:
    sops = tmp_path / "sop_steps"
    sops.mkdir()
    bot = KimBot(api, database_url, clock=ManualClock(MONDAY),
                 KIMBOT_SOP_DIR=str(two_office_sops(sops)),
                 KIMBOT_OFFICE_ADMINS=f"{LUMAJANG_ADMIN}:lumajang,{KOLAKA_ADMIN}:kolaka")
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def reply(user: FakeUser, command: str) -> str:
    [message] = await user.send(command)
    return message.text or ""


async def submit(kimbot: KimBot, member: FakeUser, purpose: str) -> SentMessage:
    """A member's request; returns the receipt (waited for: the outbox may be busy)."""
    before = len(receipts(member))
    await member.send("/permohonan")
    await member.click("Permohonan pelayanan")
    await member.send(purpose)
    await member.send_photo()
    await member.send_document("surat_tugas.pdf", PDF, "application/pdf")
    await member.click("Kirim")
    await kimbot.api.wait_until(lambda: len(receipts(member)) > before, timeout=5)
    return receipts(member)[-1]


def receipts(member: FakeUser) -> list[SentMessage]:
    return [m for m in member.messages if (m.text or "").startswith("📨")]


def agenda_of(receipt: SentMessage) -> str:
    match = re.search(r"\d{3}/SM/[A-Z-]+/\d{4}", receipt.text or "")
    assert match, receipt.text
    return match.group(0)


async def official(kimbot: KimBot, admin: FakeUser, name: str, role: str) -> FakeUser:
    """Invited by an office's own admin, who names no office: it is theirs."""
    match = LINK.search(await reply(admin, f"/undang {role}"))
    assert match
    person = kimbot.person(name)
    await person.send(f"/start {match.group(1)}")
    return person


async def test_two_offices_keep_their_officials_numbering_and_clocks(kimbot: KimBot) -> None:
    lumajang_admin = FakeUser(kimbot.api, LUMAJANG_ADMIN, "Admin Lumajang")
    kolaka_admin = FakeUser(kimbot.api, KOLAKA_ADMIN, "Admin Kolaka")
    sari = await official(kimbot, lumajang_admin, "Sari", "staf")
    ode = await official(kimbot, kolaka_admin, "Wa Ode", "staf")
    assert "Staf Administrasi (DISKOMINFO-LMJ)" in await reply(sari, "/dataku")
    assert "Staf Administrasi (DISKOMINFO-KLK)" in await reply(ode, "/dataku")

    wati = await kimbot.member("Wati Susanti", "Lumajang")
    hasan = await kimbot.member("La Ode Hasan", "Kolaka")
    lumajang_receipt = await submit(kimbot, wati, "Mohon peliputan.")
    kolaka_receipt = await submit(kimbot, hasan, "Mohon pembinaan.")
    lumajang_agenda, kolaka_agenda = agenda_of(lumajang_receipt), agenda_of(kolaka_receipt)
    # Each office numbers from 001.
    assert lumajang_agenda == "001/SM/DISKOMINFO-LMJ/2026"
    assert kolaka_agenda == "001/SM/DISKOMINFO-KLK/2026"
    # The same moment, on each office's clock.
    subject = "Permohonan pelayanan bagi anggota KIM - KIM Sumber Makmur"
    assert lumajang_receipt.text == text(
        "req.receipt", agenda=lumajang_agenda, office=LUMAJANG,
        received="Senin, 23 Nov 2026 09.00 WIB", subject=subject)
    assert kolaka_receipt.text == text(
        "req.receipt", agenda=kolaka_agenda, office=KOLAKA,
        received="Senin, 23 Nov 2026 10.00 WITA", subject=subject)

    # Each office's officials get their own office's letters only.
    sari_task = await kimbot.task(sari, 1)
    ode_task = await kimbot.task(ode, 1)
    assert lumajang_agenda in (sari_task.text or "")
    assert kolaka_agenda in (ode_task.text or "")
    assert [n.params["agenda"] for n in kimbot.notifications_to(sari)
            if n.key == "notify.task"] == [lumajang_agenda]
    assert [n.params["agenda"] for n in kimbot.notifications_to(ode)
            if n.key == "notify.task"] == [kolaka_agenda]
    # Nobody may act on the other office's letter.
    answer = await kimbot.press_as(sari, ode_task, ode.buttons(ode_task)[0][0][1] or "")
    assert answer.text == text("error.not_allowed")

    # Each goes on counting on its own.
    for member, expected in ((hasan, "002/SM/DISKOMINFO-KLK/2026"),
                             (hasan, "003/SM/DISKOMINFO-KLK/2026"),
                             (wati, "002/SM/DISKOMINFO-LMJ/2026")):
        assert agenda_of(await submit(kimbot, member, "Permohonan berikutnya.")) == expected

    # Each admin's agenda book is their own office's, without naming it.
    book = await reply(lumajang_admin, "/agenda")
    assert book.startswith(text("agenda.header", office=LUMAJANG, year=2026, count=2))
    assert "DISKOMINFO-KLK" not in book
    book = await reply(kolaka_admin, "/agenda")
    assert book.startswith(text("agenda.header", office=KOLAKA, year=2026, count=3))
    assert "10.00 WITA" in book
    assert "DISKOMINFO-LMJ" not in book
    # The admin of every office sees both.
    assert "001/SM/DISKOMINFO-KLK/2026" in await reply(kimbot.admin, "/agenda kolaka")


async def test_an_office_admin_is_refused_the_other_office(kimbot: KimBot) -> None:
    lumajang_admin = FakeUser(kimbot.api, LUMAJANG_ADMIN, "Admin Lumajang")
    kolaka_admin = FakeUser(kimbot.api, KOLAKA_ADMIN, "Admin Kolaka")
    ode = await official(kimbot, kolaka_admin, "Wa Ode", "staf")
    hasan = await kimbot.member("La Ode Hasan", "Kolaka")
    wati = await kimbot.member("Wati Susanti", "Lumajang")
    refused = text("admin.office_refused", office=KOLAKA)
    start, end = "2026-11-24", "2026-11-25"

    for command in ("/undang kolaka staf", "/agenda kolaka", "/agenda KOLAKA 2026",
                    "/anggota kolaka", "/anggota kolaka kim=Sumber", "/peran kolaka",
                    "/undangan kolaka", f"/plt kolaka kadis {ode.user_id} {start} {end}"):
        assert await reply(lumajang_admin, command) == refused, command
    listing = await reply(kimbot.admin, "/peran kolaka")
    binding = re.search(r"#(\d+) DISKOMINFO-KLK", listing)
    assert binding
    assert await reply(lumajang_admin, f"/peran_cabut {binding.group(1)}") == refused
    for target in (ode, hasan):
        for command in ("/nonaktif", "/anggota_lihat"):
            name = "Wa Ode" if target is ode else "La Ode Hasan"
            assert await reply(lumajang_admin, f"{command} {target.user_id}") == text(
                "admin.person_refused", name=name)
    match = LINK.search(await reply(kolaka_admin, "/undang kasi"))
    assert match
    assert await reply(lumajang_admin, f"/undangan_batal {match.group(1)}") == refused
    assert await reply(kolaka_admin, "/plt") == text("plt.list_empty")
    [plt] = await kolaka_admin.send(f"/plt kadis {ode.user_id} {start} {end}")
    plt_id = re.search(r"Plt #(\d+)", plt.text or "")
    assert plt_id
    assert await reply(lumajang_admin, "/plt") == text("plt.list_empty")
    assert await reply(lumajang_admin, f"/plt_batal {plt_id.group(1)}") == refused

    # Nothing changed; in their own office the same commands work.
    assert kimbot.user_row(hasan).active
    members = await reply(lumajang_admin, "/anggota")
    assert members.endswith(f"ID {wati.user_id}")
    assert "La Ode" not in members
    assert await reply(lumajang_admin, "/peran") == "\n".join([
        text("roles.header", offices="DISKOMINFO-LMJ", count=0), "", text("roles.none")])
    assert (await reply(lumajang_admin, f"/nonaktif {wati.user_id}")).startswith("✅")
    # Usage lists only their own office; the menu and help are the admin's.
    assert await reply(lumajang_admin, "/undang") == text(
        "invite.usage", offices="lumajang", roles=", ".join(ROLES))
    assert await reply(lumajang_admin, "/agenda malang") == text("agenda.usage",
                                                                 offices="lumajang")
    assert help_section("admin") in await reply(lumajang_admin, "/bantuan")
    assert "anggota" in [c["command"] for c in kimbot.api.commands[
        f'[{{"chat_id": {LUMAJANG_ADMIN}, "type": "chat"}}, ""]']]
