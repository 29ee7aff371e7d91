"""Read models for the screens: status, task list, lembar disposisi, agenda book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, or_, select

from bot.casework import team_of
from bot.clock import from_db
from bot.models import ActingOfficial, Attachment, AuditEntry, Case, RoleBinding, User
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


def member_cases(session: Session, workflow: Workflow, user_id: int, limit: int = 10) -> list[
        CaseLine]:
    # A member's requests, and the internal SOPs an official started (/mulai).
    cases = session.exec(
        select(Case).where(or_(col(Case.requester_id) == user_id, Case.started_by_id == user_id))
        .order_by(col(Case.id).desc()).limit(limit)
    )
    known: HolderNames = {}
    return [_line(session, workflow, c, known) for c in cases]


def tasks_for(session: Session, workflow: Workflow, user_id: int) -> list[CaseLine]:
    """Open cases whose current step waits on one of the user's roles (Plt roles included)."""
    bound = session.exec(
        select(RoleBinding.office).where(RoleBinding.user_id == user_id)
        .where(RoleBinding.active == True)  # noqa: E712
    ).all()
    acting = session.exec(
        select(ActingOfficial.office).where(ActingOfficial.user_id == user_id)
        .where(col(ActingOfficial.revoked_at).is_(None))
    ).all()
    offices = set(bound) | set(acting)
    if not offices:
        return []
    roles = {office: workflow.roles_of(session, user_id, office) for office in offices}
    lines: list[CaseLine] = []
    cases = session.exec(
        select(Case).where(col(Case.office).in_(offices)).where(Case.status == "open")
        .order_by(col(Case.step_started_at))
    )
    known: HolderNames = {}
    for case in cases:
        mine = roles[case.office] & set(workflow.current_step(case).roles)
        if mine == {"tim"} and (team := [m.user_id for m in team_of(session, case.id or 0)]):
            mine = mine if user_id in team else set()  # a field-team step: the assigned team
        if mine:
            lines.append(_line(session, workflow, case, known))
    return lines


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


def agenda_book(session: Session, office: str, year: int, limit: int = 50) -> list[Case]:
    return list(session.exec(
        select(Case).where(Case.office == office).where(Case.agenda_year == year)
        .order_by(col(Case.agenda_seq).desc()).limit(limit)
    ))


def find_case_by_agenda(session: Session, agenda: str) -> Case | None:
    return session.exec(select(Case).where(Case.agenda_number == agenda.strip())).first()
