"""Files on Telegram: the file_id to reuse when we have one, else the bytes from our store.

A file sent on another channel has no Telegram file_id until we upload it once; the id
Telegram gives back is remembered (`FileRef`), so the next delivery reuses it.
"""

from __future__ import annotations

from telegram import InputFile, Message

from bot import files as store
from bot.conversations.output import OutFile
from bot.models import Attachment
from bot.services import Services

CHANNEL = "telegram"


def _source(svc: Services, item: OutFile) -> tuple[str, str, str]:
    """(blob, origin channel, origin ref) of what `item` names."""
    if item.attachment_id is not None:
        with svc.db.session() as session:
            row = session.get(Attachment, item.attachment_id)
            if row is not None:
                return (row.blob_hash or "", row.channel or CHANNEL, row.file_ref)
    return item.blob, item.channel or CHANNEL, item.ref


async def media_for(svc: Services, item: OutFile) -> str | InputFile:
    """A Telegram file_id for `item` when one is known, else its bytes to upload."""
    blob, origin, ref = _source(svc, item)
    with svc.db.session() as session:
        known = store.ref_for(session, blob=blob, origin_channel=origin, origin_ref=ref,
                              channel=CHANNEL)
    if known:
        return known
    if not blob or not svc.files.has(blob):
        raise FileNotFoundError(f"attachment {item.attachment_id or ''} has no stored bytes")
    item.blob = blob
    return InputFile(svc.files.get(blob), filename=item.name or None)


def remember(svc: Services, item: OutFile, sent: Message) -> None:
    """Keep the file_id Telegram gave an upload of a stored file."""
    if not item.blob or item.make is not None:
        return
    file_id = (sent.photo[-1].file_id if sent.photo else
               sent.document.file_id if sent.document else "")
    if file_id:
        with svc.db.session() as session:
            store.remember_ref(session, item.blob, CHANNEL, file_id)
