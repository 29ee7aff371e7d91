"""Schema migrations: a fresh database goes up, down and up again; the result matches the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ForeignKeyConstraint, inspect
from sqlmodel import SQLModel

import bot.models  # noqa: F401  (registers the tables)
from bot.db import Database, alembic_config

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
