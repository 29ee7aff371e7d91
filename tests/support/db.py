"""Database helpers for tests: fresh SQLite files, throw-away PostgreSQL schemas, row counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

POSTGRES_ENV = "KIMBOT_TEST_DATABASE_URL"
POSTGRES_SKIP_REASON = f"PostgreSQL tests need {POSTGRES_ENV}; CI sets it"


def sqlite_url(directory: Path, name: str = "kimbot.db") -> str:
    """A URL for a brand-new SQLite file in `directory`."""
    return f"sqlite:///{directory / name}"


def with_search_path(url: str, schema: str) -> str:
    """The same PostgreSQL URL, with every connection using `schema` (psycopg3 `options`)."""
    parsed = make_url(url)
    parsed = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """Create an empty, uniquely named schema; yield a URL that uses it; drop it afterwards."""
    schema = f"kimbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield with_search_path(base_url, schema)
        finally:
            with admin.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '15s'"))
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def count(session: Session, model: type[Any], *where: Any) -> int:
    """Number of rows of `model` matching the conditions."""
    statement = select(func.count()).select_from(model)
    for condition in where:
        statement = statement.where(condition)
    return int(session.exec(statement).one())
