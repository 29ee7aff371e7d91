"""Schema migrations: a fresh database goes up, down and up again; the result matches the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ForeignKeyConstraint, func, inspect
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlmodel import SQLModel, col, select

import bot.models  # noqa: F401  (registers the tables)
from bot.clock import ManualClock
from bot.db import Database, alembic_config
from bot.models import (
    Attachment,
    AuditEntry,
    Broadcast,
    BroadcastDelivery,
    Case,
    ChannelAccount,
    DocumentVersion,
    Notification,
    RoleBinding,
    User,
)
from bot.outbox import claim_due
from bot.people import ensure_user
from tests.support.db import count

TABLES = {
    "user",
    "rolebinding",
    "invitation",
    "agendacounter",
    "case",
    "attachment",
    "auditentry",
    "notification",
    "dialog",
    "processedupdate",
    "channelaccount",
    "fileref",
}


def app_tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _describe(diff: Any) -> str:
    """One autogenerate difference in words: "add_column notification.foo"."""
    if isinstance(diff, list):  # modify_* differences come as a list of tuples
        return "; ".join(_describe(d) for d in diff)
    op, *items = diff
    words = []
    for item in items:
        if item is None or isinstance(item, dict):
            continue
        if isinstance(item, str | bool | int):
            words.append(str(item))
            continue
        table = getattr(getattr(item, "table", None), "name", None)
        name = getattr(item, "name", None)
        if isinstance(item, ForeignKeyConstraint):
            name = f"FK({', '.join(c.name for c in item.columns)})"
        words.append(".".join(str(p) for p in (table, name) if p) or repr(item))
    return f"{op} {' '.join(words)}"


def schema_differences(database: Database) -> list[str]:
    """What autogenerate would still write: the models and the migrations disagree."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        return [_describe(d) for d in compare_metadata(context, SQLModel.metadata)]


def test_stairway_up_down_up(database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    database = Database(database_url)
    try:
        assert app_tables(database) == set()

        database.migrate()
        assert current_revision(database) == head
        assert app_tables(database) >= TABLES

        database.downgrade("base")
        assert current_revision(database) is None
        assert app_tables(database) == set()

        database.migrate()
        assert current_revision(database) == head
        assert app_tables(database) >= TABLES
    finally:
        database.dispose()


def test_every_revision_steps_down_and_up_again(database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    database = Database(database_url)
    try:
        for revision in revisions:
            database.migrate(revision)
            assert current_revision(database) == revision
            previous = script.get_revision(revision).down_revision
            database.downgrade(previous or "base")  # type: ignore[arg-type]
            assert current_revision(database) == previous
            database.migrate(revision)
        assert current_revision(database) == revisions[-1]
    finally:
        database.dispose()


def test_migrated_schema_matches_the_models(db: Database) -> None:
    assert schema_differences(db) == []


def test_migrating_twice_changes_nothing(db: Database) -> None:
    db.migrate()
    assert schema_differences(db) == []


# -- carrying data over ------------------------------------------------------------------

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
# What a bot on revision 0004 held: two people, a letter with its trail, files, a task,
# a working document and an announcement.
ROWS_AT_0004: dict[type[SQLModel], list[dict[str, Any]]] = {
    User: [
        {"id": 1, "channel": "telegram", "external_id": "501", "chat_id": "501",
         "display_name": "Wati", "full_name": "Wati Susanti", "office": "lumajang",
         "registered_at": AT, "active": True, "subscribed": True, "created_at": AT},
        {"id": 2, "channel": "telegram", "external_id": "601", "chat_id": "601",
         "display_name": "Sari", "active": True, "subscribed": True, "created_at": AT},
        {"id": 3, "channel": "telegram", "external_id": "erased-3", "chat_id": "",
         "display_name": "", "full_name": "Anggota KIM (dihapus)", "active": True,
         "subscribed": False, "created_at": AT, "erased_at": AT},
    ],
    RoleBinding: [{"id": 1, "user_id": 2, "office": "lumajang", "role": "staf",
                   "active": True, "created_at": AT}],
    Case: [{"id": 1, "office": "lumajang", "sop_code": "lmj-layanan-kim", "agenda_year": 2026,
            "agenda_seq": 1, "agenda_number": "001/KIM/2026", "requester_id": 1,
            "started_by_id": 1, "subject": "Permohonan", "purpose": "Mohon.",
            "status": "open", "step_no": 2, "version": 2, "step_started_at": AT,
            "created_at": AT, "request_key": "k1", "sla_stage": 0}],
    AuditEntry: [
        {"id": 1, "case_id": 1, "at": AT, "step_no": 1, "action": "submit", "kind": "submit",
         "actor_id": 1, "actor_role": "pemohon", "note": ""},
        {"id": 2, "case_id": 1, "at": AT, "step_no": 1, "action": "teruskan",
         "kind": "forward", "actor_id": 2, "actor_role": "staf", "note": "Lengkap",
         "to_step": 2},
    ],
    Attachment: [
        {"id": 1, "case_id": 1, "kind": "document", "file_ref": "tg-doc-1",
         "file_name": "surat.pdf", "mime": "application/pdf", "size": 1234,
         "label": "Surat Tugas", "step_no": 1, "uploaded_by": 1, "created_at": AT},
        {"id": 2, "case_id": 1, "kind": "photo", "file_ref": "tg-photo-1", "file_name": "",
         "mime": "image/jpeg", "size": 2048, "label": "Foto", "step_no": 1,
         "uploaded_by": 1, "created_at": AT},
    ],
    Notification: [{"id": 1, "recipient_id": 2, "case_id": 1, "case_version": 2,
                    "key": "notify.task", "params": {"from_name": "Wati Susanti"},
                    "actions": ["teruskan"], "attachment_ids": [1, 2], "status": "pending",
                    "attempts": 0, "next_attempt_at": AT, "created_at": AT, "last_error": ""}],
    DocumentVersion: [{"id": 1, "case_id": 1, "version": 1, "step_no": 2, "attachment_id": 1,
                       "title": "Naskah", "kind": "document", "file_ref": "tg-doc-1",
                       "file_name": "surat.pdf", "mime": "application/pdf", "size": 1234,
                       "note": "", "uploaded_by": 2, "created_at": AT}],
    Broadcast: [{"id": 1, "created_by": 2, "text": "Halo", "media_kind": "photo",
                 "media_ref": "tg-photo-1", "audience": {"kind": "members"},
                 "status": "running", "total": 1, "sent": 0, "failed": 0, "unreachable": 0,
                 "progress_chat_id": "", "created_at": AT}],
    BroadcastDelivery: [{"id": 1, "broadcast_id": 1, "user_id": 1, "status": "pending",
                         "attempts": 0, "error": ""}],
}


def _insert_old_rows(database: Database) -> None:
    """Write ROWS_AT_0004 with the columns the tables had then (the models' column types)."""
    with database.engine.begin() as connection:
        for model, rows in ROWS_AT_0004.items():
            table = model.__table__  # type: ignore[attr-defined]
            there = {c["name"] for c in inspect(connection).get_columns(table.name)}
            old = sa_table(table.name, *[sa_column(c.name, c.type) for c in table.columns
                                         if c.name in there])
            for row in rows:
                connection.execute(old.insert().values(**row))


def test_upgrading_from_0004_keeps_every_row(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.migrate("0004")
        _insert_old_rows(database)
        database.migrate()
        clock = ManualClock(AT + timedelta(days=1))
        with database.session() as s:
            for model, rows in ROWS_AT_0004.items():
                kept = s.exec(select(model)).all()
                assert len(kept) == len(rows), model.__name__
                for row, was in zip(sorted(kept, key=lambda r: r.id), rows, strict=True):
                    for name, value in was.items():
                        assert getattr(row, name) == value, (model.__name__, name)
            # Everything that was there is Telegram's.
            assert {a.channel for a in s.exec(select(Attachment))} == {"telegram"}
            assert {a.blob_hash for a in s.exec(select(Attachment))} == {None}
            assert s.exec(select(DocumentVersion.channel)).one() == "telegram"
            assert s.exec(select(Notification.channel)).one() == "telegram"
            assert s.exec(select(BroadcastDelivery.channel)).one() == "telegram"
            assert s.exec(select(Broadcast.media_channel)).one() == "telegram"
            # One channel account per person who still has one (not the erased one).
            accounts = s.exec(select(ChannelAccount).order_by(col(ChannelAccount.id))).all()
            assert [(a.user_id, a.channel, a.account_id, a.chat_id) for a in accounts] == [
                (1, "telegram", "501", "501"), (2, "telegram", "601", "601")]
            # The pending task is still Telegram's to send.
            assert [n.id for n in claim_due(s, clock)] == [1]
        with database.session() as s:
            wati = ensure_user(s, clock, channel="telegram", external_id="501", chat_id="501",
                               display_name="Wati", client_language="id")
            assert wati.id == 1
            assert wati.full_name == "Wati Susanti"
            assert count(s, User) == 3
            assert count(s, ChannelAccount) == 2
        # And back down again: 0004's tables keep their rows.
        database.downgrade("0004")
        with database.engine.connect() as connection:
            for model, rows in ROWS_AT_0004.items():
                table = model.__table__  # type: ignore[attr-defined]
                total = connection.execute(
                    select(func.count()).select_from(sa_table(table.name))).scalar_one()
                assert total == len(rows), model.__name__
    finally:
        database.dispose()
