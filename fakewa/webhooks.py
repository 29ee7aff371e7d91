"""Build and sign webhook payloads in the shapes Meta documents."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fakewa.models import JSONDict

# A few calling codes -> ISO country, for business-scoped user ids ("ID.123...").
_COUNTRIES = {"62": "ID", "60": "MY", "65": "SG", "63": "PH", "91": "IN", "44": "GB", "1": "US"}


def bsuid(wa_id: str) -> str:
    """Return a stable business-scoped user id for ``wa_id`` (``CC.<digits>``)."""
    country = next((iso for code, iso in _COUNTRIES.items() if wa_id.startswith(code)), "US")
    digits = int(hashlib.sha256(f"bsuid:{wa_id}".encode()).hexdigest()[:16], 16)
    return f"{country}.{digits}"


def encode(payload: JSONDict, *, sort_keys: bool = False) -> bytes:
    """Serialise like Meta: compact JSON with non-ASCII escaped as ``\\uXXXX``."""
    return json.dumps(
        payload, separators=(",", ":"), ensure_ascii=True, sort_keys=sort_keys
    ).encode()


def signature(body: bytes, app_secret: str) -> str:
    """Return the ``X-Hub-Signature-256`` value for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def contact(wa_id: str, name: str | None) -> JSONDict:
    """Return a ``contacts[]`` item of a webhook value."""
    out: JSONDict = {"profile": {"name": name or wa_id}, "wa_id": wa_id, "user_id": bsuid(wa_id)}
    return out


def envelope(
    *,
    waba_id: str,
    phone_id: str,
    display_phone_number: str,
    value: JSONDict,
) -> JSONDict:
    """Wrap a change ``value`` in the ``whatsapp_business_account`` envelope."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display_phone_number,
                                "phone_number_id": phone_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def message_value(wa_id: str, name: str | None, message: JSONDict) -> JSONDict:
    """Return the ``value`` of an inbound message webhook."""
    return {"contacts": [contact(wa_id, name)], "messages": [message]}


def status_value(
    *,
    wamid: str,
    wa_id: str,
    name: str | None,
    status: str,
    timestamp: int,
    conversation_id: str,
    category: str,
    expiration: int | None,
    errors: list[JSONDict] | None = None,
    tracker: str | None = None,
) -> JSONDict:
    """Return the ``value`` of a status webhook (sent/delivered/read/failed)."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": wa_id,
        "recipient_user_id": bsuid(wa_id),
    }
    if tracker is not None:
        item["biz_opaque_callback_data"] = tracker
    if status in ("sent", "delivered"):
        conversation: JSONDict = {"id": conversation_id, "origin": {"type": category}}
        if status == "sent" and expiration is not None:
            conversation["expiration_timestamp"] = str(expiration)
        item["conversation"] = conversation
        free = category == "service"
        item["pricing"] = {
            "billable": not free,
            "pricing_model": "PMP",
            "type": "free_customer_service" if free else "regular",
            "category": category,
        }
    if errors:
        item["errors"] = errors
    return {"contacts": [contact(wa_id, name)], "statuses": [item]}
