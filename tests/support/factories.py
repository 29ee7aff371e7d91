"""Plain functions that put people and role bindings into a database session."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.models import ActingOfficial, RoleBinding, User

# A fixed, timezone-aware moment (Monday 2026-11-23 09:00 WIB) for rows whose time is irrelevant.
DEFAULT_AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

_ids = itertools.count(1000)


def make_user(
    session: Session,
    *,
    name: str | None = None,
    external_id: str | None = None,
    registered: bool = False,
    office: str | None = None,
    language: str | None = None,
    active: bool = True,
    at: datetime = DEFAULT_AT,
) -> User:
    """A person on Telegram. With `registered=True` they filled the KIM member profile."""
    ident = external_id or str(next(_ids))
    display = name or f"Pengguna {ident}"
    user = User(
        channel="telegram",
        external_id=ident,
        chat_id=ident,
        display_name=display,
        language=language,
        office=office,
        active=active,
        created_at=at,
    )
    if registered:
        user.full_name = display
        user.kim_group = "KIM Sumber Rejeki"
        user.village = "Desa Tempeh Tengah"
        user.district = "Kecamatan Tempeh"
        user.phone = "081234567890"
        user.registered_at = at
    session.add(user)
    session.flush()
    return user


def make_member(
    session: Session,
    name: str = "Siti Aminah",
    *,
    office: str = "lumajang",
    external_id: str | None = None,
    language: str | None = None,
) -> User:
    """A registered KIM member (anggota KIM, the requester) of an office."""
    return make_user(
        session, name=name, external_id=external_id, registered=True, office=office,
        language=language,
    )


def bind_role(
    session: Session,
    user: User,
    role: str,
    office: str = "lumajang",
    *,
    at: datetime = DEFAULT_AT,
) -> RoleBinding:
    """Bind `user` to an office role (kadis, sekdis, kabid, kasi, staf, tim)."""
    assert user.id is not None
    binding = RoleBinding(user_id=user.id, office=office, role=role, active=True, created_at=at)
    session.add(binding)
    session.flush()
    return binding


def revoke_roles(
    session: Session, user: User, office: str = "lumajang", *, at: datetime = DEFAULT_AT
) -> None:
    """End every active role binding `user` holds in the office."""
    rows = session.exec(
        select(RoleBinding)
        .where(RoleBinding.user_id == user.id)
        .where(RoleBinding.office == office)
        .where(RoleBinding.active == True)  # noqa: E712
    ).all()
    for binding in rows:
        binding.active = False
        binding.revoked_at = at
        session.add(binding)
    session.flush()


def make_official(
    session: Session, role: str, office: str = "lumajang", name: str | None = None
) -> User:
    """A person bound to `role` in `office` (not a registered member)."""
    user = make_user(session, name=name or f"{role.title()} {office.title()}", office=office)
    bind_role(session, user, role, office)
    return user


def make_acting(
    session: Session,
    user: User,
    role: str,
    starts_at: datetime,
    ends_at: datetime,
    office: str = "lumajang",
    *,
    created_by: str = "9000",
    at: datetime = DEFAULT_AT,
) -> ActingOfficial:
    """Name `user` Plt (pelaksana tugas) of `role` in `office` from `starts_at` to `ends_at`."""
    assert user.id is not None
    row = ActingOfficial(office=office, role=role, user_id=user.id, starts_at=starts_at,
                         ends_at=ends_at, created_by=created_by, created_at=at)
    session.add(row)
    session.flush()
    return row


@dataclass
class LumajangPeople:
    """A member and one or two officials per role of the Lumajang SOP (seed 004)."""

    member: User
    staf_a: User
    staf_b: User
    kadis: User
    sekdis: User
    kabid: User
    kasi: User
    plt: User  # no role of their own: a test may name them Plt


def lumajang_people(s: Session, plt_name: str = "Plt") -> LumajangPeople:
    return LumajangPeople(
        member=make_member(s, "Siti Aminah"),
        staf_a=make_official(s, "staf", name="Staf A"),
        staf_b=make_official(s, "staf", name="Staf B"),
        kadis=make_official(s, "kadis", name="Kadin"),
        sekdis=make_official(s, "sekdis", name="Sekdin"),
        kabid=make_official(s, "kabid", name="Kabid"),
        kasi=make_official(s, "kasi", name="Kasi"),
        plt=make_user(s, name=plt_name),
    )
