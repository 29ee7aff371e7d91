"""Plain data records kept by the fake WhatsApp Cloud API."""

from __future__ import annotations

import copy
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]

PHONE_ID = "100000000000001"
DISPLAY_PHONE_NUMBER = "6281100000000"
WABA_ID = "200000000000001"
TOKEN = "fake-wa-token"  # noqa: S105 - a test credential for a local fake
APP_SECRET = "fake-app-secret"  # noqa: S105
VERIFY_TOKEN = "fake-verify-token"  # noqa: S105
API_VERSION = "v22.0"

# Meta's error titles (the "message" of the error object) for the codes the fake produces.
ERROR_TITLES: dict[int, str] = {
    100: "(#100) Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    130429: "(#130429) Rate limit hit",
    131008: "(#131008) Required parameter is missing",
    131009: "(#131009) Parameter value is not valid",
    131026: "(#131026) Message undeliverable",
    131047: "(#131047) Re-engagement message",
    131051: "(#131051) Unsupported message type",
    131052: "(#131052) Media download error",
    131053: "(#131053) Media upload error",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    132000: "(#132000) Number of parameters does not match the expected number of params",
    132001: "(#132001) Template name does not exist in the translation",
}

ERROR_DETAILS: dict[int, str] = {
    130429: "Cloud API message throughput has been reached.",
    131026: "Message Undeliverable.",
    131047: (
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number."
    ),
    131056: (
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time."
    ),
}


_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def fbtrace_id() -> str:
    """Return a random trace id like Meta's."""
    return "A" + secrets.token_urlsafe(16)[:22]


class WaError(Exception):
    """A Graph API error answer (``{"error": {...}}``)."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        http_status: int = 400,
        error_type: str = "OAuthException",
        subcode: int | None = None,
    ) -> None:
        self.code = code
        self.message = message or ERROR_TITLES.get(code, f"(#{code}) Error")
        self.details = details if details is not None else ERROR_DETAILS.get(code)
        self.http_status = http_status
        self.error_type = error_type
        self.subcode = subcode
        super().__init__(f"{code} {self.message}: {self.details}")

    def error_object(self) -> JSONDict:
        """Return the inner ``error`` object (also used in failed status webhooks)."""
        err: JSONDict = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.details is not None:
            err["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        err["fbtrace_id"] = fbtrace_id()
        return err

    def as_dict(self) -> JSONDict:
        """Return the JSON body Meta would send."""
        return {"error": self.error_object()}

    def status_error(self) -> JSONDict:
        """Return the ``errors[]`` item of a failed status webhook."""
        out: JSONDict = {
            "code": self.code,
            "title": self.message.split(") ", 1)[-1],
            "message": self.message.split(") ", 1)[-1],
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
        if self.details is not None:
            out["error_data"] = {"details": self.details}
        return out


def invalid(details: str, code: int = 100) -> WaError:
    """Build an "invalid parameter" error (HTTP 400)."""
    return WaError(code, details)


@dataclass
class Upload:
    """A file part received in a multipart request."""

    filename: str | None
    data: bytes
    content_type: str | None = None


@dataclass
class StoredMedia:
    """A media object known to the fake (uploaded by the bot or sent by a user)."""

    id: str
    data: bytes
    mime_type: str
    sha256: str
    filename: str | None = None
    origin: str = "bot"  # "bot" (uploaded through /media) or "user" (sent in a webhook)
    deleted: bool = False

    @property
    def file_size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass
class Call:
    """One Graph API request made by the bot."""

    method: str
    path: str
    at: float
    json: JSONDict | None = None
    form: JSONDict = field(default_factory=dict)
    status: int = 200
    error: JSONDict | None = None

    @property
    def ok(self) -> bool:
        """Whether the request was answered successfully."""
        return self.error is None


@dataclass
class Template:
    """A message template registered with the fake (as in the WhatsApp Manager)."""

    name: str
    language: str
    body: str  # with {{1}}, {{2}} ... or {{name}} placeholders
    buttons: list[str] = field(default_factory=list)  # quick-reply button texts

    @property
    def param_count(self) -> int:
        """Number of body placeholders."""
        return len(set(_PLACEHOLDER.findall(self.body)))

    def render(self, params: list[str], named: dict[str, str]) -> str:
        """Return the body as the user sees it, placeholders filled in."""

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.isdigit() and 0 < int(key) <= len(params):
                return params[int(key) - 1]
            return named.get(key, match.group(0))

        return _PLACEHOLDER.sub(fill, self.body)


@dataclass
class WaMessage:
    """A message the bot sent to one WhatsApp user, as that user sees it."""

    id: str
    to: str
    kind: str
    payload: JSONDict
    at: float
    text: str | None = None
    caption: str | None = None
    interactive_type: str | None = None
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (id, title)
    list_button: str | None = None
    header: str | None = None
    footer: str | None = None
    media_id: str | None = None
    link: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    media_bytes: bytes | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: list[str] = field(default_factory=list)
    template_buttons: list[tuple[str, str]] = field(default_factory=list)  # (payload, title)
    reply_to: str | None = None
    emoji: str | None = None
    statuses: list[str] = field(default_factory=list)
    errors: list[JSONDict] = field(default_factory=list)
    received_at: float = field(default_factory=time.monotonic)  # for latency benches

    @property
    def content(self) -> str:
        """The visible text: body text, else caption, else the template name ("" if none)."""
        if self.text is not None:
            return self.text
        if self.caption is not None:
            return self.caption
        return self.template_name or ""

    @property
    def status(self) -> str | None:
        """The latest delivery status reported by status webhooks."""
        return self.statuses[-1] if self.statuses else None

    @property
    def failed(self) -> bool:
        """Whether a "failed" status was reported for this message."""
        return "failed" in self.statuses

    @property
    def choices(self) -> list[tuple[str, str]]:
        """Everything the user can tap: reply buttons, list rows or template quick replies."""
        return self.buttons or self.template_buttons

    def as_dict(self) -> JSONDict:
        """Return the payload the bot posted."""
        return copy.deepcopy(self.payload)

    def describe(self) -> str:
        """One-line human readable summary (for assertion messages)."""
        kind = f"{self.kind}:{self.interactive_type}" if self.interactive_type else self.kind
        head = f"{self.id[-8:]} [{kind}]"
        if self.status:
            head += f" ({self.status})"
        text = self.content.replace("\n", "\\n")
        if len(text) > 200:
            text = text[:197] + "..."
        out = f"{head} {text!r}"
        if self.template_params:
            out += f" params={self.template_params!r}"
        if self.choices:
            out += "  choices: " + " | ".join(f"{t}={i}" for i, t in self.choices)
        return out


@dataclass
class WebhookDelivery:
    """One webhook payload the fake sent (or tried to send) to the bot."""

    payload: JSONDict
    body: bytes
    signature: str | None
    wa_id: str | None
    kind: str  # "message", "status" or "raw"
    attempts: list[int] = field(default_factory=list)  # HTTP status per attempt; 0 = no answer
    done: bool = False
    created_at: float = field(default_factory=time.monotonic)  # for latency benches
    answered_at: float | None = None  # monotonic time of the last answer

    @property
    def delivered(self) -> bool:
        """Whether an attempt was answered 2xx."""
        return any(200 <= s < 300 for s in self.attempts)

    @property
    def last_status(self) -> int | None:
        """HTTP status of the last attempt (0 = connection failed)."""
        return self.attempts[-1] if self.attempts else None
