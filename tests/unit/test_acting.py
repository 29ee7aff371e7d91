"""Plt (pelaksana tugas): naming, listing and revoking acting officials, with the admin's checks.

The clock is Monday 2026-11-23 09:00 WIB. Periods are whole days in the office's zone.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot import acting
from bot.clock import ManualClock, from_db
from bot.db import Database
from bot.errors import BadInput, KimError, NotFound
from bot.models import ActingOfficial, Notification, User
from bot.sop import SopRegistry
from bot.workflow import Workflow
from tests.conftest import SOP_DIR
from tests.support.db import count
from tests.support.factories import make_official, make_user

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
ADMIN = "9000"


@pytest.fixture
def registry(tmp_path: Path) -> SopRegistry:
    """The offices and the Lumajang SOP only."""
    for name in ("offices.yaml", "lumajang_pelayanan_kim.yaml"):
        shutil.copy(SOP_DIR / name, tmp_path)
    return SopRegistry.from_dir(tmp_path)


@dataclass
class People:
    kadis: User
    sekdis: User
    staf: User
    guest: User  # started the bot, holds no role


@pytest.fixture
def people(db: Database) -> People:
    with db.session() as s:
        return People(
            kadis=make_official(s, "kadis", name="Kadin"),
            sekdis=make_official(s, "sekdis", name="Sekdin"),
            staf=make_official(s, "staf", name="Sari"),
            guest=make_user(s, name="Budi Plt", external_id="777001"),
        )


def appoint(db: Database, registry: SopRegistry, clock: ManualClock, external_id: str,
            first: str = "2026-11-23", last: str = "2026-11-24", *, office: str = "lumajang",
            role: str = "kadis") -> acting.PltEntry:
    with db.session() as s:
        return acting.appoint(s, clock, registry.offices, office=office, role=role,
                              external_id=external_id, first=first, last=last,
                              created_by=ADMIN)


def refused(db: Database, registry: SopRegistry, clock: ManualClock, external_id: str,
            *args: str, **kwargs: str) -> KimError:
    with pytest.raises(KimError) as info:
        appoint(db, registry, clock, external_id, *args, **kwargs)
    return info.value


def listing(db: Database, registry: SopRegistry, clock: ManualClock) -> list[acting.PltEntry]:
    with db.session() as s:
        return acting.current_and_coming(s, clock, registry.offices)


def revoke(db: Database, registry: SopRegistry, clock: ManualClock,
           acting_id: int) -> acting.PltEntry:
    with db.session() as s:
        return acting.revoke(s, clock, registry.offices, acting_id)


def notifications(db: Database) -> list[Notification]:
    with db.session() as s:
        return list(s.exec(select(Notification).order_by(col(Notification.id))).all())


def ext(user: User) -> str:
    return user.external_id


# -- appointing ------------------------------------------------------------------------------


def test_a_plt_runs_from_the_first_day_00_00_to_the_end_of_the_last_day_office_time(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    entry = appoint(db, registry, clock, "777001", "2026-11-23", "2026-11-24")
    assert (entry.office, entry.role, entry.user_id, entry.name) == (
        "lumajang", "kadis", people.guest.id, "Budi Plt")
    assert (entry.first_day, entry.last_day, entry.current) == (
        date(2026, 11, 23), date(2026, 11, 24), True)
    with db.session() as s:
        row = s.get(ActingOfficial, entry.id)
        assert row is not None
    assert from_db(row.starts_at) == datetime(2026, 11, 23, 0, 0, tzinfo=WIB)
    assert from_db(row.ends_at) == datetime(2026, 11, 25, 0, 0, tzinfo=WIB)
    assert (row.created_by, row.revoked_at) == (ADMIN, None)
    assert from_db(row.created_at) == clock.now()


def test_the_period_is_read_in_the_office_zone(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    entry = appoint(db, registry, clock, "777001", "2026-11-24", "2026-11-24", office="kolaka")
    assert entry.starts_at == datetime(2026, 11, 24, 0, 0, tzinfo=WITA)
    assert entry.starts_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert entry.ends_at == datetime(2026, 11, 25, 0, 0, tzinfo=WITA)
    assert entry.current is False  # tomorrow in Kolaka


def test_the_new_plt_is_told(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    appoint(db, registry, clock, "777001", "2026-11-23", "2026-11-24")
    [note] = notifications(db)
    assert (note.key, note.recipient_id, note.case_id) == (
        "notify.plt_assigned", people.guest.id, None)
    assert note.params["roles"] == ["kadis"]
    assert note.params["office"] == "lumajang"
    assert note.params["office_name"] == "Dinas Komunikasi dan Informatika Kabupaten Lumajang"
    assert datetime.fromisoformat(note.params["starts_at"]) == datetime(
        2026, 11, 23, 0, 0, tzinfo=WIB)
    assert datetime.fromisoformat(note.params["last_at"]) == datetime(
        2026, 11, 24, 23, 59, tzinfo=WIB)


def test_office_and_role_are_understood_as_typed(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    entry = appoint(db, registry, clock, "777001", office="LUMAJANG", role="Kadin")
    assert (entry.office, entry.role) == ("lumajang", "kadis")
    entry = appoint(db, registry, clock, ext(people.staf), office="lumajang", role="Sekdin")
    assert entry.role == "sekdis"


def test_the_plt_acts_for_the_role_only_during_the_period(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    wf = Workflow(registry, clock)
    clock.set(datetime(2026, 11, 22, 23, 59, tzinfo=WIB))  # Sunday night: not yet
    appoint(db, registry, clock, "777001", "2026-11-23", "2026-11-24")

    def holders() -> list[int | None]:
        with db.session() as s:
            return [u.id for u in wf.sla.holders(s, "lumajang", ["kadis"])]

    def roles() -> set[str]:
        with db.session() as s:
            return wf.roles_of(s, people.guest.id, "lumajang")  # type: ignore[arg-type]

    assert (holders(), roles()) == ([people.kadis.id], set())
    clock.set(datetime(2026, 11, 23, 0, 0, tzinfo=WIB))
    assert (holders(), roles()) == ([people.guest.id], {"kadis"})
    clock.set(datetime(2026, 11, 24, 23, 59, 59, tzinfo=WIB))
    assert (holders(), roles()) == ([people.guest.id], {"kadis"})
    clock.set(datetime(2026, 11, 25, 0, 0, tzinfo=WIB))
    assert (holders(), roles()) == ([people.kadis.id], set())


# -- refusals --------------------------------------------------------------------------------


def test_unknown_office_role_and_person_are_refused(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    error = refused(db, registry, clock, "777001", office="malang")
    assert (type(error), error.key) == (BadInput, "error.unknown_office")
    assert error.params == {"offices": "lumajang, kolaka"}
    error = refused(db, registry, clock, "777001", role="bupati")
    assert error.key == "error.unknown_role"
    assert "kadis" in error.params["roles"]
    for who in ("123456789", "@budi", "-5", "", "777001x"):
        error = refused(db, registry, clock, who)
        assert (error.key, error.params) == ("plt.unknown_user", {"user": who})


def test_a_person_not_on_telegram_or_switched_off_is_refused(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    with db.session() as s:
        other = make_user(s, name="Lewat WA", external_id="555")
        other.channel = "whatsapp"
        s.add(other)
        gone = make_user(s, name="Nonaktif", external_id="556", active=False)
    assert refused(db, registry, clock, "555").key == "plt.unknown_user"
    assert refused(db, registry, clock, ext(gone)).key == "plt.unknown_user"


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30", "23-11-2026", "2026/11/23",
                                 "2026-W48-1", "20261123", "besok", "2026-11-3"])
def test_dates_must_be_real_and_written_yyyy_mm_dd(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People, bad: str
) -> None:
    error = refused(db, registry, clock, "777001", bad, "2026-11-30")
    assert (error.key, error.params) == ("plt.bad_date", {"value": bad})
    error = refused(db, registry, clock, "777001", "2026-11-23", bad)
    assert (error.key, error.params) == ("plt.bad_date", {"value": bad})


def test_the_end_may_not_come_before_the_start(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    error = refused(db, registry, clock, "777001", "2026-11-30", "2026-11-29")
    assert (error.key, error.params) == (
        "plt.bad_period", {"first": "2026-11-30", "last": "2026-11-29"})
    # One day is fine: FROM = TO.
    assert appoint(db, registry, clock, "777001", "2026-11-30", "2026-11-30").last_day == date(
        2026, 11, 30)


def test_a_period_already_over_or_too_long_is_refused(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    error = refused(db, registry, clock, "777001", "2026-11-20", "2026-11-22")
    assert (error.key, error.params) == ("plt.period_over", {"last": "2026-11-22"})
    error = refused(db, registry, clock, "777001", "2026-11-23", "2027-11-24")  # 367 days
    assert (error.key, error.params) == ("plt.too_long", {"days": 366})
    appoint(db, registry, clock, "777001", "2026-11-23", "2027-11-23", role="kasi")  # 366 days
    # Started last week and still running: fine (today is in it).
    entry = appoint(db, registry, clock, "777001", "2026-11-16", "2026-11-23")
    assert entry.current


def test_the_holder_of_the_role_cannot_be_its_plt(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    error = refused(db, registry, clock, ext(people.kadis))
    assert (error.key, error.params) == ("plt.holds_role", {"name": "Kadin"})


def test_one_plt_per_role_and_office_at_a_time(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    first = appoint(db, registry, clock, "777001", "2026-11-23", "2026-11-27")
    error = refused(db, registry, clock, ext(people.sekdis), "2026-11-27", "2026-11-30")
    assert (error.key, error.params) == ("plt.overlap", {
        "id": first.id, "name": "Budi Plt", "first": "2026-11-23", "last": "2026-11-27"})
    # Right after it, another role, or another office: fine.
    appoint(db, registry, clock, ext(people.sekdis), "2026-11-28", "2026-11-30")
    appoint(db, registry, clock, ext(people.staf), "2026-11-23", "2026-11-27", role="kabid")
    appoint(db, registry, clock, ext(people.sekdis), "2026-11-23", "2026-11-27",
            office="kolaka")
    # A revoked Plt no longer blocks the period.
    revoke(db, registry, clock, first.id)
    appoint(db, registry, clock, ext(people.sekdis), "2026-11-24", "2026-11-25")


def test_a_refusal_writes_nothing(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    refused(db, registry, clock, "777001", "2026-11-30", "2026-11-01")
    refused(db, registry, clock, "123")
    with db.session() as s:
        assert count(s, ActingOfficial) == 0
        assert count(s, Notification) == 0


# -- listing ---------------------------------------------------------------------------------


def test_the_list_shows_current_and_coming_plt_of_all_offices(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    coming = appoint(db, registry, clock, ext(people.sekdis), "2026-12-01", "2026-12-05")
    now = appoint(db, registry, clock, "777001", "2026-11-20", "2026-11-25")
    kolaka = appoint(db, registry, clock, ext(people.staf), "2026-11-23", "2026-11-23",
                     office="kolaka")
    revoked = appoint(db, registry, clock, ext(people.staf), "2026-11-23", "2026-11-23",
                      role="kasi")
    revoke(db, registry, clock, revoked.id)
    with db.session() as s:  # one that ended yesterday
        assert people.staf.id is not None
        s.add(ActingOfficial(office="lumajang", role="kabid", user_id=people.staf.id,
                             starts_at=datetime(2026, 11, 16, tzinfo=WIB),
                             ends_at=datetime(2026, 11, 23, tzinfo=WIB), created_by=ADMIN,
                             created_at=clock.now()))
    entries = listing(db, registry, clock)
    # By office, then start.
    assert [e.id for e in entries] == [kolaka.id, now.id, coming.id]
    assert [(e.role, e.name, e.first_day.isoformat(), e.last_day.isoformat(), e.current)
            for e in entries] == [
        ("kadis", "Sari", "2026-11-23", "2026-11-23", True),
        ("kadis", "Budi Plt", "2026-11-20", "2026-11-25", True),
        ("kadis", "Sekdin", "2026-12-01", "2026-12-05", False),
    ]
    assert entries[1].external_id == "777001"
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=WIB))
    assert [e.id for e in listing(db, registry, clock)] == [coming.id]
    clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=WIB))
    assert [(e.id, e.current) for e in listing(db, registry, clock)] == [(coming.id, True)]


def test_the_list_is_empty_without_plt(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    assert listing(db, registry, clock) == []


# -- revoking --------------------------------------------------------------------------------


def test_revoking_ends_the_plt_at_once_and_tells_them(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    wf = Workflow(registry, clock)
    entry = appoint(db, registry, clock, "777001")
    clock.advance(timedelta(hours=1))
    gone = revoke(db, registry, clock, entry.id)
    assert (gone.id, gone.name) == (entry.id, "Budi Plt")
    with db.session() as s:
        row = s.get(ActingOfficial, entry.id)
        assert row is not None
        assert from_db(row.revoked_at) == clock.now()  # type: ignore[arg-type]
        assert [u.id for u in wf.sla.holders(s, "lumajang", ["kadis"])] == [people.kadis.id]
    assert [(n.key, n.recipient_id) for n in notifications(db)] == [
        ("notify.plt_assigned", people.guest.id), ("notify.plt_revoked", people.guest.id)]
    assert listing(db, registry, clock) == []

    with pytest.raises(BadInput) as info:
        revoke(db, registry, clock, entry.id)
    error = info.value
    assert (error.key, error.params) == ("plt.already_revoked", {"id": entry.id})


def test_revoking_an_unknown_plt_is_refused(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    with pytest.raises(NotFound) as info:
        revoke(db, registry, clock, 424242)
    assert (info.value.key, info.value.params) == ("plt.not_found", {"id": 424242})


def test_a_coming_plt_can_be_cancelled(
    db: Database, registry: SopRegistry, clock: ManualClock, people: People
) -> None:
    entry = appoint(db, registry, clock, "777001", "2026-12-01", "2026-12-03")
    revoke(db, registry, clock, entry.id)
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=WIB))
    with db.session() as s:
        assert [u.id for u in Workflow(registry, clock).sla.holders(s, "lumajang", ["kadis"])
                ] == [people.kadis.id]
