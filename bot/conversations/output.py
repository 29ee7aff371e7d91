"""What the bot answers, channel-neutral: messages, buttons as intents, files, edits.

An adapter renders an `Outcome` with what its channel can do: on Telegram buttons become
inline keyboards and `edit` edits the pressed message; a channel without edits sends the
edit's text as a new message (or drops a bare "remove the buttons").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.conversations.intents import Intent

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """Channels refuse longer texts; cut politely instead of failing."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Button:
    label: str
    intent: Intent


Buttons = list[list[Button]]


@dataclass
class OutFile:
    """A file to send: a stored attachment (channel ref and/or blob) or bytes made on demand.

    `make` runs off the event loop (reports, PDFs, exports take a moment).
    """

    kind: str  # photo | document
    name: str = ""
    caption: str = ""
    attachment_id: int | None = None  # a stored attachment (resolved per channel)
    ref: str = ""  # the channel's reference, when already known for the target channel
    channel: str = ""  # the channel `ref` belongs to
    blob: str = ""  # sha256 in the file store
    make: Callable[[], bytes] | None = field(default=None, compare=False)
    busy: str = ""  # "upload_document" / "upload_photo" shown while `make` runs


@dataclass
class Message:
    text: str = ""
    buttons: Buttons = field(default_factory=list)
    files: list[OutFile] = field(default_factory=list)  # sent before the text
    ask_phone: str = ""  # label of a "share my phone number" button, where the channel has one
    clear_keyboard: bool = False  # remove a reply keyboard shown earlier


@dataclass
class Edit:
    """Change the message whose button was pressed."""

    text: str | None = None  # None: keep the text, only change the buttons
    buttons: Buttons = field(default_factory=list)  # [] removes them
    append: str = ""  # add this line under the original text (e.g. "✅ done")


@dataclass
class Outcome:
    """Everything one turn shows the person, in order: alert, edit, messages, effects."""

    messages: list[Message] = field(default_factory=list)
    answer: str = ""  # a press's alert ("" = a silent acknowledgement)
    edit: Edit | None = None
    effects: list[object] = field(default_factory=list)  # channel work after the commit
    # Reading that takes seconds on a large office (reports, exports): the core runs it after
    # the commit, off the event loop, with a session of its own; its messages come last.
    later: Callable[[], list[Message]] | None = field(default=None, compare=False)

    def add(self, *messages: Message) -> Outcome:
        self.messages.extend(messages)
        return self


def say(text: str, buttons: Buttons | None = None) -> Outcome:
    return Outcome([Message(text, buttons or [])])


def alert(text: str) -> Outcome:
    return Outcome(answer=text)
