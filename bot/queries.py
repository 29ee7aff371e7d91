"""Read models for the screens: status, task list, lembar disposisi, agenda book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, or_, select

from bot.casework import team_of
from bot.clock import from_db
from bot.models import (
    ActingOfficial,
    AgendaCounter,
    Attachment,
    AuditEntry,
    Case,
    RoleBinding,
    TeamMember,
    User,
)
from bot.workflow import Workflow


@dataclass(frozen=True)
class CaseLine:
    case_id: int
    version: int
    agenda: str
    subject: str
    status: str
    step_no: int
    activity: str
    roles: tuple[str, ...]
    holder_names: tuple[str, ...]
    since: datetime
    office: str
    remaining: timedelta | None = None  # office time left on the step; negative = late
    team: tuple[str, ...] = ()  # the field team assigned to the case, if any
    team_date: date | None = None


@dataclass(frozen=True)
class TrailLine:
    at: datetime
    step_no: int
    kind: str
    action: str
    actor: str
    role: str
    note: str
    to_step: int | None


HolderNames = dict[tuple[str, tuple[str, ...]], list[str]]


def _line(session: Session, workflow: Workflow, case: Case,
          known: HolderNames | None = None) -> CaseLine:
    """One case for a listing; `known` memoises holder names across the listing's cases."""
    assert case.id is not None
    step = workflow.current_step(case)
    names: list[str] = []
    with_team = any(s.assigns_team for s in workflow.sop_of(case).steps)
    team = team_of(session, case.id) if with_team else []
    if case.status == "open":
        # Whoever is told and may act now: the Plt where one is named.
        known = {} if known is None else known
        key = (case.office, step.roles)
        if key not in known:
            holders = workflow.sla.holders(session, case.office, step.roles)
            known[key] = sorted({u.full_name or u.display_name for u in holders})
        names = known[key]
        if "tim" in step.roles and team:  # a field-team step waits on the assigned team
            names = [m.name for m in team]
    return CaseLine(
        case_id=case.id, version=case.version, agenda=case.agenda_number, subject=case.subject,
        status=case.status, step_no=case.step_no, activity=step.activity, roles=step.roles,
        holder_names=tuple(names),
        since=from_db(case.finished_at or case.step_started_at), office=case.office,
        remaining=workflow.sla.remaining(case),
        team=tuple(m.name for m in team), team_date=team[0].duty_date if team else None,
    )


@dataclass(frozen=True)
class Page:
    """The first lines of a listing and how many there are in all."""

    lines: list[CaseLine]
    total: int


def _mine(user_id: int) -> ColumnElement[bool]:
    # A member's requests, and the internal SOPs an official started (/mulai).
    return or_(col(Case.requester_id) == user_id, col(Case.started_by_id) == user_id)


def member_cases(session: Session, workflow: Workflow, user_id: int, limit: int = 10) -> Page:
    """The member's newest cases (both indexed columns; newest first) and their number."""
    total = session.exec(select(func.count()).select_from(Case).where(_mine(user_id))).one()
    cases = list(session.exec(select(Case).where(_mine(user_id))
                              .order_by(col(Case.id).desc()).limit(limit))) if total else []
    known: HolderNames = {}
    return Page([_line(session, workflow, c, known) for c in cases], int(total))


@dataclass(frozen=True)
class _Steps:
    """Steps of one SOP in one office that wait on the user (`team`: only if in its team)."""

    office: str
    sop: str
    numbers: tuple[int, ...]
    team: bool


def _waiting_steps(session: Session, workflow: Workflow, user_id: int) -> list[_Steps]:
    """Where open cases wait on one of the user's roles (Plt roles included): the SOPs say
    which steps those are, so the database is asked only about them."""
    bound = session.exec(
        select(RoleBinding.office).where(RoleBinding.user_id == user_id)
        .where(RoleBinding.active == True)  # noqa: E712
    ).all()
    acting = session.exec(
        select(ActingOfficial.office).where(ActingOfficial.user_id == user_id)
        .where(col(ActingOfficial.revoked_at).is_(None))
    ).all()
    found: list[_Steps] = []
    for office in sorted(set(bound) | set(acting)):
        roles = workflow.roles_of(session, user_id, office)
        # A case runs an SOP of its own office (Workflow._open_case).
        for sop in (s for s in workflow.registry.sops.values() if s.office == office):
            mine = [(s.number, (roles & set(s.roles)) == {"tim"}) for s in sop.steps
                    if roles & set(s.roles)]
            for team in (False, True):
                numbers = tuple(n for n, team_only in mine if team_only == team)
                if numbers:
                    found.append(_Steps(office, sop.code, numbers, team))
    return found


def _open_at(steps: _Steps, number: int, user_id: int) -> list[ColumnElement[bool]]:
    """Open cases at one step (each an index range: status, office, SOP, step)."""
    where = [col(Case.status) == "open", col(Case.office) == steps.office,
             col(Case.sop_code) == steps.sop, col(Case.step_no) == number]
    if steps.team:  # a field-team step: everyone of the team role until a team is assigned
        team = select(TeamMember.id).where(TeamMember.case_id == Case.id).where(
            col(TeamMember.removed_at).is_(None))
        where.append(or_(~team.exists(), team.where(TeamMember.user_id == user_id).exists()))
    return where


def tasks_for(session: Session, workflow: Workflow, user_id: int, limit: int = 10) -> Page:
    """What waits on the user, longest waiting first: the first `limit` and the number.

    Per step, a count and the `limit` longest waiting are read along the index
    (status, office, sop_code, step_no, step_started_at): nothing else is read, however
    many cases the office has.
    """
    total = 0
    first: list[tuple[datetime, int]] = []
    for steps in _waiting_steps(session, workflow, user_id):
        for number in steps.numbers:
            where = _open_at(steps, number, user_id)
            total += session.exec(select(func.count()).select_from(Case).where(*where)).one()
            first += [(at, case_id) for case_id, at in session.exec(
                select(Case.id, Case.step_started_at).where(*where)
                .order_by(col(Case.step_started_at), col(Case.id)).limit(limit)
            ) if case_id is not None]
    ids = [case_id for _, case_id in sorted(first)[:limit]]
    cases = {c.id: c for c in session.exec(select(Case).where(col(Case.id).in_(ids)))}
    known: HolderNames = {}
    return Page([_line(session, workflow, cases[i], known) for i in ids], total)


def case_line(session: Session, workflow: Workflow, case: Case) -> CaseLine:
    return _line(session, workflow, case)


def trail(session: Session, case_id: int) -> list[TrailLine]:
    rows = session.exec(
        select(AuditEntry, User).join(User, AuditEntry.actor_id == User.id)  # type: ignore[arg-type]
        .where(AuditEntry.case_id == case_id).order_by(col(AuditEntry.id))
    )
    return [
        TrailLine(at=from_db(e.at), step_no=e.step_no, kind=e.kind, action=e.action,
                  actor=u.full_name or u.display_name, role=e.actor_role, note=e.note,
                  to_step=e.to_step)
        for e, u in rows
    ]


def attachments(session: Session, case_id: int) -> list[Attachment]:
    return list(session.exec(
        select(Attachment).where(Attachment.case_id == case_id).order_by(col(Attachment.id))
    ))


def agenda_book(session: Session, office: str, year: int,
                limit: int = 50) -> tuple[list[Case], int]:
    """The year's newest `limit` letters of the office, and how many it has in all."""
    # Agenda numbers run from 1 with no gaps and letters are never deleted: the office's
    # counter is the number of letters of the year (counting them would read them all).
    total = session.exec(select(AgendaCounter.last).where(AgendaCounter.office == office)
                         .where(AgendaCounter.year == year)).first() or 0
    cases = list(session.exec(
        select(Case).where(Case.office == office).where(Case.agenda_year == year)
        .order_by(col(Case.agenda_seq).desc()).limit(limit)
    ))
    return cases, int(total)


def find_case_by_agenda(session: Session, agenda: str) -> Case | None:
    return session.exec(select(Case).where(Case.agenda_number == agenda.strip())).first()
