"""What every handler needs, built once at start-up and kept in `bot_data`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.admin import AdminScope, admin_offices, scope_of
from bot.clock import Clock
from bot.db import Database
from bot.i18n import Translator
from bot.models import User
from bot.outbox import OUTBOX_WRITTEN
from bot.people import ensure_user, language_of
from bot.settings import Settings
from bot.sla import DEADLINES_CHANGED
from bot.sop import SopRegistry
from bot.workflow import Workflow

KEY = "services"


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: SopRegistry
    workflow: Workflow
    clock: Clock
    tr: Translator
    kick_outbox: Any = field(default=None)  # set by the sender: wakes it after a commit
    kick_sla: Any = field(default=None)  # set by the SLA scheduler: re-arms after a commit

    def is_admin(self, external_id: int | str) -> bool:
        """Admin of at least one office (KIMBOT_ADMIN_IDS or KIMBOT_OFFICE_ADMINS)."""
        return bool(self.admin_offices(external_id))

    def admin_offices(self, external_id: int | str) -> list[str]:
        """Offices this person may manage as admin, in registry order ([] if none)."""
        return admin_offices(self.settings, self.registry.offices, external_id)

    def admin_scope(self, external_id: int | str) -> AdminScope:
        """The same, with the checks every admin command makes on its office argument."""
        return scope_of(self.settings, self.registry.offices, external_id)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    svc: Services = context.application.bot_data[KEY]
    return svc


@dataclass
class Turn:
    """One update's unit of work: the session, the person, their language."""

    svc: Services
    session: Session
    user: User
    lang: str

    def t(self, key: str, **params: Any) -> str:
        return self.svc.tr.text(self.lang, key, **params)


@contextmanager
def turn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Iterator[Turn]:
    """Open a transaction for this update and load (or create) the sender's user row."""
    svc = services(context)
    tg_user = update.effective_user
    chat = update.effective_chat
    assert tg_user is not None
    assert chat is not None
    # Notifications go to the person's own private chat (on Telegram its id is the user id):
    # a command in a group, or a press on a message in someone else's chat, must not
    # redirect them there.
    own_chat = chat.id if chat.type == ChatType.PRIVATE and chat.id == tg_user.id else tg_user.id
    with svc.db.session() as session:
        user = ensure_user(
            session, svc.clock, channel="telegram", external_id=str(tg_user.id),
            chat_id=str(own_chat), display_name=tg_user.full_name,
            client_language=tg_user.language_code,
        )
        yield Turn(svc, session, user, language_of(user, svc.settings.default_language))
        # Most updates neither queue a notification nor move a deadline: wake the sender
        # and re-arm the SLA scheduler only when this one did.
        wrote_outbox = bool(session.info.get(OUTBOX_WRITTEN))
        moved_deadline = bool(session.info.get(DEADLINES_CHANGED))
    if wrote_outbox and svc.kick_outbox is not None:
        svc.kick_outbox()
    if moved_deadline and svc.kick_sla is not None:
        svc.kick_sla()
