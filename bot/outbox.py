"""Notifications written with the change that causes them, delivered later by a sender."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, select

from bot.clock import Clock, to_db
from bot.models import Notification, RoleBinding, User


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
    """Queue one message in the caller's transaction (commits or rolls back with it)."""
    now = to_db(clock.now())
    row = Notification(
        recipient_id=recipient_id,
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
