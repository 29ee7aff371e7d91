"""A local fake WhatsApp Cloud API (Graph API + signed webhooks) and a scripted user, for tests."""

from fakewa.client import TINY_JPEG, TINY_MP4, FakeWaUser
from fakewa.models import (
    API_VERSION,
    APP_SECRET,
    PHONE_ID,
    TOKEN,
    VERIFY_TOKEN,
    Call,
    StoredMedia,
    Template,
    WaError,
    WaMessage,
    WebhookDelivery,
)
from fakewa.server import FakeWhatsApp
from fakewa.webhooks import bsuid

__all__ = [
    "API_VERSION",
    "APP_SECRET",
    "PHONE_ID",
    "TINY_JPEG",
    "TINY_MP4",
    "TOKEN",
    "VERIFY_TOKEN",
    "Call",
    "FakeWaUser",
    "FakeWhatsApp",
    "StoredMedia",
    "Template",
    "WaError",
    "WaMessage",
    "WebhookDelivery",
    "bsuid",
]
