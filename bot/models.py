"""Database tables. The database is the truth: cases, dialogs, outbox, audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: type(default)(), sa_column=Column(JSON, nullable=False))


DEFAULT_CHANNEL = "telegram"


def _channel() -> Any:
    """A channel name column ("telegram", "whatsapp"); old rows are Telegram's."""
    return Field(default=DEFAULT_CHANNEL, max_length=16,
                 sa_column_kwargs={"server_default": DEFAULT_CHANNEL})


class User(SQLModel, table=True):
    """A person; members fill the profile fields when they register.

    A person reaches the bot through one or more `ChannelAccount`s. `channel`,
    `external_id` and `chat_id` are the preferred one (the account used last), where the
    bot writes to them.
    """

    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(default="telegram", max_length=16)
    external_id: str = Field(max_length=64, index=True)
    chat_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=128)
    language: str | None = Field(default=None, max_length=8)  # chosen with /bahasa
    client_language: str | None = Field(default=None, max_length=16)
    full_name: str | None = Field(default=None, max_length=128)
    kim_group: str | None = Field(default=None, max_length=128)
    village: str | None = Field(default=None, max_length=128)
    district: str | None = Field(default=None, max_length=128)
    phone: str | None = Field(default=None, max_length=32)
    office: str | None = Field(default=None, max_length=24)
    registered_at: datetime | None = None
    active: bool = True
    subscribed: bool = True  # receives announcements (/berhenti, /langganan)
    erased_at: datetime | None = None  # personal data removed on request (UU PDP)
    created_at: datetime


class ChannelAccount(SQLModel, table=True):
    """One account of a person on one channel (a Telegram user id, a WhatsApp number)."""

    __table_args__ = (UniqueConstraint("channel", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    channel: str = Field(max_length=16)
    account_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    created_at: datetime
    last_seen_at: datetime
    # The person's last own message on this account (WhatsApp's 24-hour window).
    last_inbound_at: datetime | None = None


class RoleBinding(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    office: str = Field(max_length=24, index=True)
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime
    revoked_at: datetime | None = None
    invitation_code: str | None = Field(default=None, max_length=32)


class Invitation(SQLModel, table=True):
    """One-time deep-link code that binds whoever opens it to a role."""

    code: str = Field(primary_key=True, max_length=32)
    office: str = Field(max_length=24)
    role: str = Field(max_length=16)
    created_by: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    used_by: int | None = Field(default=None, foreign_key="user.id")
    used_at: datetime | None = None


class AgendaCounter(SQLModel, table=True):
    """Last agenda number given per office per year (Buku Agenda)."""

    office: str = Field(primary_key=True, max_length=24)
    year: int = Field(primary_key=True)
    last: int = 0


class Case(SQLModel, table=True):
    """A surat masuk and its journey through an SOP."""

    __table_args__ = (
        UniqueConstraint("office", "agenda_year", "agenda_seq"),
        # /tugas: the open cases at given steps, longest waiting first (migration 0009).
        Index("ix_case_open_steps", "status", "office", "sop_code", "step_no", "step_started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    office: str = Field(max_length=24, index=True)
    sop_code: str = Field(max_length=24)
    agenda_year: int
    agenda_seq: int
    agenda_number: str = Field(max_length=64)
    requester_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    started_by_id: int = Field(foreign_key="user.id", index=True)
    subject: str = Field(max_length=256)  # perihal
    purpose: str = Field(max_length=2000)  # maksud dan tujuan
    status: str = Field(default="open", max_length=16, index=True)
    step_no: int
    version: int = 1  # bumped on every move; buttons carry it so stale ones are refused
    step_started_at: datetime
    created_at: datetime
    finished_at: datetime | None = None
    request_key: str = Field(max_length=64, unique=True)  # idempotency of submission
    # SLA of the current step (derived from step_started_at and the SOP's Waktu).
    due_at: datetime | None = None
    remind_at: datetime | None = None
    escalate_at: datetime | None = None
    sla_stage: int = 0  # 0 none sent, 1 reminded, 2 overdue notice sent, 3 escalated
    sla_next_at: datetime | None = Field(default=None, index=True)  # when the watcher looks next
    paused_remaining_s: int | None = None  # office seconds left when handed to the member


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str = Field(max_length=16)  # photo | document
    file_ref: str = Field(max_length=256)  # the file id on `channel`
    channel: str = _channel()  # where file_ref comes from
    blob_hash: str | None = Field(default=None, max_length=64, index=True)  # bytes in the store
    file_name: str = Field(default="", max_length=256)
    mime: str = Field(default="", max_length=128)
    size: int = 0
    label: str = Field(default="", max_length=128)  # which Kelengkapan it answers
    step_no: int = 0
    uploaded_by: int = Field(foreign_key="user.id")
    created_at: datetime


class AuditEntry(SQLModel, table=True):
    """One line of the lembar disposisi: who did what, when, with which note."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime
    step_no: int
    action: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    actor_id: int = Field(foreign_key="user.id")
    actor_role: str = Field(default="", max_length=16)
    note: str = Field(default="", max_length=2000)
    to_step: int | None = None


class FileRef(SQLModel, table=True):
    """A stored file's reference on one channel (cache: upload once, then reuse the id)."""

    blob_hash: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=16)
    ref: str = Field(max_length=256)


class Notification(SQLModel, table=True):
    """Outbox row, written in the same transaction as the change that causes it."""

    __table_args__ = (
        Index("ix_notification_channel_status", "channel", "status"),
        Index("ix_notification_case_recipient", "case_id", "recipient_id"),  # 0009
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="user.id", index=True)
    channel: str = _channel()  # the recipient's preferred channel when it was written
    case_id: int | None = Field(default=None, foreign_key="case.id")
    case_version: int | None = None
    key: str = Field(max_length=64)
    params: dict[str, Any] = _json({})
    actions: list[str] = _json([])  # action codes to offer as buttons
    attachment_ids: list[int] = _json([])
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str = Field(default="", max_length=512)


class Dialog(SQLModel, table=True):
    """Where a person is in a guided conversation; survives restarts."""

    user_id: int = Field(primary_key=True, foreign_key="user.id")
    state: str = Field(max_length=32)
    data: dict[str, Any] = _json({})
    updated_at: datetime


class ProcessedUpdate(SQLModel, table=True):
    """Updates already handled, so a replayed one changes nothing."""

    key: str = Field(primary_key=True, max_length=64)
    at: datetime = Field(index=True)  # retention prunes by age


class StepVisit(SQLModel, table=True):
    """One stay of a case at a step: its standard beside the office time it really took."""

    __table_args__ = (Index("ix_stepvisit_office_left_at", "office", "left_at"),)  # 0009

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    office: str = Field(max_length=24)
    sop_code: str = Field(max_length=24)
    step_no: int
    entered_at: datetime
    due_at: datetime
    left_at: datetime | None = None
    standard_text: str = Field(max_length=32)
    standard_s: int  # office seconds the standard allows from entry
    actual_s: int | None = None  # office seconds it took (member waiting excluded)
    on_time: bool | None = None
    outcome: str = Field(default="", max_length=16)  # forward / return / finish / member


class ActingOfficial(SQLModel, table=True):
    """A Plt (pelaksana tugas): acts for a role in an office during a period."""

    id: int | None = Field(default=None, primary_key=True)
    office: str = Field(max_length=24, index=True)
    role: str = Field(max_length=16)
    user_id: int = Field(foreign_key="user.id")
    starts_at: datetime
    ends_at: datetime
    created_by: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class DocumentVersion(SQLModel, table=True):
    """A version of a case's working document (draft naskah dinas, report); all are kept."""

    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    version: int
    step_no: int
    attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    title: str = Field(default="", max_length=128)
    kind: str = Field(max_length=16)  # photo | document
    file_ref: str = Field(max_length=256)
    channel: str = _channel()
    blob_hash: str | None = Field(default=None, max_length=64, index=True)
    file_name: str = Field(default="", max_length=256)
    mime: str = Field(default="", max_length=128)
    size: int = 0
    note: str = Field(default="", max_length=1000)
    uploaded_by: int = Field(foreign_key="user.id")
    created_at: datetime


class TeamMember(SQLModel, table=True):
    """A person of the field team assigned to a case (seed 001, step 11)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    duty_date: date
    assigned_by: int = Field(foreign_key="user.id")
    created_at: datetime
    removed_at: datetime | None = None


class Broadcast(SQLModel, table=True):
    """An announcement to an audience; deliveries are tracked per recipient."""

    id: int | None = Field(default=None, primary_key=True)
    office: str | None = Field(default=None, max_length=24)
    created_by: int = Field(foreign_key="user.id")
    text: str = Field(max_length=4096)
    media_kind: str = Field(default="", max_length=16)  # "" | photo | document
    media_ref: str = Field(default="", max_length=256)
    media_channel: str = _channel()  # the channel media_ref belongs to
    media_blob: str | None = Field(default=None, max_length=64)  # bytes in the file store
    audience: dict[str, Any] = _json({})
    status: str = Field(default="draft", max_length=16, index=True)
    total: int = 0
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    progress_chat_id: str = Field(default="", max_length=64)
    progress_message_id: int | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class BroadcastDelivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("broadcast_id", "user_id"),
        Index("ix_broadcastdelivery_channel_status", "channel", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcast.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    channel: str = _channel()  # the recipient's preferred channel when the broadcast started
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    error: str = Field(default="", max_length=256)
    sent_at: datetime | None = None


class AdminQuery(SQLModel, table=True):
    """A listing an admin asked for (/anggota with its filters), so ◀ ▶ buttons can page it.

    Button data holds only this row's id and a page number (≤ 64 bytes); the filters, which
    may be long or non-ASCII, stay here. Rows older than a week are pruned.
    """

    id: int | None = Field(default=None, primary_key=True)
    admin_id: str = Field(max_length=64)  # external id of the admin who may page it
    kind: str = Field(max_length=16)
    params: dict[str, Any] = _json({})
    created_at: datetime = Field(index=True)


class ChannelMessage(SQLModel, table=True):
    """A message the bot sent on a channel that reports its fate (WhatsApp statuses):
    which outbox row or broadcast delivery it carried, and its last status."""

    __table_args__ = (UniqueConstraint("channel", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    message_id: str = Field(max_length=128)  # the channel's id (WhatsApp: wamid.…)
    notification_id: int | None = Field(default=None, foreign_key="notification.id", index=True)
    delivery_id: int | None = Field(default=None, foreign_key="broadcastdelivery.id",
                                    index=True)
    status: str = Field(default="accepted", max_length=16)  # sent, delivered, read, failed
    error: str = Field(default="", max_length=256)
    created_at: datetime
    updated_at: datetime


class Survey(SQLModel, table=True):
    """The SKM survey of one finished request (PermenPAN-RB 14/2017): one per case."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    office: str = Field(max_length=24, index=True)
    sop_code: str = Field(max_length=24)
    invited_at: datetime  # when the invitation goes out (within the office's hours)
    state: str = Field(default="invited", max_length=16)  # invited/answering/paused/done/skipped
    answers: dict[str, Any] = _json({})  # element code -> score 1..4
    suggestion: str = Field(default="", max_length=1000)
    completed_at: datetime | None = Field(default=None, index=True)  # all elements answered
    created_at: datetime
    updated_at: datetime


class RespondentProfile(SQLModel, table=True):
    """The SKM respondent profile of a member, asked once ("x" = prefer not to say)."""

    user_id: int = Field(primary_key=True, foreign_key="user.id")
    answers: dict[str, Any] = _json({})  # question code -> option code
    completed_at: datetime | None = None
    updated_at: datetime


class ComplaintCounter(SQLModel, table=True):
    """Last complaint number given per office per year."""

    office: str = Field(primary_key=True, max_length=24)
    year: int = Field(primary_key=True)
    last: int = 0


class Complaint(SQLModel, table=True):
    """A member's complaint (pengaduan, UU 25/2009), with its own number per office and year."""

    __table_args__ = (UniqueConstraint("office", "year", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    office: str = Field(max_length=24, index=True)
    year: int
    seq: int
    number: str = Field(max_length=64)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    text: str = Field(max_length=2000)
    file_kind: str = Field(default="", max_length=16)  # "" | photo | document
    file_ref: str = Field(default="", max_length=256)
    file_channel: str = Field(default="", max_length=16)
    blob_hash: str | None = Field(default=None, max_length=64)
    file_name: str = Field(default="", max_length=256)
    mime: str = Field(default="", max_length=128)
    handler_role: str = Field(default="", max_length=16)  # the role it went to ("" = admins)
    handler_ids: list[int] = _json([])  # who may answer it
    excluded_ids: list[int] = _json([])  # officials it is about: never shown to them
    status: str = Field(default="open", max_length=16, index=True)  # open | answered
    due_at: datetime
    created_at: datetime
    answered_at: datetime | None = None
    answered_by: int | None = Field(default=None, foreign_key="user.id")
    answer: str = Field(default="", max_length=2000)
