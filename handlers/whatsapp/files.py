"""Files on WhatsApp: a media id we uploaded before, else the bytes from our store.

A media id WhatsApp gives an upload is remembered per blob (`FileRef`), so a file is
uploaded once; a file a person sent us is reused by its own media id. (WhatsApp keeps
uploads for 30 days; an expired id is refused and the file uploaded again.)
"""

from __future__ import annotations

import asyncio

from bot import files as store
from bot.conversations.output import OutFile
from bot.models import Attachment
from bot.services import Services

CHANNEL = "whatsapp"


def _source(svc: Services, item: OutFile) -> tuple[str, str, str]:
    """(blob, origin channel, origin ref) of what `item` names."""
    if item.attachment_id is not None:
        with svc.db.session() as session:
            row = session.get(Attachment, item.attachment_id)
            if row is not None:
                return (row.blob_hash or "", row.channel or "", row.file_ref)
    return item.blob, item.channel, item.ref


async def media_for(svc: Services, item: OutFile) -> tuple[str, bytes | None]:
    """(a media id, None) when one is known here, else ("", the stored bytes)."""
    if item.ref and item.channel == CHANNEL:
        return item.ref, None
    blob, origin, ref = _source(svc, item)
    with svc.db.session() as session:
        known = store.ref_for(session, blob=blob, origin_channel=origin, origin_ref=ref,
                              channel=CHANNEL)
    if known:
        return known, None
    if not blob or not svc.files.has(blob):
        raise FileNotFoundError(f"attachment {item.attachment_id or ''} has no stored bytes")
    item.blob = blob
    return "", await asyncio.to_thread(svc.files.get, blob)


def remember(svc: Services, item: OutFile, media_id: str) -> None:
    """Keep the media id of an upload of a stored file."""
    if item.blob and media_id and item.make is None:
        with svc.db.session() as session:
            store.remember_ref(session, item.blob, CHANNEL, media_id)
