"""People and roles, office by office (bot/admin.py), on every database backend.

Admin scope (KIMBOT_ADMIN_IDS / KIMBOT_OFFICE_ADMINS), the member list with its filters and
pages, one member's view, role bindings, open invitations, deactivation, and a member's own data:
what /dataku shows and what /hapus_data erases and keeps. The clock is Monday 2026-11-23
09:00 WIB.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session, col, select

from bot import admin
from bot.admin import AdminScope, MemberQuery
from bot.clock import ManualClock, from_db
from bot.db import Database
from bot.dialogs import get_dialog, set_dialog
from bot.errors import BadInput, KimError, NotAllowed, NotFound
from bot.models import (
    ActingOfficial,
    AdminQuery,
    Attachment,
    AuditEntry,
    Case,
    Invitation,
    Notification,
    RoleBinding,
    User,
)
from bot.outbox import notify
from bot.people import accept_invitation, create_invitation, ensure_user
from bot.queries import trail
from bot.settings import Settings
from bot.sop import SopRegistry
from bot.workflow import FileIn, Workflow
from tests.support.db import count
from tests.support.factories import make_acting, make_member, make_official, make_user

GLOBAL_ADMIN = 9000
LUMAJANG_ADMIN = 9100
KOLAKA_ADMIN = 9200
BOTH_ADMIN = 9300
WA_ADMIN = "6281234567890"  # a WhatsApp number, admin of Kolaka
SOP = "lmj-layanan-kim"
FILES = [
    FileIn(kind="photo", file_ref="photo-ref-1", file_name="foto.jpg", mime="image/jpeg",
           size=2048, label="Foto kegiatan"),
    FileIn(kind="document", file_ref="doc-ref-1", file_name="surat_tugas_wati.pdf",
           mime="application/pdf", size=1234, label="Surat Tugas"),
]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("KIMBOT_ADMIN_IDS", "KIMBOT_OFFICE_ADMINS"):
        monkeypatch.delenv(name, raising=False)
    return Settings(_env_file=None, KIMBOT_ADMIN_IDS=str(GLOBAL_ADMIN),  # type: ignore[call-arg]
                    KIMBOT_OFFICE_ADMINS=f"{LUMAJANG_ADMIN}:lumajang,{KOLAKA_ADMIN}:kolaka,"
                                         f"{BOTH_ADMIN}:kolaka,telegram:{BOTH_ADMIN}:LUMAJANG,"
                                         f"whatsapp:+{WA_ADMIN}:kolaka")


def tg(ident: int) -> str:
    """The account key of a Telegram admin."""
    return f"telegram:{ident}"


def scope(settings: Settings, registry: SopRegistry, who: int | str) -> AdminScope:
    return admin.scope_of(settings, registry.offices, who)


def person(s: Session, name: str, *, office: str = "lumajang", district: str = "Kecamatan Tempeh",
           kim: str = "KIM Sumber Makmur", village: str = "Desa Tempeh Tengah",
           external_id: str | None = None) -> User:
    """A registered member with the given place and KIM group."""
    user = make_member(s, name, office=office, external_id=external_id)
    user.district, user.kim_group, user.village = district, kim, village
    s.add(user)
    s.flush()
    return user


def submit(s: Session, workflow: Workflow, member: User, key: str) -> Case:
    case, _ = workflow.submit_request(s, member, SOP, subject="Permohonan", purpose="Mohon.",
                                      files=FILES, request_key=key)
    return case


# -- settings and scope --------------------------------------------------------------------


def test_office_admins_are_read_from_id_office_pairs(settings: Settings) -> None:
    assert settings.office_admins == (
        (tg(LUMAJANG_ADMIN), "lumajang"), (tg(KOLAKA_ADMIN), "kolaka"),
        (tg(BOTH_ADMIN), "kolaka"), (tg(BOTH_ADMIN), "lumajang"),
        (f"whatsapp:{WA_ADMIN}", "kolaka"))
    again = Settings(_env_file=None,  # type: ignore[call-arg]
                     KIMBOT_OFFICE_ADMINS=" 1:a ; telegram:1:a,, 2:b ,WhatsApp:62811111111:b")
    assert again.office_admins == (("telegram:1", "a"), ("telegram:2", "b"),
                                   ("whatsapp:62811111111", "b"))
    assert Settings(_env_file=None, KIMBOT_OFFICE_ADMINS="").office_admins == ()  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["123", "abc:lumajang", "123:", ":lumajang", "12 3:lumajang",
                                   "123:lu majang", "123:lumajang:x", "1.5:kolaka",
                                   "sms:123:lumajang", "whatsapp:0812345678:lumajang",
                                   "whatsapp:62 81:lumajang", "telegram::lumajang"])
def test_bad_office_admins_are_refused_clearly(value: str) -> None:
    with pytest.raises(ValidationError, match=r"KIMBOT_OFFICE_ADMINS: comma-separated "
                                              r"\[CHANNEL:\]ID:OFFICE pairs"):
        Settings(_env_file=None, KIMBOT_OFFICE_ADMINS=value)  # type: ignore[call-arg]


def test_an_unknown_office_stops_the_start(settings: Settings, registry: SopRegistry) -> None:
    admin.check_office_admins(settings, registry.offices)
    wrong = settings.model_copy(
        update={"office_admins": (("telegram:5", "malang"), ("telegram:6", "kolaka"))})
    with pytest.raises(ValueError, match="KIMBOT_OFFICE_ADMINS names unknown offices malang"):
        admin.check_office_admins(wrong, registry.offices)


def test_which_offices_an_admin_manages(settings: Settings, registry: SopRegistry) -> None:
    offices = registry.offices
    assert admin.admin_offices(settings, offices, GLOBAL_ADMIN) == ["lumajang", "kolaka"]
    assert admin.admin_offices(settings, offices, str(LUMAJANG_ADMIN)) == ["lumajang"]
    assert admin.admin_offices(settings, offices, KOLAKA_ADMIN) == ["kolaka"]
    assert admin.admin_offices(settings, offices, BOTH_ADMIN) == ["lumajang", "kolaka"]
    assert admin.admin_offices(settings, offices, 1234) == []
    assert admin.admin_offices(settings, offices, "erased-5") == []
    # As the core asks: by account key, on each channel.
    assert admin.admin_offices(settings, offices, tg(GLOBAL_ADMIN)) == ["lumajang", "kolaka"]
    assert admin.admin_offices(settings, offices, tg(LUMAJANG_ADMIN)) == ["lumajang"]
    assert admin.admin_offices(settings, offices, f"whatsapp:{WA_ADMIN}") == ["kolaka"]
    assert admin.admin_offices(settings, offices, f"whatsapp:{GLOBAL_ADMIN}") == []
    assert admin.admin_offices(settings, offices, f"telegram:{WA_ADMIN}") == []
    assert scope(settings, registry, GLOBAL_ADMIN).everywhere
    assert scope(settings, registry, tg(GLOBAL_ADMIN)).account == tg(GLOBAL_ADMIN)
    assert scope(settings, registry, LUMAJANG_ADMIN).account == tg(LUMAJANG_ADMIN)
    assert not scope(settings, registry, BOTH_ADMIN).everywhere
    assert not scope(settings, registry, 1234)
    assert admin.all_admin_accounts(settings) == {
        tg(GLOBAL_ADMIN), tg(LUMAJANG_ADMIN), tg(KOLAKA_ADMIN), tg(BOTH_ADMIN),
        f"whatsapp:{WA_ADMIN}"}
    assert admin.admin_accounts(settings, "telegram") == [
        str(GLOBAL_ADMIN), str(LUMAJANG_ADMIN), str(KOLAKA_ADMIN), str(BOTH_ADMIN)]
    assert admin.admin_accounts(settings, "whatsapp") == [WA_ADMIN]
    assert admin.all_admin_ids(settings) == {GLOBAL_ADMIN, LUMAJANG_ADMIN, KOLAKA_ADMIN,
                                             BOTH_ADMIN}


def test_the_scope_checks_the_office_argument(settings: Settings, registry: SopRegistry) -> None:
    offices = registry.offices
    lumajang = scope(settings, registry, LUMAJANG_ADMIN)
    assert lumajang.pick(offices, None) == "lumajang"  # left out: their own office
    assert lumajang.pick(offices, "Lumajang") == "lumajang"
    assert lumajang.choose(offices, None) == ("lumajang",)
    with pytest.raises(NotAllowed) as refused:
        lumajang.pick(offices, "kolaka")
    assert (refused.value.key, refused.value.params) == (
        "admin.office_refused", {"office": "Dinas Komunikasi dan Informatika Kabupaten Kolaka"})
    with pytest.raises(NotAllowed):
        lumajang.check(offices, "KOLAKA")
    assert lumajang.check(offices, "malang") == "malang"  # unknown: the command says so
    with pytest.raises(BadInput) as unknown:
        lumajang.pick(offices, "malang")
    assert (unknown.value.key, unknown.value.params) == ("error.unknown_office",
                                                         {"offices": "lumajang"})
    both = scope(settings, registry, GLOBAL_ADMIN)
    assert both.choose(offices, None) == ("lumajang", "kolaka")
    with pytest.raises(BadInput) as needed:
        both.pick(offices, None)
    assert (needed.value.key, needed.value.params) == ("admin.office_needed",
                                                       {"offices": "lumajang, kolaka"})


# -- /anggota ------------------------------------------------------------------------------


@pytest.fixture
def crowd(db: Database) -> dict[str, User]:
    with db.session() as s:
        people = {
            "wati": person(s, "Wati Susanti", external_id="501"),
            "ahmad": person(s, "Ahmad Fauzi", district="Kecamatan Pasirian",
                            kim="KIM Maju Jaya", village="Desa Bades", external_id="502"),
            "bambang": person(s, "bambang Irawan", kim="KIM Maju Jaya", external_id="503"),
            "ode": person(s, "La Ode Hasan", office="kolaka", district="Kecamatan Wundulako",
                          kim="KIM Sangia", village="Desa Lamekongga", external_id="504"),
            "erased": person(s, "Sudah Dihapus", external_id="505"),
            "guest": make_user(s, name="Tamu", external_id="506", office="lumajang"),
            "kadis": make_official(s, "kadis", name="Dony", office="lumajang"),
        }
        people["erased"].erased_at = people["erased"].created_at
        people["bambang"].active = False
        return people


def names(page: admin.MemberPage) -> list[str]:
    return [row.name for row in page.rows]


def test_members_are_listed_by_office_and_name(
    db: Database, crowd: dict[str, User], settings: Settings, registry: SopRegistry,
) -> None:
    with db.session() as s:
        everyone = admin.members(s, MemberQuery(("lumajang", "kolaka")))
        lumajang = admin.members(s, MemberQuery(("lumajang",)))
    # Registered and not erased only; a deactivated member is listed (marked inactive).
    assert names(everyone) == ["La Ode Hasan", "Ahmad Fauzi", "bambang Irawan", "Wati Susanti"]
    assert (everyone.total, everyone.page, everyone.pages) == (4, 1, 1)
    assert names(lumajang) == ["Ahmad Fauzi", "bambang Irawan", "Wati Susanti"]
    ahmad = lumajang.rows[0]
    assert ahmad == admin.MemberRow(
        user_id=crowd["ahmad"].id or 0, external_id="502", name="Ahmad Fauzi",
        kim_group="KIM Maju Jaya", village="Desa Bades", district="Kecamatan Pasirian",
        phone="081234567890", office="lumajang", active=True)
    assert [r.active for r in lumajang.rows] == [True, False, True]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["kecamatan=tempeh"], ["bambang Irawan", "Wati Susanti"]),
        (["kim=maju"], ["Ahmad Fauzi", "bambang Irawan"]),
        (["kecamatan=Kecamatan", "Tempeh", "kim=KIM", "Maju", "Jaya"], ["bambang Irawan"]),
        (["lumajang", "kec=PASIRIAN"], ["Ahmad Fauzi"]),
        (["kim=sangia"], []),  # a Kolaka group: not in Lumajang
        (["kim=%"], []),  # no wildcards
    ],
)
def test_members_are_filtered_by_kecamatan_and_kim_group(
    db: Database, crowd: dict[str, User], settings: Settings, registry: SopRegistry,
    args: list[str], expected: list[str],
) -> None:
    lumajang = scope(settings, registry, LUMAJANG_ADMIN)
    with db.session() as s:
        query = admin.parse_member_args(args, lumajang, registry.offices)
        assert names(admin.members(s, query)) == expected


def test_member_arguments_are_checked(settings: Settings, registry: SopRegistry) -> None:
    offices = registry.offices
    lumajang = scope(settings, registry, LUMAJANG_ADMIN)
    everyone = scope(settings, registry, GLOBAL_ADMIN)
    assert admin.parse_member_args([], everyone, offices) == MemberQuery(("lumajang", "kolaka"))
    assert admin.parse_member_args(["kim=KIM", "Maju", "kecamatan=Tempeh"], lumajang,
                                   offices) == MemberQuery(("lumajang",), "Tempeh", "KIM Maju")
    for wrong in (["desa=Bades"], ["kim="], ["lumajang", "Tempeh"], ["kim", "x"]):
        with pytest.raises(BadInput) as info:
            admin.parse_member_args(wrong, lumajang, offices)
        assert (info.value.key, info.value.params) == ("members.usage", {"offices": "lumajang"})
    with pytest.raises(NotAllowed):
        admin.parse_member_args(["kolaka"], lumajang, offices)
    with pytest.raises(BadInput, match=r"error\.too_long"):
        admin.parse_member_args(["kim=" + "x" * 65], lumajang, offices)


def test_long_lists_come_in_pages_of_twenty(db: Database) -> None:
    with db.session() as s:
        for i in range(45):
            person(s, f"Anggota {i:02d}")
    with db.session() as s:
        query = MemberQuery(("lumajang",))
        pages = [admin.members(s, query, page) for page in (1, 2, 3)]
        beyond = admin.members(s, query, 9)
    assert [len(p.rows) for p in pages] == [20, 20, 5]
    assert [(p.page, p.pages, p.total) for p in pages] == [(1, 3, 45), (2, 3, 45), (3, 3, 45)]
    assert names(pages[1])[0] == "Anggota 20"
    assert beyond.page == 3


def test_a_saved_listing_pages_only_for_its_admin(db: Database, clock: ManualClock) -> None:
    params = MemberQuery(("lumajang",), "Tempeh", "Sumber").params()
    with db.session() as s:
        query_id = admin.save_query(s, clock, "9100", "members", params)
    with db.session() as s:
        assert admin.load_query(s, query_id, "9100", "members") == params
        assert admin.load_query(s, query_id, "9200", "members") is None
        assert admin.load_query(s, query_id, "9100", "other") is None
        assert admin.load_query(s, query_id + 1, "9100", "members") is None
    clock.advance(timedelta(days=8))
    with db.session() as s:  # a week later the next listing forgets the old one
        admin.save_query(s, clock, "9100", "members", params)
    with db.session() as s:
        assert admin.load_query(s, query_id, "9100", "members") is None
        assert count(s, AdminQuery) == 1


# -- /anggota_lihat -------------------------------------------------------------------------


def test_an_admin_sees_a_members_profile_and_requests(
    db: Database, crowd: dict[str, User], settings: Settings, registry: SopRegistry,
    workflow: Workflow,
) -> None:
    with db.session() as s:
        wati = s.get(User, crowd["wati"].id)
        assert wati is not None
        first = submit(s, workflow, wati, "k1").agenda_number
        second = submit(s, workflow, wati, "k2").agenda_number
    with db.session() as s:
        view = admin.member_view(s, scope(settings, registry, LUMAJANG_ADMIN), "501")
    assert view.member.name == "Wati Susanti"
    assert view.total_cases == 2
    assert [(c.agenda, c.status, c.step_no) for c in view.cases] == [
        (second, "open", 1), (first, "open", 1)]
    assert view.roles == []
    assert view.subscribed is True

    with db.session() as s:
        kadis = admin.member_view(s, scope(settings, registry, GLOBAL_ADMIN),
                                  crowd["kadis"].external_id)
        assert kadis.roles == [("lumajang", "kadis")]
        with pytest.raises(NotAllowed) as refused:
            admin.member_view(s, scope(settings, registry, KOLAKA_ADMIN), "501")
        assert refused.value.key == "admin.person_refused"
        for unknown in ("424242", "abc", "505x"):
            with pytest.raises(BadInput) as info:
                admin.member_view(s, scope(settings, registry, GLOBAL_ADMIN), unknown)
            assert info.value.params == {"user": unknown}


# -- /peran, /peran_cabut -----------------------------------------------------------------------


def test_role_bindings_are_listed_by_office_and_rank(db: Database, registry: SopRegistry) -> None:
    with db.session() as s:
        make_official(s, "staf", name="Sari")
        make_official(s, "kadis", name="Dony")
        make_official(s, "staf", office="kolaka", name="Ode")
        gone = make_official(s, "kasi", name="Rina")
        binding = s.exec(select(RoleBinding).where(RoleBinding.user_id == gone.id)).one()
        binding.active = False
    with db.session() as s:
        rows = admin.bindings(s, ("lumajang", "kolaka"))
        only_kolaka = admin.bindings(s, ("kolaka",))
    assert [(r.office, r.role, r.name) for r in rows] == [
        ("lumajang", "kadis", "Dony"), ("lumajang", "staf", "Sari"), ("kolaka", "staf", "Ode")]
    assert [r.name for r in only_kolaka] == ["Ode"]


def test_revoking_a_role_ends_it_and_tells_the_person(
    db: Database, clock: ManualClock, settings: Settings, registry: SopRegistry,
    workflow: Workflow,
) -> None:
    with db.session() as s:
        sari = make_official(s, "staf", name="Sari")
        ode = make_official(s, "staf", office="kolaka", name="Ode")
        sari_binding = s.exec(select(RoleBinding).where(RoleBinding.user_id == sari.id)).one()
        ode_binding = s.exec(select(RoleBinding).where(RoleBinding.user_id == ode.id)).one()
    lumajang = scope(settings, registry, LUMAJANG_ADMIN)
    with db.session() as s:
        row = admin.revoke_binding(s, clock, lumajang, registry.offices, sari_binding.id or 0)
    assert (row.name, row.role, row.office, row.active) == ("Sari", "staf", "lumajang", False)
    with db.session() as s:
        stored = s.get(RoleBinding, sari_binding.id)
        assert stored is not None
        assert stored.active is False
        assert stored.revoked_at is not None
        assert from_db(stored.revoked_at) == clock.now()
        assert workflow.roles_of(s, sari.id or 0, "lumajang") == set()
        told = s.exec(select(Notification).where(Notification.recipient_id == sari.id)).all()
        assert [(n.key, n.params) for n in told] == [("notify.role_revoked", {
            "office": "lumajang", "office_name": registry.offices["lumajang"].name,
            "roles": ["staf"]})]

    def refused(binding_id: int, who: AdminScope = lumajang) -> KimError:
        with db.session() as s, pytest.raises(KimError) as info:
            admin.revoke_binding(s, clock, who, registry.offices, binding_id)
        return info.value

    assert refused(sari_binding.id or 0).key == "roles.already_revoked"
    assert refused(ode_binding.id or 0).key == "admin.office_refused"
    missing = refused(999)
    assert isinstance(missing, NotFound)
    assert (missing.key, missing.params) == ("roles.not_found", {"id": 999})
    with db.session() as s:  # the refusal changed nothing
        kept = s.get(RoleBinding, ode_binding.id)
        assert kept is not None
        assert kept.active


# -- /undangan, /undangan_batal ------------------------------------------------------------


def test_open_invitations_are_listed_and_can_be_cancelled(
    db: Database, clock: ManualClock, settings: Settings, registry: SopRegistry,
) -> None:
    offices = set(registry.offices)

    def invite(s: Session, office: str, role: str, ttl_h: int = 72) -> str:
        clock.advance(timedelta(minutes=1))
        return create_invitation(s, clock, office=office, role=role, created_by="9000",
                                 ttl=timedelta(hours=ttl_h), offices=offices).code

    with db.session() as s:
        staf = invite(s, "lumajang", "staf")
        kasi = invite(s, "lumajang", "kasi")
        short = invite(s, "lumajang", "tim", ttl_h=1)
        kolaka = invite(s, "kolaka", "staf")
        used = invite(s, "lumajang", "kabid")
        accept_invitation(s, clock, make_user(s, name="Budi"), used)
    clock.advance(timedelta(hours=2))
    with db.session() as s:
        listed = admin.open_invitations(s, clock, ("lumajang", "kolaka"))
    assert [(r.code, r.office, r.role) for r in listed] == [
        (staf, "lumajang", "staf"), (kasi, "lumajang", "kasi"), (kolaka, "kolaka", "staf")]

    lumajang = scope(settings, registry, LUMAJANG_ADMIN)
    with db.session() as s:
        row = admin.cancel_invitation(s, clock, lumajang, registry.offices, kasi)
    assert (row.code, row.role, row.expires_at) == (kasi, "kasi", clock.now())
    with db.session() as s:
        assert [r.code for r in admin.open_invitations(s, clock, ("lumajang",))] == [staf]
        with pytest.raises(NotAllowed, match=r"error\.invitation_expired"):
            accept_invitation(s, clock, make_user(s, name="Rina"), kasi)

    for code, key in [(kasi, "invites.expired"), (short, "invites.expired"),
                      (used, "invites.used"), (kolaka, "admin.office_refused"),
                      ("tidakadakode", "invites.not_found")]:
        with db.session() as s, pytest.raises(KimError) as info:
            admin.cancel_invitation(s, clock, lumajang, registry.offices, code)
        assert info.value.key == key, code
    with db.session() as s:
        valid = s.exec(select(Invitation.code)
                       .where(col(Invitation.expires_at) > clock.now())).all()
        assert sorted(valid) == sorted([staf, kolaka, used])  # the refusals changed nothing


# -- /nonaktif, /aktif --------------------------------------------------------------------------


def test_deactivating_stops_service_and_reactivating_restores_it(
    db: Database, clock: ManualClock, settings: Settings, registry: SopRegistry,
    workflow: Workflow,
) -> None:
    with db.session() as s:
        sari = make_official(s, "staf", name="Sari")
        other = make_official(s, "staf", name="Staf Dua")
        wati = person(s, "Wati", external_id="601")
        set_dialog(s, clock, wati.id or 0, "req_purpose", {"draft": "x"})
    lumajang = scope(settings, registry, LUMAJANG_ADMIN)
    with db.session() as s:
        row = admin.set_active(s, clock, lumajang, settings, "601", False)
        admin.set_active(s, clock, lumajang, settings, sari.external_id, False)
    assert (row.name, row.active) == ("Wati", False)
    with db.session() as s:
        assert admin.blocked_user(s, "telegram", "601") is not None
        assert admin.blocked_user(s, "telegram", other.external_id) is None
        assert admin.blocked_user(s, "telegram", "nobody") is None
        assert get_dialog(s, wati.id or 0) is None
        # Sari keeps her binding but gets no tasks while inactive.
        assert [u.id for u in workflow.sla.holders(s, "lumajang", ("staf",))] == [other.id]
        with pytest.raises(BadInput, match=r"account\.already_inactive"):
            admin.set_active(s, clock, lumajang, settings, "601", False)
        row = admin.set_active(s, clock, lumajang, settings, "601", True)
    assert row.active
    with db.session() as s:
        assert admin.blocked_user(s, "telegram", "601") is None
        told = s.exec(select(Notification.key).where(Notification.recipient_id == wati.id)).all()
        assert told == ["notify.account_reactivated"]


def test_who_may_not_be_deactivated(
    db: Database, clock: ManualClock, settings: Settings, registry: SopRegistry,
) -> None:
    with db.session() as s:
        make_user(s, name="Admin Lumajang", external_id=str(LUMAJANG_ADMIN))
        make_user(s, name="Admin", external_id=str(GLOBAL_ADMIN))
        ode = person(s, "La Ode", office="kolaka", external_id="701")
        both = make_official(s, "staf", name="Dua Kantor")
        make_official(s, "staf", office="kolaka", name="x")
        s.add(RoleBinding(user_id=both.id or 0, office="kolaka", role="kasi",
                          created_at=both.created_at))
        guest = make_user(s, name="Tamu", external_id="702")
    lumajang = scope(settings, registry, LUMAJANG_ADMIN)
    everyone = scope(settings, registry, GLOBAL_ADMIN)
    cases: list[tuple[AdminScope, str, str]] = [
        (lumajang, str(LUMAJANG_ADMIN), "account.not_self"),
        (lumajang, str(GLOBAL_ADMIN), "account.not_admin"),
        (everyone, str(LUMAJANG_ADMIN), "account.not_admin"),
        (lumajang, "701", "admin.person_refused"),  # a Kolaka member
        (lumajang, both.external_id, "admin.person_refused"),  # also a Kolaka official
        (lumajang, "702", "admin.person_refused"),  # belongs to no office yet
        (lumajang, "999999", "admin.unknown_user"),
    ]
    for who, target, key in cases:
        with db.session() as s, pytest.raises(KimError) as info:
            admin.set_active(s, clock, who, settings, target, False)
        assert info.value.key == key, target
    with db.session() as s:  # an admin of every office may
        admin.set_active(s, clock, everyone, settings, guest.external_id, False)
        admin.set_active(s, clock, scope(settings, registry, KOLAKA_ADMIN), settings,
                         ode.external_id, False)
        assert count(s, User, User.active == False) == 2  # noqa: E712


# -- the member's own data ------------------------------------------------------------------


def test_personal_data_shows_what_is_held(
    db: Database, clock: ManualClock, workflow: Workflow,
) -> None:
    with db.session() as s:
        wati = person(s, "Wati Susanti", external_id="801")
        wati.language, wati.client_language = "en", "en-GB"
        submit(s, workflow, wati, "k1")
        submit(s, workflow, wati, "k2")
        make_acting(s, wati, "tim", clock.now(), clock.now() + timedelta(days=2))
        data = admin.personal_data(s, clock, wati)
    assert (data.full_name, data.phone, data.kim_group, data.village, data.district) == (
        "Wati Susanti", "081234567890", "KIM Sumber Makmur", "Desa Tempeh Tengah",
        "Kecamatan Tempeh")
    assert (data.external_id, data.office, data.language, data.subscribed) == (
        "801", "lumajang", "en", True)
    assert (data.cases, data.attachments, data.roles, data.acting) == (
        2, 4, [], [("lumajang", "tim")])


@pytest.fixture
def erased_case(db: Database, clock: ManualClock, workflow: Workflow) -> dict[str, Any]:
    """Wati submitted a request (staf was told, with her name); then she erases her data."""
    with db.session() as s:
        staf = make_official(s, "staf", name="Sari")
        wati = person(s, "Wati Susanti", external_id="901")
        wati.display_name = "Wati S"
        case = submit(s, workflow, wati, "k1")
        unrelated = person(s, "Ahmad", external_id="902")
        notify(s, clock, wati.id or 0, "notify.member_progress", case_id=case.id)
        set_dialog(s, clock, wati.id or 0, "req_purpose", {"draft": "y"})
    with db.session() as s:
        wati = s.get(User, wati.id)
        assert wati is not None
        done = admin.erase_personal_data(s, clock, wati)
    return {"wati": wati, "staf": staf, "case": case, "unrelated": unrelated, "done": done}


def test_erasure_removes_the_personal_data(db: Database, erased_case: dict[str, Any]) -> None:
    wati_id = erased_case["wati"].id
    with db.session() as s:
        wati = s.get(User, wati_id)
        assert wati is not None
        assert (wati.full_name, wati.phone, wati.village, wati.kim_group, wati.district,
                wati.display_name, wati.language, wati.client_language) == (
            "Anggota KIM (dihapus)", None, None, None, None, "", None, None)
        assert wati.erased_at is not None
        assert not wati.subscribed
        assert (wati.external_id, wati.chat_id) == (f"erased-{wati_id}", "")
        files = s.exec(select(Attachment).order_by(col(Attachment.id))).all()
        assert [(f.file_ref, f.file_name, f.label, f.size) for f in files] == [
            ("", "", "Foto kegiatan", 2048), ("", "", "Surat Tugas", 1234)]
        assert count(s, Notification, Notification.recipient_id == wati_id) == 0
        assert get_dialog(s, wati_id) is None
        # The staf's task still names the letter, not her.
        task = s.exec(select(Notification)
                      .where(Notification.recipient_id == erased_case["staf"].id)).one()
        assert task.params["from_name"] == "Anggota KIM (dihapus)"
        other = s.get(User, erased_case["unrelated"].id)
        assert other is not None
        assert other.full_name == "Ahmad"
    assert erased_case["done"] == admin.Erasure(cases_kept=1, files_removed=2,
                                                notifications_dropped=1)


def test_erasure_keeps_the_letter_and_its_trail(
    db: Database, erased_case: dict[str, Any],
) -> None:
    case = erased_case["case"]
    with db.session() as s:
        kept = s.get(Case, case.id)
        assert kept is not None
        assert (kept.agenda_number, kept.status, kept.purpose, kept.requester_id) == (
            case.agenda_number, "open", "Mohon.", erased_case["wati"].id)
        lines = trail(s, case.id)
        assert [(line.actor, line.kind) for line in lines] == [
            ("Anggota KIM (dihapus)", "submit"), ("Anggota KIM (dihapus)", "erase")]
        assert count(s, AuditEntry) == 2


def test_an_erased_person_comes_back_as_someone_new(
    db: Database, clock: ManualClock, erased_case: dict[str, Any],
) -> None:
    with db.session() as s:
        again = ensure_user(s, clock, channel="telegram", external_id="901", chat_id="901",
                            display_name="Wati", client_language="id")
        s.flush()
        assert again.id != erased_case["wati"].id
        assert again.registered_at is None
        assert again.erased_at is None
        assert admin.personal_data(s, clock, again).cases == 0


def test_officials_cannot_erase_their_acts(db: Database, clock: ManualClock) -> None:
    with db.session() as s:
        kadis = make_official(s, "kadis", name="Dony")
        plt = make_user(s, name="Budi")
        make_acting(s, plt, "kadis", clock.now() + timedelta(days=1),
                    clock.now() + timedelta(days=3))
        for who in (kadis, plt):
            assert admin.holds_office_role(s, clock, who)
            with pytest.raises(NotAllowed, match=r"privacy\.erase_official"):
                admin.erase_personal_data(s, clock, who)
        # A Plt that is over no longer counts.
        s.exec(select(ActingOfficial)).one().ends_at = clock.now() - timedelta(days=1)
        s.flush()
        assert not admin.holds_office_role(s, clock, plt)
