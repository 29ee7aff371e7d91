"""Logging for `kimbot run`: a level, plain or JSON lines, and secrets masked in every record.

The mask runs on the handler, so it covers every logger that reaches it (ours, httpx and
python-telegram-bot, which print request URLs with the bot token in them, uvicorn …),
the message, its arguments and its traceback alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import TextIO

MASK = "***"
# A Telegram bot token: the bot's id, a colon, 35 URL-safe characters.
TELEGRAM_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
# An invitation code where one is written: t.me/<bot>?start=CODE, "/start CODE", WhatsApp's
# "start%20CODE", "kode CODE", "Kode: CODE", "code=CODE", "Undangan CODE", "/undangan_batal
# CODE", "Invitation CODE". A code has a digit, capital, _ or - in it (secrets.token_urlsafe),
# which keeps "start listening" or "undangan terbuka" readable.
INVITATION = re.compile(
    r"""(?ix)
    ( \bstart (?: = | %20 | \s+ ) | \b(?:kode|code) ['"]? \s* [:=]? \s* ['"]?
    | \b(?:undangan(?:_batal)?|invitation) \s+ )
    (?-i: (?=[a-z]*[A-Z0-9_-]) [A-Za-z0-9_-]{8,32} ) (?![A-Za-z0-9_-])
    """)
NOISY = ("httpx", "httpcore", "alembic", "apscheduler", "hpack")  # chatty at INFO
_TRACEBACKS = logging.Formatter()
_OURS = "kimbot_handler"


class Redactor(logging.Filter):
    """Masks secrets (exact values) and token and invitation-code patterns in a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole; short values
        # (a test's "x") would mask ordinary words.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = TELEGRAM_TOKEN.sub(MASK, text)
        return INVITATION.sub(lambda m: m.group(1) + MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep the format only
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


PLAIN = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(level: str = "INFO", *, json_lines: bool = False, secrets: Iterable[str] = (),
              stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to `stream` (stderr), masked, as plain or JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_OURS)
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(PLAIN))
    redactor = Redactor(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):  # basicConfig's, or ours from an earlier call
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY:  # their INFO lines are per request; DEBUG shows them again
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
    _log_uncaught()
    return handler


def _log_uncaught() -> None:
    """A crash's traceback goes through the log too (it may quote a token)."""
    def hook(kind: type[BaseException], error: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        logging.getLogger("kimbot").critical("stopped by an unexpected error",
                                             exc_info=(kind, error, tb))

    sys.excepthook = hook
