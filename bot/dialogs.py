"""Guided-conversation state kept in the database (PTB's own persistence lags 60 s)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.clock import Clock, to_db
from bot.models import Dialog


def get_dialog(session: Session, user_id: int) -> Dialog | None:
    return session.get(Dialog, user_id)


def set_dialog(
    session: Session, clock: Clock, user_id: int, state: str, data: dict[str, Any]
) -> Dialog:
    dialog = session.get(Dialog, user_id)
    if dialog is None:
        dialog = Dialog(user_id=user_id, state=state, data=data, updated_at=to_db(clock.now()))
    else:
        dialog.state, dialog.updated_at = state, to_db(clock.now())
        dialog.data = dict(data)  # a new object, so SQLAlchemy sees the JSON change
    session.add(dialog)
    return dialog
