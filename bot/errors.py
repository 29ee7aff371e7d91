"""Refusals the core gives; each carries a message key for the edge to translate."""

from __future__ import annotations

from typing import Any


class KimError(Exception):
    """A clear, expected refusal (not a bug): shown to the user, changes nothing."""

    key = "error.generic"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        self.key = key or self.key
        self.params = params
        super().__init__(self.key)


class NotFound(KimError):
    key = "error.case_not_found"


class NotAllowed(KimError):
    key = "error.not_allowed"


class Stale(KimError):
    key = "error.stale"


class BadInput(KimError):
    key = "error.bad_input"
