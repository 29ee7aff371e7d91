"""The workflow engine: cases move through SOP steps, authorised and audited.

No channel code here: callers pass plain values and get rows or `KimError`s back.
Every change and the notifications it causes are written in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from bot.clock import Clock, from_db, to_db
from bot.counters import next_number
from bot.errors import BadInput, NotAllowed, NotFound, Stale
from bot.models import (
    AgendaCounter,
    Attachment,
    AuditEntry,
    Case,
    DocumentVersion,
    Notification,
    RoleBinding,
    TeamMember,
    User,
)
from bot.outbox import FILES_SENT, notify
from bot.sla import Sla
from bot.sop import Action, ActionKind, Sop, SopRegistry, Step
from bot.sop.model import REQUESTER

MAX_NOTE = 1000
MAX_PURPOSE = 2000
MAX_SUBJECT = 200


@dataclass(frozen=True)
class FileIn:
    """An uploaded file as the channel reports it."""

    kind: str  # photo | document
    file_ref: str
    file_name: str = ""
    mime: str = ""
    size: int = 0
    label: str = ""
    blob: str = ""  # sha256 of its bytes in the file store ("" when not fetched)
    channel: str = "telegram"  # the channel `file_ref` belongs to


@dataclass(frozen=True)
class Moved:
    """What an action did, for the actor's confirmation message."""

    case: Case
    action: Action
    to_step: Step | None  # None when finished or returned to the requester
    to_requester: bool = False
    finished: bool = False


class Workflow:
    def __init__(self, registry: SopRegistry, clock: Clock, sla: Sla | None = None) -> None:
        self.registry = registry
        self.clock = clock
        self.sla = sla or Sla(registry, clock)
        # Run in the same transaction when a case is finished (the SKM survey invitation).
        self.on_finish: list[Callable[[Session, Case], object]] = []

    # -- lookups -------------------------------------------------------------------------

    def sop_of(self, case: Case) -> Sop:
        sop = self.registry.get(case.sop_code)
        if sop is None:
            raise NotFound("error.sop_missing", sop=case.sop_code)
        return sop

    def current_step(self, case: Case) -> Step:
        return self.sop_of(case).step(case.step_no)

    def roles_of(self, session: Session, user_id: int, office: str) -> set[str]:
        """Roles bound to the user in the office, plus any role they act for (Plt) now."""
        rows = session.exec(
            select(RoleBinding.role)
            .where(RoleBinding.user_id == user_id)
            .where(RoleBinding.office == office)
            .where(RoleBinding.active == True)  # noqa: E712
        )
        acting = self.sla.acting(session, office, self.clock.now())
        return set(rows) | {role for role, ids in acting.items() if user_id in ids}

    def may_act(self, session: Session, case: Case, user: User) -> bool:
        if case.status != "open" or user.id is None or not user.active:
            return False
        step = self.current_step(case)
        mine = self.roles_of(session, user.id, case.office) & set(step.roles)
        if mine == {"tim"}:  # a field-team step: only the team assigned to the case (if any)
            team = self._team_ids(session, case)
            return not team or user.id in team
        return bool(mine)

    def may_view(self, session: Session, case: Case, user: User) -> bool:
        """The requester, anyone who acted on it, and the office's officials."""
        if user.id is None:
            return False
        if case.requester_id == user.id:
            return True
        return bool(self.roles_of(session, user.id, case.office))

    # -- agenda book ---------------------------------------------------------------------

    def _next_agenda(self, session: Session, office: str, year: int) -> int:
        return next_number(session, AgendaCounter, office, year)

    # -- starting ------------------------------------------------------------------------

    def submit_request(
        self,
        session: Session,
        requester: User,
        sop_code: str,
        *,
        subject: str,
        purpose: str,
        files: list[FileIn],
        request_key: str,
    ) -> tuple[Case, bool]:
        """Register a member's request as a surat masuk. Returns (case, newly_created)."""
        existing = session.exec(select(Case).where(Case.request_key == request_key)).first()
        if existing is not None:
            return existing, False
        sop = self.registry.get(sop_code)
        if sop is None or sop.started_by != REQUESTER:
            raise BadInput("error.unknown_service")
        if requester.registered_at is None or requester.id is None:
            raise NotAllowed("error.not_registered")
        purpose = purpose.strip()
        if not purpose:
            raise BadInput("error.empty_answer")
        if len(purpose) > MAX_PURPOSE:
            raise BadInput("error.too_long", limit=MAX_PURPOSE)
        case = self._open_case(session, sop, requester, subject=subject, purpose=purpose,
                               requester_id=requester.id, request_key=request_key)
        assert case.id is not None
        self._add_files(session, case, requester.id, files, sop.first.number)
        self._audit(session, case, requester.id, REQUESTER, "ajukan", "submit", purpose,
                    to_step=sop.first.number)
        self._announce_step(session, case, sop.first, from_user=requester, note="")
        return case, True

    def start_internal(
        self,
        session: Session,
        official: User,
        sop_code: str,
        *,
        subject: str,
        purpose: str,
        request_key: str,
    ) -> tuple[Case, bool]:
        """Start an office-internal SOP (e.g. the Kepala Dinas orders an activity)."""
        existing = session.exec(select(Case).where(Case.request_key == request_key)).first()
        if existing is not None:
            return existing, False
        sop = self.registry.get(sop_code)
        if sop is None or sop.started_by == REQUESTER or official.id is None:
            raise BadInput("error.unknown_service")
        if sop.started_by not in self.roles_of(session, official.id, sop.office):
            raise NotAllowed("error.not_allowed")
        case = self._open_case(session, sop, official, subject=subject, purpose=purpose,
                               requester_id=None, request_key=request_key)
        self._audit(session, case, official.id, sop.started_by, "mulai", "submit", purpose,
                    to_step=sop.first.number)
        self._announce_step(session, case, sop.first, from_user=official, note="")
        return case, True

    def _open_case(
        self,
        session: Session,
        sop: Sop,
        starter: User,
        *,
        subject: str,
        purpose: str,
        requester_id: int | None,
        request_key: str,
    ) -> Case:
        assert starter.id is not None
        office = self.registry.office(sop.office)
        now = self.clock.now()
        year = now.astimezone(_zone(office.timezone)).year
        seq = self._next_agenda(session, office.code, year)
        case = Case(
            office=office.code,
            sop_code=sop.code,
            agenda_year=year,
            agenda_seq=seq,
            agenda_number=office.agenda_format.format(seq=seq, code=office.short_name, year=year),
            requester_id=requester_id,
            started_by_id=starter.id,
            subject=subject.strip()[:MAX_SUBJECT] or sop.name[:MAX_SUBJECT],
            purpose=purpose.strip()[:MAX_PURPOSE],
            step_no=sop.first.number,
            step_started_at=to_db(now),
            created_at=to_db(now),
            request_key=request_key,
        )
        session.add(case)
        session.flush()
        self.sla.enter(session, case, sop.first)
        return case

    # -- acting --------------------------------------------------------------------------

    def check(
        self, session: Session, case_id: int, user: User, *, version: int, action_code: str
    ) -> tuple[Case, Step, Action]:
        """Refuse a press that is stale, forged or not this user's to make; lock the case."""
        case = session.exec(select(Case).where(Case.id == case_id).with_for_update()).first()
        if case is None:
            raise NotFound()
        # Authorisation first: someone with no role in the office learns nothing about the
        # case (not its agenda number, not that it moved on).
        if user.id is None or not user.active or not self.roles_of(session, user.id,
                                                                   case.office):
            raise NotAllowed()
        if case.status == "finished":
            raise Stale("error.case_closed", agenda=case.agenda_number)
        if case.version != version or case.status != "open":
            raise Stale(agenda=case.agenda_number)
        step = self.sop_of(case).step(case.step_no)
        action = step.action(action_code)
        if action is None:
            raise Stale(agenda=case.agenda_number)
        if user.id is None or not self.may_act(session, case, user):
            raise NotAllowed()
        if step.assigns_team and action.kind.moves_forward and not self._team_ids(session, case):
            raise BadInput("error.team_required")  # refused at the press, before any note
        return case, step, action

    def act(
        self,
        session: Session,
        case_id: int,
        user: User,
        *,
        version: int,
        action_code: str,
        note: str = "",
    ) -> Moved:
        """Apply one button press after checking case, version, step, role and note."""
        case, step, action = self.check(session, case_id, user, version=version,
                                        action_code=action_code)
        assert user.id is not None
        note = note.strip()
        if action.note_required and not note:
            raise BadInput("error.note_required")
        if len(note) > MAX_NOTE:
            raise BadInput("error.too_long", limit=MAX_NOTE)
        if step.assigns_team and action.kind.moves_forward and not self._team_ids(session, case):
            raise BadInput("error.team_required")
        role = sorted(self.roles_of(session, user.id, case.office) & set(step.roles))[0]
        return self._apply(session, self.sop_of(case), case, step, action, user, role, note)

    def _apply(
        self,
        session: Session,
        sop: Sop,
        case: Case,
        step: Step,
        action: Action,
        user: User,
        role: str,
        note: str,
    ) -> Moved:
        assert user.id is not None
        assert case.id is not None
        if action.kind is ActionKind.FINISH:
            self._audit(session, case, user.id, role, action.code, action.kind, note, None)
            self.sla.leave(session, case, "finish")
            case.status = "finished"
            case.finished_at = to_db(self.clock.now())
            self._bump(session, case)
            if case.requester_id is not None:
                notify(session, self.clock, case.requester_id, "notify.member_finished",
                       case_id=case.id, agenda=case.agenda_number, subject=case.subject,
                       note=note)
            for hook in self.on_finish:
                hook(session, case)
            return Moved(case, action, None, finished=True)
        if action.to_requester:
            assert case.requester_id is not None
            self._audit(session, case, user.id, role, action.code, action.kind, note, None)
            self.sla.pause(session, case)
            case.status = "with_requester"
            self._bump(session, case)
            notify(session, self.clock, case.requester_id, "notify.member_returned",
                   case_id=case.id, case_version=case.version, actions=["fix"],
                   agenda=case.agenda_number, subject=case.subject, note=note,
                   by_role=role, step_no=step.number)
            return Moved(case, action, None, to_requester=True)
        target: Step | None
        if action.kind is ActionKind.RETURN:
            assert action.target is not None
            target = sop.step(action.target)
        else:
            target = sop.step(action.target) if action.target else sop.next_after(step.number)
        assert target is not None  # the loader refuses a forward off the last step
        self._audit(session, case, user.id, role, action.code, action.kind, note, target.number)
        self._enter(session, case, target, outcome=str(action.kind))
        self._announce_step(session, case, target, from_user=user, note=note,
                            returned=action.kind is ActionKind.RETURN)
        return Moved(case, action, target)

    def resubmit(
        self,
        session: Session,
        case_id: int,
        requester: User,
        *,
        version: int,
        note: str,
        files: list[FileIn],
    ) -> Case:
        """The member sends the correction asked for; the case goes back where it was."""
        case = session.exec(select(Case).where(Case.id == case_id).with_for_update()).first()
        if case is None or requester.id is None or case.requester_id != requester.id:
            raise NotFound()
        if case.status != "with_requester" or case.version != version:
            raise Stale(agenda=case.agenda_number)
        note = note.strip()
        if not note and not files:
            raise BadInput("error.empty_answer")
        if len(note) > MAX_NOTE:
            raise BadInput("error.too_long", limit=MAX_NOTE)
        sop = self.sop_of(case)
        step = sop.step(case.step_no)
        self._add_files(session, case, requester.id, files, step.number)
        self._audit(session, case, requester.id, REQUESTER, "perbaiki", "resubmit", note,
                    step.number)
        case.status = "open"
        self._enter(session, case, step, resume=True)
        self._announce_step(session, case, step, from_user=requester, note=note, returned=True)
        return case

    # -- helpers -------------------------------------------------------------------------

    def _bump(self, session: Session, case: Case) -> None:
        case.version += 1
        session.add(case)

    def _enter(
        self, session: Session, case: Case, step: Step, *, outcome: str = "", resume: bool = False
    ) -> None:
        """Move the case to `step`, stopping the old step's clock and starting the new one."""
        if resume:
            case.step_no = step.number
            case.step_started_at = to_db(self.clock.now())
            self.sla.resume(session, case, step)
        else:
            self.sla.leave(session, case, outcome)
            case.step_no = step.number
            case.step_started_at = to_db(self.clock.now())
            self.sla.enter(session, case, step)
        self._bump(session, case)
        session.flush()

    def _audit(
        self,
        session: Session,
        case: Case,
        actor_id: int,
        role: str,
        action: str,
        kind: str,
        note: str,
        to_step: int | None,
    ) -> None:
        assert case.id is not None
        session.add(AuditEntry(
            case_id=case.id, at=to_db(self.clock.now()), step_no=case.step_no, action=action,
            kind=str(kind), actor_id=actor_id, actor_role=role, note=note, to_step=to_step,
        ))

    def _add_files(
        self, session: Session, case: Case, user_id: int, files: list[FileIn], step_no: int
    ) -> None:
        assert case.id is not None
        now = to_db(self.clock.now())
        for f in files:
            session.add(Attachment(
                case_id=case.id, kind=f.kind, file_ref=f.file_ref, channel=f.channel,
                blob_hash=f.blob or None, file_name=f.file_name[:256],
                mime=f.mime[:128], size=f.size, label=f.label[:128], step_no=step_no,
                uploaded_by=user_id, created_at=now,
            ))
        session.flush()

    @staticmethod
    def _team_ids(session: Session, case: Case) -> list[int]:
        return list(session.exec(
            select(TeamMember.user_id).where(TeamMember.case_id == case.id)
            .where(col(TeamMember.removed_at).is_(None)).order_by(col(TeamMember.id))
        ))

    @staticmethod
    def _team_rows(session: Session, case: Case) -> list[TeamMember]:
        return list(session.exec(
            select(TeamMember).where(TeamMember.case_id == case.id)
            .where(col(TeamMember.removed_at).is_(None)).order_by(col(TeamMember.id))
        ))

    @staticmethod
    def _current_attachments(session: Session, case: Case) -> list[int]:
        """The case's files; of each working document (by title) only its latest version."""
        ids = session.exec(
            select(Attachment.id).where(Attachment.case_id == case.id)
            .order_by(col(Attachment.id))
        ).all()
        versions = session.exec(
            select(DocumentVersion.title, DocumentVersion.attachment_id)
            .where(DocumentVersion.case_id == case.id).order_by(col(DocumentVersion.version))
        ).all()
        latest = dict(versions)  # title → newest version (later rows win)
        superseded = {attachment for _, attachment in versions} - set(latest.values())
        return [i for i in ids if i is not None and i not in superseded]

    def _previous_holder(self, session: Session, case: Case, step: Step) -> User | None:
        """Who last acted at this step, if they still hold its role (returns go to them)."""
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.case_id == case.id)
            .where(AuditEntry.step_no == step.number)
            .where(col(AuditEntry.actor_role).in_(step.roles))
            .order_by(col(AuditEntry.id).desc())
        ).first()
        if entry is None:
            return None
        user = session.get(User, entry.actor_id)
        if user is None or not (self.roles_of(session, entry.actor_id, case.office)
                                & set(step.roles)):
            return None
        return user

    def _announce_step(
        self,
        session: Session,
        case: Case,
        step: Step,
        *,
        from_user: User,
        note: str,
        returned: bool = False,
    ) -> None:
        """Tell the step's holders (with buttons), its `bersama` roles (a copy) and the member."""
        assert case.id is not None
        sop = self.sop_of(case)
        previous = self._previous_holder(session, case, step) if returned else None
        targets = [previous] if previous else self.sla.holders(session, case.office, step.roles)
        team = self._team_ids(session, case) if "tim" in step.roles and not previous else []
        if team:  # a field-team step goes to the team assigned to this case, not every Tim
            targets = [u for u in (session.get(User, i) for i in team) if u is not None]
        attachments = self._current_attachments(session, case)
        team_rows = self._team_rows(session, case)
        params: dict[str, Any] = {
            "agenda": case.agenda_number,
            "subject": case.subject,
            "purpose": case.purpose,
            "sop": sop.name,
            "step_no": step.number,
            "activity": step.activity,
            "roles": list(step.roles),
            "waktu": step.waktu.text,
            "from_name": from_user.full_name or from_user.display_name,
            "note": note,
            "since_at": from_db(case.step_started_at).isoformat(),
            "due_at": from_db(case.due_at).isoformat() if case.due_at else "",
            "office": case.office,
        }
        if team_rows:  # the field team travels with every later task (names, duty date)
            params["team"] = [_name(session.get(User, m.user_id)) for m in team_rows]
            params["duty_date"] = team_rows[0].duty_date.isoformat()
        key = "notify.task_returned" if returned else "notify.task"
        for user in targets:
            assert user.id is not None
            # Each document goes to a person once: with their first notification about the
            # case, and later ones (a member's correction) when they arrive.
            # A row that failed for good (a blocked chat) gave only what it had sent.
            sent = session.exec(
                select(Notification.attachment_ids, Notification.status, Notification.params)
                .where(Notification.case_id == case.id)
                .where(Notification.recipient_id == user.id)
            ).all()
            already = {a for ids, status, row_params in sent
                       for a in (row_params.get(FILES_SENT, []) if status == "failed" else ids)}
            files = [a for a in attachments if a is not None and a not in already]
            notify(session, self.clock, user.id, key, case_id=case.id,
                   case_version=case.version, actions=[a.code for a in step.actions],
                   attachment_ids=files, **params)
        if case.requester_id is not None and case.requester_id != from_user.id:
            notify(session, self.clock, case.requester_id, "notify.member_progress",
                   case_id=case.id, agenda=case.agenda_number, step_no=step.number,
                   activity=step.activity, roles=list(step.roles),
                   since_at=params["since_at"], office=case.office)
        self._send_copies(session, case, step, told=targets, from_user=from_user, params=params)

    def _send_copies(
        self,
        session: Session,
        case: Case,
        step: Step,
        *,
        told: list[User],
        from_user: User,
        params: dict[str, Any],
    ) -> None:
        """Give the holders of the step's `bersama` roles (Plt included) an information copy.

        No action buttons (the lembar disposisi only); not to the step's own holders, to those
        just given the task, or to whoever moved the case (their confirmation says it).
        """
        if not step.also:
            return
        skip = {u.id for u in self.sla.holders(session, case.office, step.roles)}
        skip |= {u.id for u in told} | {from_user.id}
        for user in self.sla.holders(session, case.office, step.also):
            if user.id is None or user.id in skip:
                continue
            notify(session, self.clock, user.id, "notify.copy", case_id=case.id,
                   case_version=case.version, actions=[], **params)


def _name(user: User | None) -> str:
    return (user.full_name or user.display_name) if user is not None else "-"


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
