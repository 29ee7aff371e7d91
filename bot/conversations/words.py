"""Commands typed as words, for channels without slash commands (WhatsApp).

A text whose first word is a command name or alias (case-insensitive, a leading "/" is
allowed) is that command, with the other words as its arguments: always for the words that
leave a dialog (`batal`, `menu`), otherwise only when no dialog waits for the person's text
(a name or a note may well start with "status").
"""

from __future__ import annotations

from bot.conversations.events import Command, Event, Text
from bot.conversations.turn import Turn

ANYTIME = frozenset({"batal", "cancel", "menu"})
# Words that are not command names: an invitation code is sent as "kode CODE".
EXTRA = {"kode": "start", "code": "start", "daftar": "start", "register": "start"}
MAX_WORDS = 12  # a longer text is a sentence, not a command


def as_command(t: Turn, event: Event) -> Command | None:
    """The command `event` stands for on a channel without slash commands, else None."""
    if not isinstance(event, Text) or t.sender.slash_commands:
        return None
    parts = event.text.split()
    if not parts or len(parts) > MAX_WORDS:
        return None
    from bot.conversations import router  # router imports the flows, which import us

    head = parts[0].lower().removeprefix("/")
    name = EXTRA.get(head, head)
    if router.command(name) is None:
        return None
    if head not in ANYTIME and t.dialog() is not None:
        return None
    return Command(name, tuple(parts[1:]))
