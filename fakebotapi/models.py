"""Plain data records kept by the fake Bot API server."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]

BOT_ID = 1000
BOT_USERNAME = "kimbot_fake_bot"
BOT_FIRST_NAME = "KIM-Bot"


class ApiError(Exception):
    """A Telegram-style error answer (``{"ok": false, ...}``)."""

    def __init__(
        self,
        error_code: int,
        description: str,
        parameters: JSONDict | None = None,
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def as_dict(self) -> JSONDict:
        """Return the JSON body Telegram would send."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def bad_request(description: str) -> ApiError:
    """Build a 400 error; ``description`` is given without the "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Upload:
    """A file part received in a multipart request."""

    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class Call:
    """One Bot API request made by the bot."""

    method: str
    params: JSONDict
    at: float
    uploads: dict[str, Upload] = field(default_factory=dict)
    error: JSONDict | None = None
    token: str = ""

    @property
    def ok(self) -> bool:
        """Whether the call was answered successfully."""
        return self.error is None


@dataclass
class StoredFile:
    """A file known to the server (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def file_size(self) -> int | None:
        """Size in bytes, if the content is known."""
        return None if self.data is None else len(self.data)

    def photo_size(self) -> JSONDict:
        """Return a ``PhotoSize`` JSON object."""
        size: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width or 320,
            "height": self.height or 320,
        }
        if self.file_size is not None:
            size["file_size"] = self.file_size
        return size

    def document(self) -> JSONDict:
        """Return a ``Document`` JSON object."""
        doc: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name is not None:
            doc["file_name"] = self.file_name
        if self.mime_type is not None:
            doc["mime_type"] = self.mime_type
        if self.file_size is not None:
            doc["file_size"] = self.file_size
        return doc

    def file(self) -> JSONDict:
        """Return a ``File`` JSON object (the ``getFile`` result)."""
        out: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_path": self.file_path,
        }
        if self.file_size is not None:
            out["file_size"] = self.file_size
        return out


@dataclass
class CallbackAnswer:
    """What the bot answered to one callback query."""

    callback_query_id: str
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass
class SentMessage:
    """A message sent by the bot, kept current through edits and deletion."""

    chat_id: int
    message_id: int
    text: str | None = None
    caption: str | None = None
    reply_markup: JSONDict | None = None
    photo: str | None = None
    document: str | None = None
    kind: str = "text"
    date: int = 0
    edited_count: int = 0
    deleted: bool = False
    parse_mode: str | None = None
    source_text: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    chat: JSONDict = field(default_factory=dict)
    sender: JSONDict = field(default_factory=dict)
    media: JSONDict = field(default_factory=dict)
    extra: JSONDict = field(default_factory=dict)
    history: list[str | None] = field(default_factory=list)

    @property
    def content(self) -> str:
        """The visible text: ``text`` or ``caption`` (empty string if neither)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """Rows of inline buttons (empty when there is no inline keyboard)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    @property
    def has_inline_keyboard(self) -> bool:
        """Whether the message currently carries an inline keyboard."""
        return any(self.inline_keyboard)

    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline buttons as ``(text, callback_data)``; data is None for non-callback buttons."""
        return [
            [(str(b.get("text", "")), b.get("callback_data")) for b in row]
            for row in self.inline_keyboard
        ]

    def as_dict(self) -> JSONDict:
        """Return the ``Message`` JSON object Telegram would hand out now."""
        msg: JSONDict = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": copy.deepcopy(self.chat),
            "from": copy.deepcopy(self.sender),
        }
        if self.text is not None:
            msg["text"] = self.text
            if self.entities:
                msg["entities"] = copy.deepcopy(self.entities)
        if self.caption is not None:
            msg["caption"] = self.caption
            if self.entities:
                msg["caption_entities"] = copy.deepcopy(self.entities)
        msg.update(copy.deepcopy(self.media))
        msg.update(copy.deepcopy(self.extra))
        if self.media_group_id is not None:
            msg["media_group_id"] = self.media_group_id
        if self.has_inline_keyboard and self.reply_markup is not None:
            msg["reply_markup"] = copy.deepcopy(self.reply_markup)
        if self.edit_date is not None:
            msg["edit_date"] = self.edit_date
        return msg

    def describe(self) -> str:
        """One-line human readable summary (for assertion messages)."""
        flags = []
        if self.deleted:
            flags.append("deleted")
        if self.edited_count:
            flags.append(f"edited x{self.edited_count}")
        head = f"#{self.message_id} [{self.kind}{', ' + ', '.join(flags) if flags else ''}]"
        text = self.content.replace("\n", "\\n")
        if len(text) > 200:
            text = text[:197] + "..."
        out = f"{head} {text!r}"
        rows = self.buttons()
        if rows:
            shown = " / ".join(
                " | ".join(f"{t}{'=' + d if d is not None else ''}" for t, d in row) for row in rows
            )
            out += f"  buttons: {shown}"
        elif self.reply_markup and "keyboard" in self.reply_markup:
            out += "  (reply keyboard)"
        return out
