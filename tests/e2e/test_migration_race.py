"""Two processes starting on an empty database migrate it once, and both start.

Without the migration lock (bot/db.py) both create the tables and one fails: on PostgreSQL
with a duplicate-key error on `pg_type`, on SQLite with "table alembic_version already
exists" (seen 5 times in 5 on PostgreSQL, 1 in 3 on SQLite before the lock).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from bot.db import Database, head_revision

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_migrating_an_empty_database_both_succeed(
        database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("KIMBOT_LOG_JSON", None)
    processes = [
        subprocess.Popen([sys.executable, "-m", "handlers.cli", "migrate"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=180), p.returncode) for p in processes]

    for (_out, err), code in results:
        assert code == 0, err[-2000:]
    database = Database(database_url)
    try:
        assert database.revision() == head_revision()
        tables = set(inspect(database.engine).get_table_names())
        assert {"user", "case", "notification", "alembic_version"} <= tables
    finally:
        database.dispose()
