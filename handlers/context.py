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

from bot.clock import Clock
from bot.db import Database
from bot.i18n import Translator
from bot.models import User
from bot.people import ensure_user, language_of
from bot.settings import Settings
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
        return int(external_id) in self.settings.admin_ids


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
    if svc.kick_outbox is not None:
        svc.kick_outbox()
    if svc.kick_sla is not None:
        svc.kick_sla()
