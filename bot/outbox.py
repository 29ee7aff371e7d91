"""Notifications written with the change that causes them, delivered later by a sender."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text, update
from sqlmodel import Session, select

from bot.clock import Clock, to_db
from bot.models import DEFAULT_CHANNEL, Notification, RoleBinding, User

OUTBOX_WRITTEN = "kimbot.outbox_written"
NOTIFY_CHANNEL = "kimbot_outbox"  # PostgreSQL NOTIFY channel: outbox rows were committed
_NOTIFIED = "kimbot.outbox_notified"

def notify(
    session: Session,
    clock: Clock,
    recipient_id: int,
    key: str,
    *,
    case_id: int | None = None,
    case_version: int | None = None,
    actions: Iterable[str] = (),
    attachment_ids: Iterable[int] = (),
    **params: Any,
) -> Notification:
    """Queue one message in the caller's transaction (commits or rolls back with it).

    The row goes out on the recipient's preferred channel as it is now (the one they used
    last); that channel's sender is the one that claims it.
    """
    now = to_db(clock.now())
    recipient = session.get(User, recipient_id)
    row = Notification(
        recipient_id=recipient_id,
        channel=recipient.channel if recipient is not None else DEFAULT_CHANNEL,
        case_id=case_id,
        case_version=case_version,
        key=key,
        params=params,
        actions=list(actions),
        attachment_ids=list(attachment_ids),
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.info[OUTBOX_WRITTEN] = True  # tells the edge to wake the sender
    if not session.info.get(_NOTIFIED) and session.get_bind().dialect.name == "postgresql":
        # Workers in other processes LISTEN (handlers/pgnotify.py): sent at commit, not
        # at all on a rollback.
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        session.info[_NOTIFIED] = True
    return row


def holders(session: Session, office: str, roles: Iterable[str]) -> list[User]:
    """Active people bound to any of these roles in the office."""
    statement = (
        select(User)
        .join(RoleBinding, RoleBinding.user_id == User.id)  # type: ignore[arg-type]
        .where(RoleBinding.office == office)
        .where(RoleBinding.role.in_(list(roles)))  # type: ignore[attr-defined]
        .where(RoleBinding.active == True)  # noqa: E712
        .where(User.active == True)  # noqa: E712
        .order_by(User.id)  # type: ignore[arg-type]
    )
    seen: dict[int, User] = {}
    for user in session.exec(statement):
        assert user.id is not None
        seen.setdefault(user.id, user)
    return list(seen.values())


MAX_ATTEMPTS = 8
FILES_SENT = "files_sent"  # params key: attachments already delivered by an earlier try
LEASE = timedelta(seconds=60)


def claim_due(
    session: Session, clock: Clock, limit: int = 50, channel: str = DEFAULT_CHANNEL,
    lease: timedelta = LEASE,
) -> list[Notification]:
    """Take due rows of `channel` for sending; a row claimed by another worker is skipped.

    The conditional UPDATE is the claim: only one worker changes pending → sending.
    """
    now = to_db(clock.now())
    if session.get_bind().dialect.name == "postgresql":
        return _claim_skip_locked(session, now, limit, channel, lease)
    ids = session.exec(
        select(Notification.id).where(Notification.channel == channel)
        .where(Notification.status == "pending")
        .where(Notification.next_attempt_at <= now)
        .order_by(Notification.id).limit(limit)  # type: ignore[arg-type]
    ).all()
    claimed: list[Notification] = []
    for row_id in ids:
        result = session.execute(
            update(Notification).where(Notification.id == row_id)  # type: ignore[arg-type]
            .where(Notification.status == "pending")  # type: ignore[arg-type]
            .values(status="sending", next_attempt_at=now + lease)
        )
        if getattr(result, "rowcount", 0) == 1:
            row = session.get(Notification, row_id)
            if row is not None:
                session.refresh(row)
                claimed.append(row)
    return claimed


def _claim_skip_locked(session: Session, now: datetime, limit: int,
                       channel: str, lease: timedelta) -> list[Notification]:
    """PostgreSQL: one statement; rows another worker is claiming are skipped, not waited on."""
    due = (
        select(Notification.id).where(Notification.channel == channel)
        .where(Notification.status == "pending")
        .where(Notification.next_attempt_at <= now)
        .order_by(Notification.id).limit(limit)  # type: ignore[arg-type]
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Notification).where(Notification.id.in_(due.scalar_subquery()))  # type: ignore[union-attr]
        .values(status="sending", next_attempt_at=now + lease)
        .returning(Notification)
    )
    rows = session.scalars(statement, execution_options={"synchronize_session": False,
                                                          "populate_existing": True})
    return sorted(rows, key=lambda r: r.id or 0)


def mark_sent(session: Session, clock: Clock, row_id: int) -> None:
    row = session.get(Notification, row_id)
    if row is not None:
        row.status, row.sent_at, row.attempts = "sent", to_db(clock.now()), row.attempts + 1
        session.add(row)


def mark_retry(
    session: Session, clock: Clock, row_id: int, error: str, delay: timedelta | None = None
) -> None:
    """Back to pending with back-off; give up after MAX_ATTEMPTS."""
    row = session.get(Notification, row_id)
    if row is None:
        return
    row.attempts += 1
    row.last_error = error[:512]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
    else:
        row.status = "pending"
        wait = delay if delay is not None else timedelta(seconds=min(300, 2 ** row.attempts))
        row.next_attempt_at = to_db(clock.now() + wait)
    session.add(row)


def note_files_sent(session: Session, row_id: int, delivered: list[int]) -> None:
    """Remember attachments of this row already delivered, so a retry does not repeat them.

    `attachment_ids` stays whole: it records what the row carries to its recipient.
    """
    if not delivered:
        return
    row = session.get(Notification, row_id)
    if row is not None:
        done = {int(i) for i in row.params.get(FILES_SENT, [])} | set(delivered)
        row.params = {**row.params, FILES_SENT: sorted(done)}
        session.add(row)


def mark_failed(session: Session, clock: Clock, row_id: int, error: str) -> None:
    row = session.get(Notification, row_id)
    if row is not None:
        row.status, row.attempts, row.last_error = "failed", row.attempts + 1, error[:512]
        session.add(row)


def release_stale(session: Session, clock: Clock, channel: str | None = None) -> int:
    """Rows left 'sending' by a crashed worker go back to pending once their lease ends
    (only `channel`'s rows when given)."""
    now = to_db(clock.now())
    statement = (
        update(Notification).where(Notification.status == "sending")  # type: ignore[arg-type]
        .where(Notification.next_attempt_at <= now)  # type: ignore[arg-type]
    )
    if channel is not None:
        statement = statement.where(Notification.channel == channel)  # type: ignore[arg-type]
    result = session.execute(statement.values(status="pending"))
    return int(getattr(result, "rowcount", 0) or 0)


def defer(session: Session, row_id: int, until: datetime) -> None:
    """Put a claimed row back untouched, to be sent at `until` (pacing, not an error)."""
    row = session.get(Notification, row_id)
    if row is not None:
        row.status, row.next_attempt_at = "pending", to_db(until)
        session.add(row)
