"""The bot's own file store: every attachment kept once, named by its SHA-256.

A file a member sent on one channel must reach an official on another, so the bytes are
the truth and each channel's reference (Telegram file_id, WhatsApp media id) is a cache
(`FileRef`). Only `file://` stores exist today; the URL leaves room for others.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import delete, union
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.db import after_commit
from bot.models import Attachment, Broadcast, Complaint, DocumentVersion, FileRef
from bot.settings import Settings

log = logging.getLogger(__name__)

HASH_LEN = 64


class FileStore:
    """Content-addressed files under one directory: ab/cdef… (first two hex digits fan out)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStore:
        return cls.from_url(settings.file_store)

    @classmethod
    def from_url(cls, url: str) -> FileStore:
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise ValueError(f"KIMBOT_FILE_STORE: only file:// stores are supported, not {url!r}")
        return cls(Path(parsed.netloc + parsed.path).expanduser())

    def path(self, digest: str) -> Path:
        if len(digest) != HASH_LEN or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        """Store `data` (once) and return its digest. Written to a temp file, then renamed,
        so a crash never leaves half a file under a real name."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def has(self, digest: str) -> bool:
        return bool(digest) and self.path(digest).is_file()

    def delete(self, digest: str) -> None:
        """Forget a file (UU PDP erasure)."""
        self.path(digest).unlink(missing_ok=True)


# -- per-channel references ------------------------------------------------------------------


def ref_for(
    session: Session, *, blob: str | None, origin_channel: str, origin_ref: str, channel: str,
) -> str | None:
    """The reference to send a file with on `channel`, or None: upload the bytes.

    The file's own reference when it came from that channel; else one cached for its bytes
    (a FileRef, or another attachment of the same bytes that came from that channel).
    """
    if origin_channel == channel and origin_ref:
        return origin_ref
    if not blob:
        return None
    cached = session.get(FileRef, (blob, channel))
    if cached is not None:
        return cached.ref
    for model in (Attachment, DocumentVersion):
        ref = session.exec(
            select(model.file_ref).where(model.blob_hash == blob)
            .where(model.channel == channel).where(model.file_ref != "").limit(1)
        ).first()
        if ref:
            return str(ref)
    return None


def remember_ref(session: Session, blob: str | None, channel: str, ref: str) -> None:
    """Cache `ref` as the way to send these bytes on `channel` (after an upload there)."""
    if not blob or not ref:
        return
    row = session.get(FileRef, (blob, channel))
    if row is not None:
        if row.ref != ref:
            row.ref = ref
            session.add(row)
        return
    try:
        with session.begin_nested():
            session.add(FileRef(blob_hash=blob, channel=channel, ref=ref[:256]))
    except IntegrityError:  # another worker cached it a moment ago: theirs is as good
        pass


# -- forgetting (UU PDP erasure) -------------------------------------------------------------


def used_blobs(session: Session, blobs: Iterable[str]) -> set[str]:
    """Which of these stored files some attachment, document version, broadcast or
    complaint uses."""
    wanted = sorted({b for b in blobs if b})
    if not wanted:
        return set()
    query = union(
        select(col(Attachment.blob_hash)).where(col(Attachment.blob_hash).in_(wanted)),
        select(col(DocumentVersion.blob_hash)).where(col(DocumentVersion.blob_hash).in_(wanted)),
        select(col(Broadcast.media_blob)).where(col(Broadcast.media_blob).in_(wanted)),
        select(col(Complaint.blob_hash)).where(col(Complaint.blob_hash).in_(wanted)),
    )
    return {str(b) for b in session.execute(query).scalars() if b}


def forget_unused(session: Session, blobs: Iterable[str]) -> list[str]:
    """Drop the channel references of those files nothing uses any more; return them."""
    wanted = sorted({b for b in blobs if b})
    unused = [b for b in wanted if b not in used_blobs(session, wanted)]
    if unused:
        session.execute(delete(FileRef).where(col(FileRef.blob_hash).in_(unused)))
    return unused


def delete_unused(store: FileStore, session: Session, blobs: Iterable[str]) -> int:
    """Remove from the store those files nothing uses (checked now); returns how many."""
    wanted = sorted({b for b in blobs if b})
    used = used_blobs(session, wanted)
    gone = 0
    for digest in wanted:
        if digest not in used and store.has(digest):
            store.delete(digest)
            gone += 1
    return gone


def delete_after_commit(session: Session, store: FileStore, blobs: Iterable[str]) -> None:
    """Remove these files from the store once the caller's transaction has committed.

    Checked again then, in a new session: a rolled-back change (the file still used) or
    a file someone else's row took meanwhile keeps it. A failure is logged, never raised
    into the committer (the rows are already right; a left-over file is only bytes).
    """
    wanted = sorted({b for b in blobs if b})
    if not wanted:
        return
    bind = session.get_bind()

    def run() -> None:
        try:
            with Session(bind) as fresh:
                gone = delete_unused(store, fresh, wanted)
            log.info("file store: deleted %d of %d erased files", gone, len(wanted))
        except Exception:
            log.exception("file store: could not delete erased files %s", wanted)

    after_commit(session, run)
