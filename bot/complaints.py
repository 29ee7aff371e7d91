"""Complaints (pengaduan, UU No. 25/2009): registered, routed, timed and answered in chat.

A complaint gets its own running number per office and year (`001/PGD/DISKOMINFO-LMJ/2026`),
goes to the office's complaint handler role (`penanganan_pengaduan` in offices.yaml), and
must be answered within a number of working days (a setting). Its reminder and overdue
notice are outbox rows due at those moments, cancelled when it is answered: the database is
the truth, a restart loses nothing. A complaint about a request never reaches the officials
who acted on it: it goes to the next role up, or to the office's admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from bot.calendar import WorkCalendar
from bot.clock import Clock, from_db, to_db
from bot.counters import next_number
from bot.errors import BadInput, NotAllowed, NotFound, Stale
from bot.models import AuditEntry, Case, Complaint, ComplaintCounter, Notification, User
from bot.outbox import notify
from bot.roles import SUPERVISOR
from bot.sla import Sla
from bot.sop import SopRegistry
from bot.sop.model import REQUESTER
from bot.sop.waktu import Duration, TimeUnit
from bot.workflow import FileIn

MAX_TEXT = 2000
DEFAULT_ROLE = "kasi"
NUMBER_FORMAT = "{seq:03d}/PGD/{code}/{year}"
TIMED_KEYS = ("notify.complaint_reminder", "notify.complaint_overdue")


def _next_seq(session: Session, office: str, year: int) -> int:
    return next_number(session, ComplaintCounter, office, year)


def involved(session: Session, case: Case) -> set[int]:
    """Officials who acted on the case: a complaint about it is never theirs to judge."""
    rows = session.exec(select(AuditEntry.actor_id).where(AuditEntry.case_id == case.id)
                        .where(AuditEntry.actor_role != REQUESTER))
    return set(rows)


def route(session: Session, sla: Sla, office: str, role: str,
          excluded: set[int]) -> tuple[str, list[User]]:
    """The handler role's holders, else the next role up, else the office's admins —
    always leaving out the officials the complaint is about."""
    current: str | None = role
    while current is not None:
        found = [u for u in sla.holders(session, office, [current]) if u.id not in excluded]
        if found:
            return current, found
        current = SUPERVISOR.get(current)
    return "", [u for u in sla.office_admins(session, office) if u.id not in excluded]


def handler_role(registry: SopRegistry, office: str) -> str:
    return getattr(registry.office(office), "complaint_role", "") or DEFAULT_ROLE


def register(session: Session, clock: Clock, registry: SopRegistry, sla: Sla, *,
             user: User, office: str, case: Case | None, text: str, file: FileIn | None,
             days: int) -> Complaint:
    """Number the complaint, route it, set its SLA and queue its notices (one transaction)."""
    assert user.id is not None
    text = text.strip()
    if not text:
        raise BadInput("complaint.empty")
    if len(text) > MAX_TEXT:
        raise BadInput("error.too_long", limit=MAX_TEXT)
    if case is not None and case.requester_id != user.id:
        raise NotAllowed()
    where = registry.office(office)
    now = clock.now()
    calendar = WorkCalendar.for_office(where)
    local_year = now.astimezone(calendar.tz).year
    seq = _next_seq(session, office, local_year)
    excluded = involved(session, case) if case is not None else set()
    role, handlers = route(session, sla, office, handler_role(registry, office), excluded)
    due = calendar.add(now, Duration(days, TimeUnit.WORKING_DAY))
    complaint = Complaint(
        office=office, year=local_year, seq=seq,
        number=NUMBER_FORMAT.format(seq=seq, code=where.short_name, year=local_year),
        case_id=case.id if case is not None else None, user_id=user.id, text=text,
        handler_role=role, handler_ids=[u.id for u in handlers if u.id is not None],
        excluded_ids=sorted(excluded), due_at=to_db(due), created_at=to_db(now))
    if file is not None:
        complaint.file_kind, complaint.file_ref = file.kind, file.file_ref
        complaint.file_channel, complaint.blob_hash = file.channel, file.blob or None
        complaint.file_name, complaint.mime = file.file_name, file.mime
    session.add(complaint)
    session.flush()
    params = _params(complaint, case, user)
    buttons = [["button.complaint_answer", f"pg {complaint.id} answer"]]
    if complaint.file_kind:
        buttons.append(["button.complaint_file", f"pg {complaint.id} file"])
    remind = calendar.add(now, Duration(days - 1, TimeUnit.WORKING_DAY)) if days > 1 else None
    for handler in handlers:
        assert handler.id is not None
        notify(session, clock, handler.id, "notify.complaint_new", buttons=buttons, **params)
        if remind is not None:
            _later(session, clock, handler.id, "notify.complaint_reminder", remind,
                   buttons=buttons[:1], **params)
        _later(session, clock, handler.id, "notify.complaint_overdue", due,
               buttons=buttons[:1], **params)
    if role:  # past the due time the office's admins hear of it too (never the involved)
        for admin in sla.office_admins(session, office):
            if admin.id is not None and admin.id not in excluded and admin not in handlers:
                _later(session, clock, admin.id, "notify.complaint_overdue", due, **params)
    return complaint


def _params(complaint: Complaint, case: Case | None, user: User) -> dict[str, Any]:
    return {"complaint_id": complaint.id, "number": complaint.number,
            "agenda": case.agenda_number if case is not None else "-",
            "from_name": user.full_name or user.display_name, "text": complaint.text,
            "deadline_at": from_db(complaint.due_at).isoformat(), "office": complaint.office}


def _later(session: Session, clock: Clock, recipient: int, key: str, at: datetime,
           **params: Any) -> None:
    row = notify(session, clock, recipient, key, **params)
    row.next_attempt_at = to_db(at)


def complaint_for(session: Session, complaint_id: int, user: User, *,
                  admin_offices: list[str]) -> Complaint:
    """A complaint the user may handle: a handler of it or an admin of its office, never
    someone it is about."""
    complaint = session.exec(select(Complaint).where(Complaint.id == complaint_id)
                             .with_for_update()).first()
    if complaint is None:
        raise NotFound("complaint.not_found")
    if user.id in complaint.excluded_ids or (
            user.id not in complaint.handler_ids and complaint.office not in admin_offices):
        raise NotAllowed()
    return complaint


def answer(session: Session, clock: Clock, complaint: Complaint, user: User,
           text: str) -> None:
    """Record the answer, tell the member, cancel the reminders still to come."""
    text = text.strip()
    if complaint.status != "open":
        raise Stale("complaint.answered_already", number=complaint.number)
    if not text:
        raise BadInput("complaint.empty")
    if len(text) > MAX_TEXT:
        raise BadInput("error.too_long", limit=MAX_TEXT)
    now = to_db(clock.now())
    complaint.status, complaint.answer = "answered", text
    complaint.answered_at, complaint.answered_by = now, user.id
    session.add(complaint)
    notify(session, clock, complaint.user_id, "notify.complaint_answered",
           number=complaint.number, answer=text, text=complaint.text, office=complaint.office)
    for row in session.exec(select(Notification).where(col(Notification.key).in_(TIMED_KEYS))
                            .where(Notification.status == "pending")):
        if row.params.get("complaint_id") == complaint.id:
            row.status = "cancelled"
            session.add(row)


def erase_member_files(session: Session, user_id: int) -> set[str]:
    """UU PDP: the files a member attached to complaints lose their references (as their
    letters' files do); the complaint and its answer stay, an office record. Returns the
    stored files to drop once nothing else uses them."""
    blobs: set[str] = set()
    for complaint in session.exec(select(Complaint).where(Complaint.user_id == user_id)):
        if complaint.blob_hash:
            blobs.add(complaint.blob_hash)
        if complaint.file_kind:
            complaint.file_ref = complaint.file_name = ""
            complaint.blob_hash = None
            session.add(complaint)
    return blobs


def case_of_member(session: Session, user: User, agenda: str) -> Case:
    """The member's own request with this agenda number."""
    case = session.exec(select(Case).where(Case.agenda_number == agenda)
                        .where(Case.requester_id == user.id)).first()
    if case is None:
        raise BadInput("complaint.no_such_request", agenda=agenda)
    return case


@dataclass(frozen=True)
class ComplaintStats:
    """Complaints of an office in a period, for /laporan."""

    received: int = 0
    answered: int = 0  # of those received, answered by now
    on_time: int = 0  # of those, within the SLA
    overdue_open: int = 0  # still open past the due time (any age)


def complaint_stats(session: Session, office: str, begin: datetime, end: datetime,
                    now: datetime) -> ComplaintStats:
    rows = session.exec(select(Complaint).where(Complaint.office == office)
                        .where(Complaint.created_at >= to_db(begin))
                        .where(Complaint.created_at < to_db(end))).all()
    answered = [c for c in rows if c.answered_at is not None]
    overdue = session.exec(select(func.count()).select_from(Complaint)
                           .where(Complaint.office == office)
                           .where(Complaint.status == "open")
                           .where(Complaint.due_at < to_db(now))).one()
    return ComplaintStats(
        received=len(rows), answered=len(answered),
        on_time=sum(1 for c in answered if c.answered_at is not None
                    and from_db(c.answered_at) <= from_db(c.due_at)),
        overdue_open=int(overdue))
