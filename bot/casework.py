"""Work done at a step besides moving on: the working document and the field team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.clock import to_db
from bot.errors import BadInput, NotAllowed, NotFound, Stale
from bot.models import Attachment, AuditEntry, Case, DocumentVersion, TeamMember, User
from bot.outbox import notify
from bot.sop import Step
from bot.workflow import MAX_NOTE, FileIn, Workflow

MAX_TEAM = 20


@dataclass(frozen=True)
class TeamLine:
    user_id: int
    name: str
    duty_date: date


def _holder_case(session: Session, workflow: Workflow, case_id: int, user: User,
                 version: int) -> tuple[Case, Step, str]:
    """The case locked, if `user` holds its current step at this version."""
    case = session.exec(select(Case).where(Case.id == case_id).with_for_update()).first()
    if case is None:
        raise NotFound()
    if not workflow.may_view(session, case, user):
        raise NotAllowed()  # before anything about the case (issue 12, hole 7)
    if case.status != "open" or case.version != version:
        raise Stale(agenda=case.agenda_number)
    if user.id is None or not workflow.may_act(session, case, user):
        raise NotAllowed()
    step = workflow.current_step(case)
    role = sorted(workflow.roles_of(session, user.id, case.office) & set(step.roles))[0]
    return case, step, role


def _audit(session: Session, workflow: Workflow, case: Case, user_id: int, role: str,
           kind: str, note: str) -> None:
    assert case.id is not None
    session.add(AuditEntry(case_id=case.id, at=to_db(workflow.clock.now()), step_no=case.step_no,
                           action=kind, kind=kind, actor_id=user_id, actor_role=role,
                           note=note[:MAX_NOTE]))


def attach_document(session: Session, workflow: Workflow, case_id: int, user: User, *,
                    version: int, file: FileIn, note: str = "") -> DocumentVersion:
    """Add a new version of the step's working document; earlier versions are kept."""
    case, step, role = _holder_case(session, workflow, case_id, user, version)
    if not step.document:
        raise BadInput("error.no_document_here")
    if len(note) > MAX_NOTE:
        raise BadInput("error.too_long", limit=MAX_NOTE)
    assert user.id is not None
    assert case.id is not None
    last = session.exec(
        select(func.max(DocumentVersion.version)).where(DocumentVersion.case_id == case.id)
    ).first()
    number = (last or 0) + 1
    now = to_db(workflow.clock.now())
    attachment = Attachment(case_id=case.id, kind=file.kind, file_ref=file.file_ref,
                            channel=file.channel, blob_hash=file.blob or None,
                            file_name=file.file_name[:256], mime=file.mime[:128], size=file.size,
                            label=f"{step.document} v{number}"[:128], step_no=step.number,
                            uploaded_by=user.id, created_at=now)
    session.add(attachment)
    session.flush()
    row = DocumentVersion(case_id=case.id, version=number, step_no=step.number,
                          attachment_id=attachment.id, title=step.document, kind=file.kind,
                          file_ref=file.file_ref, channel=file.channel,
                          blob_hash=file.blob or None, file_name=file.file_name[:256],
                          mime=file.mime[:128], size=file.size, note=note.strip(),
                          uploaded_by=user.id, created_at=now)
    session.add(row)
    _audit(session, workflow, case, user.id, role, "dokumen",
           f"{step.document} v{number}" + (f": {note.strip()}" if note.strip() else ""))
    session.flush()
    return row


def document_versions(session: Session, case_id: int) -> list[DocumentVersion]:
    return list(session.exec(
        select(DocumentVersion).where(DocumentVersion.case_id == case_id)
        .order_by(col(DocumentVersion.version))
    ))


def team_candidates(session: Session, workflow: Workflow, office: str) -> list[User]:
    """People who hold the Tim role in the office (Plt included)."""
    return workflow.sla.holders(session, office, ["tim"])


def assign_team(session: Session, workflow: Workflow, case_id: int, user: User, *,
                version: int, member_ids: list[int], duty_date: date) -> list[TeamLine]:
    """Set the case's field team (replacing an earlier one) and tell each member."""
    case, step, role = _holder_case(session, workflow, case_id, user, version)
    if not step.assigns_team:
        raise BadInput("error.no_team_here")
    if not member_ids:
        raise BadInput("error.team_required")
    if len(set(member_ids)) > MAX_TEAM:
        raise BadInput("error.too_many", limit=MAX_TEAM)
    today = workflow.clock.now().astimezone(workflow.sla.calendar(case.office).tz).date()
    if duty_date < today:
        raise BadInput("error.date_past")
    allowed = {u.id: u for u in team_candidates(session, workflow, case.office)}
    unknown = [m for m in member_ids if m not in allowed]
    if unknown:
        raise BadInput("error.not_team_member")
    assert user.id is not None
    assert case.id is not None
    now = to_db(workflow.clock.now())
    for old in session.exec(select(TeamMember).where(TeamMember.case_id == case.id)
                            .where(col(TeamMember.removed_at).is_(None))):
        old.removed_at = now
        session.add(old)
    lines: list[TeamLine] = []
    for member_id in dict.fromkeys(member_ids):
        member = allowed[member_id]
        session.add(TeamMember(case_id=case.id, user_id=member_id, duty_date=duty_date,
                               assigned_by=user.id, created_at=now))
        name = member.full_name or member.display_name
        lines.append(TeamLine(member_id, name, duty_date))
        notify(session, workflow.clock, member_id, "notify.team_assigned", case_id=case.id,
               agenda=case.agenda_number, subject=case.subject, duty_date=duty_date.isoformat(),
               by_name=user.full_name or user.display_name, office=case.office)
    _audit(session, workflow, case, user.id, role, "tim",
           ", ".join(line.name for line in lines) + f" ({duty_date.isoformat()})")
    session.flush()
    return lines


def team_of(session: Session, case_id: int) -> list[TeamLine]:
    rows = session.exec(
        select(TeamMember, User).join(User, TeamMember.user_id == User.id)  # type: ignore[arg-type]
        .where(TeamMember.case_id == case_id).where(col(TeamMember.removed_at).is_(None))
        .order_by(col(TeamMember.id))
    )
    return [TeamLine(u.id or 0, u.full_name or u.display_name, t.duty_date) for t, u in rows]
