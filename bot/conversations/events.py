"""What a person did, as any channel reports it: the inbound side of a conversation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.conversations.intents import Intent


@dataclass(frozen=True)
class Sender:
    """Who wrote, on which channel, and where replies go."""

    channel: str  # "telegram" | "whatsapp"
    account_id: str  # the channel's id of the person
    chat_id: str  # the person's own chat with the bot (notifications go here)
    display_name: str = ""
    client_language: str | None = None
    private: bool = True  # written in the private chat with the bot (not a group)
    # A channel without slash commands (WhatsApp): command words are typed as plain text.
    slash_commands: bool = True
    phone: str = ""  # the number the channel vouches for (WhatsApp: the sender's own)

    @property
    def account(self) -> str:
        """'telegram:123': the key admin settings use."""
        return f"{self.channel}:{self.account_id}"


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class File:
    """A photo or document. `fetch` brings its bytes (once, before the turn runs)."""

    kind: str  # photo | document
    ref: str  # the channel's own reference (Telegram file_id, WhatsApp media id)
    name: str = ""
    mime: str = ""
    size: int = 0
    caption: str = ""
    fetch: Callable[[], Awaitable[bytes]] | None = field(default=None, compare=False)
    blob: str = ""  # sha256 in the file store, set by the core once fetched


@dataclass(frozen=True)
class Unsupported:
    """Something we never accept (video, voice, sticker, location …)."""

    kind: str


@dataclass(frozen=True)
class Contact:
    phone: str
    own: bool  # the sender's own number (Telegram's contact button; WhatsApp's sender)


@dataclass(frozen=True)
class Press:
    """A button press; `intent` is None when the data did not parse (forged, garbled)."""

    intent: Intent | None
    raw: str = ""


@dataclass(frozen=True)
class Command:
    name: str  # without the slash, lower case
    args: tuple[str, ...] = ()


Event = Text | File | Unsupported | Contact | Press | Command


@dataclass(frozen=True)
class Inbound:
    """One update from a channel. `key` identifies it for replay protection."""

    sender: Sender
    event: Event
    key: str  # e.g. "tg:123456"; a replayed update carries the same key
