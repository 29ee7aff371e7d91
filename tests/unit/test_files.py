"""The bot's file store and per-channel file references (bot/files.py), and UU PDP erasure
of the stored bytes (bot/admin.erase_personal_data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot import admin
from bot.clock import ManualClock
from bot.db import Database
from bot.errors import BadInput
from bot.files import FileStore, ref_for, remember_ref, used_blobs
from bot.models import Attachment, FileRef, User
from bot.workflow import FileIn, Workflow
from tests.support.db import count
from tests.support.factories import make_member, make_official

SOP = "lmj-layanan-kim"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore.from_url(f"file://{tmp_path / 'files'}")


def letter(store: FileStore, data: bytes, ref: str, channel: str = "telegram") -> FileIn:
    """A document a member sent, kept in the store."""
    return FileIn(kind="document", file_ref=ref, file_name=f"{ref}.pdf", mime="application/pdf",
                  size=len(data), label="Surat Tugas", blob=store.put(data), channel=channel)


def submit(s: Session, workflow: Workflow, member: User, files: list[FileIn], key: str) -> None:
    workflow.submit_request(s, member, SOP, subject="Permohonan", purpose="Mohon.", files=files,
                            request_key=key)


def test_the_store_keeps_each_file_once_by_its_hash(store: FileStore) -> None:
    digest = store.put(b"%PDF surat")
    assert store.put(b"%PDF surat") == digest
    assert store.get(digest) == b"%PDF surat"
    assert store.path(digest).parent.name == digest[:2]
    store.delete(digest)
    assert not store.has(digest)
    with pytest.raises(ValueError, match="only file:// stores"):
        FileStore.from_url("s3://bucket")


def test_attachments_record_their_bytes_and_channel(
    db: Database, workflow: Workflow, store: FileStore,
) -> None:
    with db.session() as s:
        make_official(s, "staf")
        wati = make_member(s, "Wati")
        submit(s, workflow, wati, [letter(store, b"one", "wa-1", "whatsapp")], "k1")
        row = s.exec(select(Attachment)).one()
        assert (row.channel, row.file_ref, row.blob_hash) == (
            "whatsapp", "wa-1", store.put(b"one"))


def test_which_reference_to_send_a_file_with(
    db: Database, workflow: Workflow, store: FileStore,
) -> None:
    with db.session() as s:
        make_official(s, "staf")
        wati = make_member(s, "Wati")
        sent = letter(store, b"surat", "wa-media-1", "whatsapp")
        submit(s, workflow, wati, [sent], "k1")
        blob = sent.blob
        ask = {"blob": blob, "origin_channel": "whatsapp", "origin_ref": "wa-media-1"}
        assert ref_for(s, **ask, channel="whatsapp") == "wa-media-1"  # its own channel
        assert ref_for(s, **ask, channel="telegram") is None  # upload the bytes
        remember_ref(s, blob, "telegram", "tg-file-1")  # … the upload answered this id
        remember_ref(s, blob, "telegram", "tg-file-1")
        assert ref_for(s, **ask, channel="telegram") == "tg-file-1"
        remember_ref(s, blob, "telegram", "tg-file-2")  # a newer id replaces it
        assert ref_for(s, **ask, channel="telegram") == "tg-file-2"
        assert count(s, FileRef) == 1
        # Another attachment of the same bytes, from Telegram, answers for them too.
        assert ref_for(s, blob=blob, origin_channel="telegram", origin_ref="",
                       channel="whatsapp") == "wa-media-1"
        assert ref_for(s, blob="", origin_channel="telegram", origin_ref="x",
                       channel="whatsapp") is None


def test_erasure_deletes_the_members_files_after_the_commit(
    db: Database, clock: ManualClock, workflow: Workflow, store: FileStore,
) -> None:
    with db.session() as s:
        make_official(s, "staf")
        wati = make_member(s, "Wati", external_id="901")
        ahmad = make_member(s, "Ahmad", external_id="902")
        own = letter(store, b"wati only", "tg-1")
        shared = letter(store, b"the same form", "tg-2")
        submit(s, workflow, wati, [own, shared], "k1")
        submit(s, workflow, ahmad, [letter(store, b"the same form", "tg-3")], "k2")
        remember_ref(s, own.blob, "whatsapp", "wa-1")
        remember_ref(s, shared.blob, "whatsapp", "wa-2")
    with db.session() as s:
        user = s.get(User, wati.id)
        assert user is not None
        done = admin.erase_personal_data(s, clock, user, store=store)
        assert done.blobs == (own.blob,)
        assert store.has(own.blob)  # not before the commit
    assert not store.has(own.blob)
    assert store.has(shared.blob)  # Ahmad sent the same bytes: kept
    with db.session() as s:
        refs = s.exec(select(FileRef.blob_hash)).all()
        assert refs == [shared.blob]
        mine = s.exec(select(Attachment).where(Attachment.uploaded_by == wati.id)
                      .order_by(col(Attachment.id))).all()
        assert [(a.file_ref, a.blob_hash, a.size) for a in mine] == [
            ("", None, len(b"wati only")), ("", None, len(b"the same form"))]
        assert used_blobs(s, [own.blob, shared.blob]) == {shared.blob}


def test_an_erasure_rolled_back_keeps_the_files(
    db: Database, clock: ManualClock, workflow: Workflow, store: FileStore,
) -> None:
    with db.session() as s:
        make_official(s, "staf")
        wati = make_member(s, "Wati")
        own = letter(store, b"wati only", "tg-1")
        submit(s, workflow, wati, [own], "k1")

    def erase_then_refuse() -> None:
        with db.session() as s:
            user = s.get(User, wati.id)
            assert user is not None
            admin.erase_personal_data(s, clock, user, store=store)
            raise BadInput("error.bad_input")

    with pytest.raises(BadInput):
        erase_then_refuse()
    assert store.has(own.blob)
    with db.session() as s:  # a later commit on another unit of work deletes nothing
        assert s.exec(select(Attachment.blob_hash)).one() == own.blob
    assert store.has(own.blob)
