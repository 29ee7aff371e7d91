"""The admin manages people: members (/anggota), roles (/peran), invitations (/undangan),
accounts (/nonaktif, /aktif); with the admin menu and help in both languages."""

from __future__ import annotations

import json
import re

from bot.clock import from_db
from bot.conversations import intents
from bot.models import Notification, RoleBinding, User
from fakebotapi import FakeUser
from tests.support.catalog import ADMIN_COMMANDS, MEMBER_COMMANDS, OFFICIAL_COMMANDS, help_section
from tests.support.factories import make_member
from tests.support.kimbot import ADMIN_ID, CATALOG, KimBot, text

LUMAJANG = "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
LMJ, KLK = "DISKOMINFO-LMJ", "DISKOMINFO-KLK"
OFFICES = "lumajang, kolaka"
PHONE = "+6281234567890"
LINK = re.compile(r"https://t\.me/kimbot_fake_bot\?start=([A-Za-z0-9_-]{8,32})")


async def register(kimbot: KimBot, name: str, *, kim: str, village: str, district: str,
                   office: str = "Lumajang") -> FakeUser:
    """A member who registered through the bot with these answers."""
    user = kimbot.person(name)
    for answer in ["/start", name, kim, village, district]:
        await user.send(answer)
    await user.share_contact(PHONE)
    await user.click(office)
    return user


def line(n: int, user: FakeUser, name: str, kim: str, village: str, district: str,
         *, tag: str = "", inactive: str = "") -> str:
    return text("members.line", n=n, office_tag=tag, name=name, inactive=inactive,
                kim_group=kim, village=village, district=district, phone=PHONE,
                external_id=user.user_id)


async def reply(user: FakeUser, command: str) -> str:
    [message] = await user.send(command)
    return message.text or ""


async def test_members_are_listed_with_filters(kimbot: KimBot) -> None:
    wati = await register(kimbot, "Wati Susanti", kim="KIM Sumber Makmur",
                          village="Desa Tempeh Tengah", district="Kecamatan Tempeh")
    ahmad = await register(kimbot, "Ahmad Fauzi", kim="KIM Maju Jaya", village="Desa Bades",
                           district="Kecamatan Pasirian")
    rina = await register(kimbot, "Rina Wulandari", kim="KIM Maju Jaya",
                          village="Desa Tempeh Kidul", district="Kecamatan Tempeh")
    ode = await register(kimbot, "La Ode Hasan", kim="KIM Sangia", village="Desa Lamekongga",
                         district="Kecamatan Wundulako", office="Kolaka")
    kimbot.person("Tamu")  # never registered: not a member
    admin = kimbot.admin

    def header(offices: str, count: int) -> str:
        return text("members.header", offices=offices, count=count, page=1, pages=1)

    assert await reply(admin, "/anggota lumajang") == "\n".join([
        header(LMJ, 3), "",
        line(1, ahmad, "Ahmad Fauzi", "KIM Maju Jaya", "Desa Bades", "Kecamatan Pasirian"),
        line(2, rina, "Rina Wulandari", "KIM Maju Jaya", "Desa Tempeh Kidul",
             "Kecamatan Tempeh"),
        line(3, wati, "Wati Susanti", "KIM Sumber Makmur", "Desa Tempeh Tengah",
             "Kecamatan Tempeh"),
    ])
    assert await reply(admin, "/anggota lumajang kecamatan=tempeh kim=KIM Maju") == "\n".join([
        header(LMJ, 1), text("members.filter_line", filters="kecamatan=tempeh, kim=KIM Maju"),
        "",
        line(1, rina, "Rina Wulandari", "KIM Maju Jaya", "Desa Tempeh Kidul",
             "Kecamatan Tempeh"),
    ])
    # Without an office: every office the admin manages, each line tagged with its office.
    assert await reply(admin, "/anggota kim=maju jaya") == "\n".join([
        header(f"{LMJ}, {KLK}", 2), text("members.filter_line", filters="kim=maju jaya"), "",
        line(1, ahmad, "Ahmad Fauzi", "KIM Maju Jaya", "Desa Bades", "Kecamatan Pasirian",
             tag=f"[{LMJ}] "),
        line(2, rina, "Rina Wulandari", "KIM Maju Jaya", "Desa Tempeh Kidul",
             "Kecamatan Tempeh", tag=f"[{LMJ}] "),
    ])
    assert await reply(admin, "/anggota kolaka") == "\n".join([
        header(KLK, 1), "",
        line(1, ode, "La Ode Hasan", "KIM Sangia", "Desa Lamekongga", "Kecamatan Wundulako"),
    ])
    assert await reply(admin, "/anggota kolaka kecamatan=Tempeh") == "\n".join([
        header(KLK, 0), text("members.filter_line", filters="kecamatan=Tempeh"), "",
        text("members.none")])

    usage = text("members.usage", offices=OFFICES)
    assert await reply(admin, "/anggota desa=Bades") == usage
    assert await reply(admin, "/anggota lumajang Tempeh") == usage
    assert await reply(admin, "/anggota kim=") == usage
    assert await reply(admin, "/anggota malang") == text("error.unknown_office", offices=OFFICES)
    assert await reply(wati, "/anggota") == text("error.admin_only")


async def test_a_long_member_list_pages_with_buttons(kimbot: KimBot) -> None:
    assert kimbot.svc is not None
    with kimbot.svc.db.session() as session:
        for i in range(23):
            make_member(session, f"Anggota {i:02d}", external_id=str(70_000 + i))
    admin = kimbot.admin
    [first] = await admin.send("/anggota")
    assert (first.text or "").startswith(text("members.header", offices=f"{LMJ}, {KLK}",
                                              count=23, page=1, pages=2))
    assert (first.text or "").count("\n") == 21  # header, blank line, 20 members
    assert "20. [DISKOMINFO-LMJ] Anggota 19 —" in (first.text or "")
    [[(label, forward)]] = admin.buttons(first)
    assert label == "▶"
    await admin.click("▶", message=first)
    assert first.edited_count == 1
    assert (first.text or "").startswith(text("members.header", offices=f"{LMJ}, {KLK}",
                                              count=23, page=2, pages=2))
    assert "21. [DISKOMINFO-LMJ] Anggota 20 —" in (first.text or "")
    assert "23. [DISKOMINFO-LMJ] Anggota 22 —" in (first.text or "")
    assert [label for label, _ in admin.buttons(first)[0]] == ["◀"]
    await admin.click("◀", message=first)
    assert "1. [DISKOMINFO-LMJ] Anggota 00 —" in (first.text or "")

    # The buttons are the admin's own: someone else pressing them gets nothing.
    member = await kimbot.member()
    answer = await kimbot.press_as(member, first, forward or "")
    assert answer.text == text("error.admin_only")
    assert answer.show_alert
    unknown = await kimbot.press_as(admin, first, intents.MembersPage(999, 2).encode())
    assert unknown.text == text("error.stale_button")


async def test_a_members_profile_and_requests(kimbot: KimBot) -> None:
    await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    first = await kimbot.submit(wati, "Mohon pembinaan.")
    second = await kimbot.submit(wati, "Mohon peliputan.")
    registered = kimbot.user_row(wati).registered_at
    assert registered is not None

    profile = await reply(kimbot.admin, f"/anggota_lihat {wati.user_id}")
    subject = "Permohonan pelayanan bagi anggota KIM - KIM Sumber Makmur"
    assert profile == "\n\n".join([
        text("member.profile", name="Wati Susanti", inactive="", external_id=wati.user_id,
             office=LUMAJANG, kim_group="KIM Sumber Makmur", village="Desa Tempeh Tengah",
             district="Kecamatan Tempeh", phone=PHONE,
             registered=CATALOG.when("id", from_db(registered), "Asia/Jakarta"),
             lang_name="-", subscribed="ya", roles="-"),
        text("member.cases_header", count=2),
        "\n".join(text("member.case_line", agenda=agenda, status=text("status.open"),
                       step_no=1, subject=subject) for agenda in (second, first)),
    ])
    assert await reply(kimbot.admin, "/anggota_lihat") == text("member.usage")
    assert await reply(kimbot.admin, "/anggota_lihat 424242") == text("admin.unknown_user",
                                                                      user="424242")


async def test_a_revoked_official_can_no_longer_act_and_gets_no_new_tasks(
    kimbot: KimBot,
) -> None:
    sari = await kimbot.official("Sari", "staf")
    budi = await kimbot.official("Budi", "staf")
    kadis = await kimbot.official("Dony", "kadis")
    member = await kimbot.member()
    first = await kimbot.submit(member)
    task = await kimbot.task(sari, 1)
    await kimbot.task(budi, 1)

    listing = await reply(kimbot.admin, "/peran lumajang")
    bindings = {name: int(number) for number, name in
                re.findall(r"#(\d+) DISKOMINFO-LMJ — [^—]+ — (\w+) \(ID", listing)}
    assert listing == "\n".join([
        text("roles.header", offices=LMJ, count=3), "",
        text("roles.line", id=bindings["Dony"], office=LMJ, role="Kepala Dinas", name="Dony",
             external_id=kadis.user_id),
        text("roles.line", id=bindings["Budi"], office=LMJ, role="Staf Administrasi",
             name="Budi", external_id=budi.user_id),
        text("roles.line", id=bindings["Sari"], office=LMJ, role="Staf Administrasi",
             name="Sari", external_id=sari.user_id),
    ])

    sari_binding = bindings["Sari"]
    assert await reply(kimbot.admin, f"/peran_cabut {sari_binding}") == text(
        "roles.revoked", id=sari_binding, name="Sari", role="Staf Administrasi",
        office=LUMAJANG)
    told = text("notify.role_revoked", roles="Staf Administrasi", office_name=LUMAJANG)
    await kimbot.api.wait_until(lambda: any(m.text == told for m in sari.messages), timeout=5)

    # Her task button from before is refused; Budi's works.
    _label, data = sari.buttons(task)[0][0]
    answer = await kimbot.press_as(sari, task, data or "")
    assert answer.text == text("error.not_allowed")
    budi_task = await kimbot.task(budi, 1)
    await budi.click(data=budi.buttons(budi_task)[0][0][1], message=budi_task)
    # The next letter goes to Budi only.
    second = await kimbot.submit(member, "Permohonan kedua.")
    task_two = await kimbot.task(budi, 1)
    assert second in (task_two.text or "")
    tasks_for_sari = [n for n in kimbot.notifications_to(sari) if n.key == "notify.task"]
    assert [n.params["agenda"] for n in tasks_for_sari] == [first]
    assert await reply(sari, "/tugas") == text("tasks.none")

    assert await reply(kimbot.admin, f"/peran_cabut {sari_binding}") == text(
        "roles.already_revoked", id=sari_binding)
    assert await reply(kimbot.admin, "/peran_cabut 999") == text("roles.not_found", id=999)
    assert await reply(kimbot.admin, "/peran_cabut Sari") == text("roles.revoke_usage")
    assert await reply(kimbot.admin, "/peran kolaka") == "\n".join([
        text("roles.header", offices=KLK, count=0), "", text("roles.none")])
    assert await reply(kimbot.admin, "/peran lumajang kolaka") == text("roles.usage",
                                                                      offices=OFFICES)
    assert kimbot.count(RoleBinding, RoleBinding.active == True) == 2  # noqa: E712
    assert await reply(budi, f"/peran_cabut {bindings['Dony']}") == text("error.admin_only")


async def test_open_invitations_are_listed_and_cancelled(kimbot: KimBot) -> None:
    admin = kimbot.admin
    codes = []
    for command in ("/undang lumajang staf", "/undang kolaka kasi"):
        match = LINK.search(await reply(admin, command))
        assert match
        codes.append(match.group(1))
    staf, kasi = codes
    listing = await reply(admin, "/undangan")
    lines = listing.splitlines()
    assert lines[:2] == [text("invites.header", offices=f"{LMJ}, {KLK}", count=2), ""]
    assert lines[2].startswith(f"{staf} — {LMJ} — Staf Administrasi — berlaku sampai ")
    assert lines[2].endswith(" WIB")
    assert lines[3].startswith(f"{kasi} — {KLK} — Kepala Seksi — berlaku sampai ")
    assert lines[3].endswith(" WITA")

    assert await reply(admin, f"/undangan_batal {kasi}") == text(
        "invites.cancelled", code=kasi, role="Kepala Seksi",
        office="Dinas Komunikasi dan Informatika Kabupaten Kolaka")
    late = kimbot.person("Terlambat")
    assert await reply(late, f"/start {kasi}") == text("error.invitation_expired")
    assert await reply(admin, "/undangan kolaka") == "\n".join([
        text("invites.header", offices=KLK, count=0), "", text("invites.none")])
    assert await reply(admin, f"/undangan_batal {kasi}") == text("invites.expired", code=kasi)
    sari = kimbot.person("Sari")
    await sari.send(f"/start {staf}")
    assert await reply(admin, f"/undangan_batal {staf}") == text("invites.used", code=staf)
    assert await reply(admin, "/undangan_batal tidakadakode") == text(
        "invites.not_found", code="tidakadakode")
    assert await reply(admin, "/undangan_batal x") == text("invites.cancel_usage")
    assert await reply(admin, "/undangan mars") == text("error.unknown_office",
                                                        offices=OFFICES)


async def test_a_deactivated_member_is_not_served_until_reactivated(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    blocked = text("account.blocked")

    assert await reply(kimbot.admin, f"/nonaktif {wati.user_id}") == text(
        "account.deactivated", name="Wati Susanti", external_id=wati.user_id)
    for message in ("/status", "halo", "/start", "/dataku"):
        assert await reply(wati, message) == blocked
    # A button from before is answered with the same, as an alert.
    answer = await kimbot.press_as(wati, wati.messages[-1], intents.Trail(1).encode())
    assert (answer.text, answer.show_alert) == (blocked, True)

    # Her letter goes on, but she is not told.
    task = await kimbot.task(sari, 1)
    await sari.click(data=sari.buttons(task)[0][0][1], message=task)
    await kimbot.task(sari, 2)

    def progress_rows() -> list[Notification]:
        return [n for n in kimbot.notifications_to(wati) if n.key == "notify.member_progress"]

    await kimbot.api.wait_until(lambda: all(n.status == "failed" for n in progress_rows())
                                and len(progress_rows()) == 1, timeout=5)
    assert not any("Langkah 2" in (m.text or "") for m in wati.messages)

    assert await reply(kimbot.admin, f"/nonaktif {wati.user_id}") == text(
        "account.already_inactive", name="Wati Susanti")
    assert await reply(kimbot.admin, f"/aktif {wati.user_id}") == text(
        "account.reactivated", name="Wati Susanti", external_id=wati.user_id)
    back = text("notify.account_reactivated")
    await kimbot.api.wait_until(lambda: any(m.text == back for m in wati.messages), timeout=5)
    assert agenda in await reply(wati, "/status")
    assert kimbot.user_row(wati).active


async def test_a_deactivated_official_gets_no_tasks(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari", "staf")
    budi = await kimbot.official("Budi", "staf")
    await reply(kimbot.admin, f"/nonaktif {sari.user_id}")
    member = await kimbot.member()
    agenda = await kimbot.submit(member)
    task = await kimbot.task(budi, 1)
    assert agenda in (task.text or "")
    assert [n for n in kimbot.notifications_to(sari) if n.key == "notify.task"] == []
    answer = await kimbot.press_as(sari, task, budi.buttons(task)[0][0][1] or "")
    assert answer.text == text("account.blocked")


async def test_account_commands_refuse_wrong_input(kimbot: KimBot) -> None:
    admin = kimbot.admin
    wati = await kimbot.member()
    await admin.send("/bantuan")  # the admin has opened the bot
    assert await reply(admin, "/nonaktif") == text("account.usage_off")
    assert await reply(admin, "/nonaktif wati") == text("account.usage_off")
    assert await reply(admin, "/aktif 1 2") == text("account.usage_on")
    assert await reply(admin, "/nonaktif 424242") == text("admin.unknown_user", user="424242")
    assert await reply(admin, f"/nonaktif {ADMIN_ID}") == text("account.not_self")
    assert await reply(admin, f"/aktif {wati.user_id}") == text("account.already_active",
                                                                name="Wati Susanti")
    assert await reply(wati, f"/nonaktif {wati.user_id}") == text("error.admin_only")
    assert kimbot.count(User, User.active == False) == 0  # noqa: E712


async def test_the_admin_help_and_menu_list_the_new_commands(kimbot: KimBot) -> None:
    member = await kimbot.member()
    [help_member] = await member.send("/bantuan")
    assert help_member.text == help_section("member")
    for command in ("/dataku", "/hapus_data"):
        assert f"\n{command} " in help_section("member")
        assert f"\n{command} " in help_section("member", "en")
    [help_admin] = await kimbot.admin.send("/bantuan")
    assert help_section("admin") in (help_admin.text or "")
    for command in ("/anggota", "/anggota_lihat", "/peran", "/peran_cabut", "/undangan",
                    "/undangan_batal", "/nonaktif", "/aktif", "/laporan", "/ekspor",
                    "/plt_batal"):
        assert f"\n{command} " in help_section("admin")
        assert f"\n{command} " in help_section("admin", "en")

    def menu(scope: dict[str, object], language: str) -> list[str]:
        key = json.dumps([scope, language], sort_keys=True)
        return [c["command"] for c in kimbot.api.commands[key]]

    public = [*MEMBER_COMMANDS, *OFFICIAL_COMMANDS]
    everyone = menu({"type": "default"}, "")
    assert everyone == public
    assert {"dataku", "hapus_data", "cetak"} <= set(everyone)
    assert "anggota" not in everyone
    assert menu({"type": "default"}, "en") == public
    admin_menu = menu({"type": "chat", "chat_id": ADMIN_ID}, "")
    assert admin_menu == [*public, *ADMIN_COMMANDS]
    assert {"anggota", "anggota_lihat", "peran", "peran_cabut", "undangan", "undangan_batal",
            "nonaktif", "aktif", "laporan", "ekspor", "plt_batal"} <= set(admin_menu)
    assert menu({"type": "chat", "chat_id": ADMIN_ID}, "en") == [*public, *ADMIN_COMMANDS]

    def described(scope: dict[str, object], language: str) -> dict[str, str]:
        key = json.dumps([scope, language], sort_keys=True)
        return {c["command"]: c["description"] for c in kimbot.api.commands[key]}

    assert described({"type": "default"}, "en")["permohonan"] == text("cmd.permohonan", "en")
    assert described({"type": "default"}, "")["permohonan"] == text("cmd.permohonan")
