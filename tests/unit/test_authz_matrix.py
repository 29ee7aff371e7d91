"""The authorisation matrix, generated from the SOP files and the command table.

Every actor (each role of each office, plus the requester, a stranger, a revoked official,
a deactivated official, a Plt whose period ended, a Plt in force, an office-limited admin)
× every SOP × every step × every action of that step (and a forged one). Expected: exactly
the holders of the step's roles in the case's office may act; zero unauthorised successes,
and a stranger's refusal names nothing of the case. Commands: every admin command is
refused to non-admins before it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import Session

from bot.clock import ManualClock
from bot.conversations import router
from bot.conversations.events import Inbound, Press, Sender
from bot.conversations.intents import (
    Act,
    DocAttach,
    DocSend,
    Fix,
    Team,
    TeamDate,
    TeamNext,
    TeamToggle,
    Trail,
)
from bot.conversations.table import Audience
from bot.errors import KimError, NotAllowed
from bot.models import Case, User
from bot.roles import ROLES
from bot.services import Services, build_services
from bot.settings import Settings
from bot.sop.model import Sop
from tests.support.catalog import text
from tests.support.chat import ChatHub
from tests.support.factories import (
    DEFAULT_AT,
    bind_role,
    make_acting,
    make_member,
    make_user,
    revoke_roles,
)

ADMIN = "9000"
OFFICE_ADMIN = "9100"


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    settings = Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                        KIMBOT_ADMIN_IDS=ADMIN, KIMBOT_OFFICE_ADMINS=f"{OFFICE_ADMIN}:lumajang")
    services = build_services(settings, clock=clock)
    try:
        yield services
    finally:
        services.db.dispose()


@dataclass(frozen=True)
class Actor:
    name: str
    user_id: int
    roles: frozenset[tuple[str, str]]  # (office, role) they may act as now


def _actors(s: Session, svc: Services, clock: ManualClock) -> list[Actor]:
    """One person per role and office, and the special cases the matrix must cover."""
    actors: list[Actor] = []

    def add(name: str, user: User, roles: set[tuple[str, str]]) -> None:
        assert user.id is not None
        actors.append(Actor(name, user.id, frozenset(roles)))

    for office in svc.registry.offices:
        for role in ROLES:
            user = make_user(s, name=f"{role}@{office}", office=office)
            bind_role(s, user, role, office)
            add(f"{role}@{office}", user, {(office, role)})
    add("stranger", make_user(s, name="Stranger"), set())
    add("member", make_member(s, "Member"), set())
    for office in svc.registry.offices:
        revoked = make_user(s, name=f"revoked@{office}")
        for role in ROLES:
            bind_role(s, revoked, role, office)
        revoke_roles(s, revoked, office)
        add(f"revoked@{office}", revoked, set())
        gone = make_user(s, name=f"deactivated@{office}", active=False)
        for role in ROLES:
            bind_role(s, gone, role, office)
        add(f"deactivated@{office}", gone, set())
        now = clock.now()
        for role in ROLES:
            expired = make_user(s, name=f"plt-expired-{role}@{office}")
            make_acting(s, expired, role, now - timedelta(days=10), now - timedelta(days=1),
                        office)
            add(f"plt-expired-{role}@{office}", expired, set())
            current = make_user(s, name=f"plt-{role}@{office}")
            make_acting(s, current, role, now - timedelta(days=1), now + timedelta(days=1),
                        office)
            add(f"plt-{role}@{office}", current, {(office, role)})
    office_admin = make_user(s, name="office admin", external_id=OFFICE_ADMIN)
    add("office-admin", office_admin, set())
    return actors


def _case(s: Session, sop: Sop, step_no: int, requester: int, seq: int) -> Case:
    case = Case(office=sop.office, sop_code=sop.code, agenda_year=2026, agenda_seq=seq,
                agenda_number=f"{seq:03d}/SM/MATRIX/2026", requester_id=requester,
                started_by_id=requester, subject="Rahasia", purpose="Rahasia", step_no=step_no,
                step_started_at=DEFAULT_AT, created_at=DEFAULT_AT, request_key=f"m{seq}",
                version=3)
    s.add(case)
    s.flush()
    return case


def test_every_actor_every_step_every_action(svc: Services, clock: ManualClock) -> None:
    workflow = svc.workflow
    checks = successes = unauthorised = leaks = 0
    with svc.db.session() as s:
        actors = _actors(s, svc, clock)
        member = next(a for a in actors if a.name == "member")
        seq = 0
        for sop in sorted(svc.registry.sops.values(), key=lambda x: x.code):
            for step in sop.steps:
                seq += 1
                case = _case(s, sop, step.number, member.user_id, seq)
                assert case.id is not None
                codes = [a.code for a in step.actions] + ["forged"]
                for actor in actors:
                    user = s.get(User, actor.user_id)
                    assert user is not None
                    may = any((sop.office, role) in actor.roles for role in step.roles)
                    insider = any(office == sop.office for office, _ in actor.roles)
                    for code in codes:
                        for version in (case.version, case.version - 1):
                            checks += 1
                            try:
                                with s.begin_nested() as nested:
                                    workflow.check(s, case.id, user, version=version,
                                                   action_code=code)
                                    nested.rollback()
                                allowed = True
                            except KimError as exc:
                                allowed = False
                                # An outsider must not learn the case exists or moved.
                                if not insider and (not isinstance(exc, NotAllowed)
                                                    or case.agenda_number in str(exc.params)):
                                    leaks += 1
                            successes += allowed
                            if allowed and not (may and code != "forged"
                                                and version == case.version):
                                unauthorised += 1
    assert checks > 1000
    assert successes > 0
    assert (unauthorised, leaks) == (0, 0)


@pytest.mark.parametrize("spec", [c for c in router.COMMANDS if c.audience is Audience.ADMIN],
                         ids=lambda c: c.name)
async def test_admin_commands_are_refused_to_everyone_else(svc: Services, spec: object) -> None:
    hub = ChatHub(svc)
    with svc.db.session() as s:
        official = make_user(s, name="Kadis")
        bind_role(s, official, "kadis", "lumajang")
        outsider = official.external_id
    for account in (outsider, "31337"):
        person = hub.person("P", account_id=account)
        assert isinstance(spec, router.CommandSpec)
        [answer] = await person.send(f"/{spec.name} lumajang 1 2 3")
        assert answer.text == text("error.admin_only")


async def test_a_strangers_press_on_every_step_names_no_case(
    svc: Services, clock: ManualClock,
) -> None:
    """Through the core: forged presses on every step of every SOP, every version near the
    real one; the stranger's alert is always the same and names nothing."""
    hub = ChatHub(svc)
    with svc.db.session() as s:
        requester = make_member(s, "Member")
        ids = []
        seq = 100
        for sop in svc.registry.sops.values():
            for step in sop.steps:
                seq += 1
                case = _case(s, sop, step.number, requester.id or 0, seq)
                ids.append((case.id or 0, case.version, [a.code for a in step.actions]))
    stranger = hub.person("Stranger")
    sender = Sender("telegram", stranger.account_id, stranger.account_id, "Stranger")
    answers: set[str] = set()
    n = 0
    for case_id, version, codes in ids:
        for v in (version - 1, version, version + 1):
            for code in [*codes, "x"]:
                n += 1
                intent = Act(case_id, v, code)
                outcome = hub.core.run(Inbound(sender, Press(intent, intent.encode()),
                                               f"s:{n}"))
                assert outcome is not None
                answers.add(outcome.answer or "")
                assert not outcome.messages
    assert answers == {text("error.not_allowed")}
    # Every other button that names a case: whatever the answer, nothing of the case in it.
    for case_id, version, _codes in ids:
        for intent in [i for v in (version - 1, version) for i in (
                Fix(case_id, v), Trail(case_id), DocAttach(case_id, v), DocSend(case_id, 1),
                Team(case_id, v), TeamToggle(case_id, v, 1), TeamNext(case_id, v),
                TeamDate(case_id, v, 20261124))]:
            n += 1
            outcome = hub.core.run(Inbound(sender, Press(intent, intent.encode()), f"s:{n}"))
            assert outcome is not None
            shown = (outcome.answer or "") + "".join(m.text for m in outcome.messages)
            assert "MATRIX" not in shown, (intent, shown)
            assert "Rahasia" not in shown, (intent, shown)
            assert not any(m.files for m in outcome.messages), intent
    with svc.db.session() as s:
        assert all(s.get(Case, cid).version == v for cid, v, _ in ids)  # type: ignore[union-attr]
