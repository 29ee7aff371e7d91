"""Plt (pelaksana tugas): someone acts for an absent official during a period.

While a Plt is in force, the SLA watcher and the workflow treat the Plt as the role's holder
(`Sla.holders`, `Workflow.roles_of`): tasks and reminders go to them and they may act. This
module names, lists and revokes Plt, with the checks an admin's typing needs. No channel code.

A period is given as whole days in the office's own zone: from FROM 00:00 to the end of TO.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import clean
from bot.clock import Clock, from_db, to_db
from bot.errors import BadInput, NotFound
from bot.models import ActingOfficial, RoleBinding, User
from bot.outbox import notify
from bot.people import find_by_account
from bot.roles import ROLES, canonical_role
from bot.sop.model import Office

_DAY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
MAX_DAYS = 366  # a Plt is for an absence, not for good


@dataclass(frozen=True)
class PltEntry:
    """One Plt as the admin sees it."""

    id: int
    office: str
    role: str
    user_id: int
    name: str
    external_id: str
    first_day: date  # in the office's zone
    last_day: date
    starts_at: datetime
    ends_at: datetime  # exclusive: 00:00 of the day after `last_day`
    current: bool  # in force now (else: coming)


def parse_day(text: str) -> date:
    """A date typed as YYYY-MM-DD."""
    return clean.day(text, key="plt.bad_date", value=text)


def period(office: Office, first: date, last: date) -> tuple[datetime, datetime]:
    """FROM 00:00 to the end of TO in the office's zone (end exclusive), as aware datetimes."""
    zone = ZoneInfo(office.timezone)
    return (datetime.combine(first, time(0), zone),
            datetime.combine(last + timedelta(days=1), time(0), zone))


def _office(offices: Mapping[str, Office], code: str) -> Office:
    office = offices.get(code.strip().lower())
    if office is None:
        raise BadInput("error.unknown_office", offices=", ".join(offices))
    return office


def _role(name: str) -> str:
    role = canonical_role(name)
    if role is None:
        raise BadInput("error.unknown_role", roles=", ".join(ROLES))
    return role


def _person(session: Session, external_id: str) -> User:
    """Someone who has started the bot (we know them only then), by an account id typed by
    the admin, on any channel."""
    user = find_by_account(session, external_id)
    if user is None or user.id is None or not user.active:
        raise BadInput("plt.unknown_user", user=external_id)
    return user


def _entry(row: ActingOfficial, user: User, office: Office, now: datetime) -> PltEntry:
    assert row.id is not None
    zone = ZoneInfo(office.timezone)
    starts, ends = from_db(row.starts_at), from_db(row.ends_at)
    return PltEntry(
        id=row.id, office=row.office, role=row.role, user_id=row.user_id,
        name=user.full_name or user.display_name, external_id=user.external_id,
        first_day=starts.astimezone(zone).date(),
        last_day=(ends - timedelta(microseconds=1)).astimezone(zone).date(),
        starts_at=starts, ends_at=ends, current=starts <= now < ends,
    )


def appoint(
    session: Session,
    clock: Clock,
    offices: Mapping[str, Office],
    *,
    office: str,
    role: str,
    external_id: str,
    first: str | date,
    last: str | date,
    created_by: str,
) -> PltEntry:
    """Name a Plt and tell them (notify.plt_assigned). Raises BadInput on any wrong value."""
    where = _office(offices, office)
    code = _role(role)
    user = _person(session, external_id)
    assert user.id is not None
    first_day = parse_day(first) if isinstance(first, str) else first
    last_day = parse_day(last) if isinstance(last, str) else last
    if last_day < first_day:
        raise BadInput("plt.bad_period", first=first_day.isoformat(), last=last_day.isoformat())
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise BadInput("plt.too_long", days=MAX_DAYS)
    now = clock.now()
    starts, ends = period(where, first_day, last_day)
    if ends <= now:
        raise BadInput("plt.period_over", last=last_day.isoformat())
    holds = session.exec(
        select(RoleBinding).where(RoleBinding.user_id == user.id)
        .where(RoleBinding.office == where.code).where(RoleBinding.role == code)
        .where(RoleBinding.active == True)  # noqa: E712
    ).first()
    if holds is not None:
        raise BadInput("plt.holds_role", name=user.full_name or user.display_name)
    clash = session.exec(
        select(ActingOfficial).where(ActingOfficial.office == where.code)
        .where(ActingOfficial.role == code)
        .where(col(ActingOfficial.revoked_at).is_(None))
        .where(ActingOfficial.starts_at < to_db(ends))
        .where(ActingOfficial.ends_at > to_db(starts))
    ).first()
    if clash is not None:
        other = session.get(User, clash.user_id)
        assert other is not None
        existing = _entry(clash, other, where, now)
        raise BadInput("plt.overlap", id=existing.id, name=existing.name,
                       first=existing.first_day.isoformat(), last=existing.last_day.isoformat())
    row = ActingOfficial(office=where.code, role=code, user_id=user.id, starts_at=to_db(starts),
                         ends_at=to_db(ends), created_by=created_by, created_at=to_db(now))
    session.add(row)
    session.flush()
    notify(session, clock, user.id, "notify.plt_assigned", office=where.code,
           office_name=where.name, roles=[code], starts_at=to_db(starts).isoformat(),
           last_at=to_db(ends - timedelta(minutes=1)).isoformat())
    return _entry(row, user, where, now)


def current_and_coming(
    session: Session, clock: Clock, offices: Mapping[str, Office]
) -> list[PltEntry]:
    """Plt in force now or later, of all offices, by office, start and id."""
    now = clock.now()
    rows = session.exec(
        select(ActingOfficial, User).join(User, col(ActingOfficial.user_id) == col(User.id))
        .where(col(ActingOfficial.revoked_at).is_(None))
        .where(ActingOfficial.ends_at > to_db(now))
        .order_by(col(ActingOfficial.office), col(ActingOfficial.starts_at),
                  col(ActingOfficial.id))
    ).all()
    return [_entry(row, user, offices[row.office], now) for row, user in rows
            if row.office in offices]


def revoke(
    session: Session, clock: Clock, offices: Mapping[str, Office], acting_id: int
) -> PltEntry:
    """End a Plt now (or cancel a coming one) and tell the person (notify.plt_revoked)."""
    row = session.exec(
        select(ActingOfficial).where(ActingOfficial.id == acting_id).with_for_update()
    ).first()
    if row is None or row.office not in offices:
        raise NotFound("plt.not_found", id=acting_id)
    if row.revoked_at is not None:
        raise BadInput("plt.already_revoked", id=acting_id)
    now = clock.now()
    user = session.get(User, row.user_id)
    assert user is not None
    entry = _entry(row, user, offices[row.office], now)
    row.revoked_at = to_db(now)
    session.add(row)
    if from_db(row.ends_at) > now:
        notify(session, clock, row.user_id, "notify.plt_revoked", office=row.office,
               office_name=offices[row.office].name, roles=[row.role])
    return entry


__all__ = ["PltEntry", "appoint", "current_and_coming", "parse_day", "period", "revoke"]
