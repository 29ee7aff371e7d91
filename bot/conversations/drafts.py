"""What the summaries of /permohonan and /mulai share: a press on their buttons is checked
against the dialog, and a second press of "send" finds the case the first one made."""

from __future__ import annotations

from sqlmodel import select

from bot.conversations.dialog import State
from bot.conversations.output import Outcome, alert
from bot.conversations.turn import Turn
from bot.models import Case


def stale_press(t: Turn, draft: str, state: State, key: str, done_key: str) -> Outcome | None:
    """The alert for a summary button that no longer counts; None when it does.

    `key` is the idempotency key the draft's case is (or would be) stored under: if that case
    exists, the press was a second "send" and the person is told its agenda number.
    """
    dialog = t.dialog()
    if dialog is None or dialog.data.get("draft") != draft:
        done = t.session.exec(select(Case).where(Case.request_key == key)).first()
        return alert(t.t(done_key, agenda=done.agenda_number) if done
                     else t.t("error.stale_button"))
    if dialog.state != state:
        return alert(t.t("error.stale_button"))
    return None
