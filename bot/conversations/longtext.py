"""A refused over-long text must not let its tail through as the next answer.

Phone apps split a message over the channel's limit (4,096 on Telegram) into parts sent
a moment apart, the first one (nearly) full. When such a full part is refused as too long,
a text arriving within `TAIL_WINDOW_S` is taken as the rest of it: refused too, with a
message that says so. A merely long answer (say 101 characters for a name) is not a split
message: the next text is a fresh answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import to_db
from bot.conversations.turn import Turn
from bot.models import Dialog

TAIL_WINDOW_S = 2.0
SPLIT_MIN = 4000  # a refused text this long may be the first part of a split message
_MARK = "_long_refused_at"
TOO_LONG_KEYS = ("error.too_long", "bc.too_long")


def note_refusal(t: Turn, text: str) -> None:
    """Remember (in the dialog, outside the rolled-back savepoint) when a full part of a
    split message was refused."""
    dialog = t.dialog()
    if dialog is None or len(text) < SPLIT_MIN:
        return
    dialog.data = {**dialog.data, _MARK: to_db(t.svc.clock.now()).isoformat()}
    t.session.add(dialog)


def is_tail(t: Turn, dialog: Dialog) -> bool:
    """True (and the window moves on) when this text follows a refused one too closely."""
    mark = dialog.data.get(_MARK)
    if not isinstance(mark, str):
        return False
    try:
        refused = datetime.fromisoformat(mark)
    except ValueError:
        return False
    now = to_db(t.svc.clock.now())
    if timedelta(0) <= now - refused <= timedelta(seconds=TAIL_WINDOW_S):
        dialog.data = {**dialog.data, _MARK: now.isoformat()}
        t.session.add(dialog)
        return True
    return False
