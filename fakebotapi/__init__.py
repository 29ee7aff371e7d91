"""A local fake Telegram Bot API server and a scripted user, for end-to-end tests."""

from fakebotapi.client import FakeUser
from fakebotapi.formatting import TINY_PNG
from fakebotapi.models import ApiError, Call, CallbackAnswer, SentMessage, StoredFile
from fakebotapi.server import FakeBotApi

__all__ = [
    "TINY_PNG",
    "ApiError",
    "Call",
    "CallbackAnswer",
    "FakeBotApi",
    "FakeUser",
    "SentMessage",
    "StoredFile",
]
