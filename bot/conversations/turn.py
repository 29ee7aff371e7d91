"""One update's unit of work: the transaction, the person, their language, where they wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from bot.admin import AdminScope
from bot.conversations.dialog import D, DialogData, State, dump, load
from bot.conversations.events import Sender
from bot.dialogs import get_dialog, set_dialog
from bot.models import Dialog, User
from bot.services import Services


@dataclass
class Turn:
    svc: Services
    session: Session
    user: User
    lang: str
    sender: Sender
    # A press refused as stale/closed/not allowed ends the open dialog only when that dialog
    # is about the pressed case (set by the flow before it acts); a message always does.
    ends_dialog_on_refusal: bool = False
    # The dialog row, held: the session's identity map keeps objects only while something
    # refers to them, so each lookup would otherwise read the row again.
    _dialog: Dialog | None = field(default=None, init=False, repr=False)
    _dialog_read: bool = field(default=False, init=False, repr=False)

    def t(self, key: str, **params: Any) -> str:
        return self.svc.tr.text(self.lang, key, **params)

    @property
    def user_id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    # -- who is this -------------------------------------------------------------------

    def is_admin(self) -> bool:
        return self.svc.is_admin(self.sender.account)

    def admin_offices(self) -> list[str]:
        return self.svc.admin_offices(self.sender.account)

    def scope(self) -> AdminScope:
        return self.svc.admin_scope(self.sender.account)

    # -- the dialog --------------------------------------------------------------------

    def dialog(self) -> Dialog | None:
        if not self._dialog_read:
            self._dialog, self._dialog_read = get_dialog(self.session, self.user_id), True
        return self._dialog

    def knows_dialog(self, dialog: Dialog | None) -> None:
        """The dialog as read with the person (`bot.people.arrive`)."""
        self._dialog, self._dialog_read = dialog, True

    def forget_dialog(self) -> None:
        """Read the dialog again next time (after a rollback to a savepoint)."""
        self._dialog, self._dialog_read = None, False

    def state(self) -> State | None:
        dialog = self.dialog()
        if dialog is None:
            return None
        try:
            return State(dialog.state)
        except ValueError:
            return None

    def data(self, model: type[D]) -> D:
        """The current dialog's data as `model` (empty when there is none)."""
        dialog = self.dialog()
        return load(model, dict(dialog.data) if dialog else {})

    def go(self, state: State, data: DialogData | dict[str, object] | None = None) -> None:
        """Move the dialog to `state` with `data` (commits with the turn)."""
        self._dialog = set_dialog(self.session, self.svc.clock, self.user_id, state.value,
                                  dump(data or {}))
        self._dialog_read = True

    def end(self) -> bool:
        """Leave any dialog; True when there was one."""
        dialog, self._dialog, self._dialog_read = self.dialog(), None, True
        if dialog is None:
            return False
        self.session.delete(dialog)
        return True
