"""The `kimbot` command: run, demo, sop check, migrate."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.settings import Settings
from bot.sop.loader import OFFICES_FILE, SopError, load_offices, load_sop_file


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        print("Konfigurasi tidak valid / invalid configuration:\n" + "\n".join(lines),
              file=sys.stderr)
        raise SystemExit(2) from exc


def sop_check(files: list[str], sop_dir: Path) -> int:
    """Validate SOP files (all of sop_dir by default); print one line per file."""
    try:
        offices = load_offices(sop_dir / OFFICES_FILE)
    except SopError as exc:
        print(f"✗ {exc}")
        return 1
    paths = [Path(f) for f in files] or sorted(
        p for p in sop_dir.glob("*.yaml") if p.name != OFFICES_FILE)
    failed = 0
    for path in paths:
        if not path.is_file():
            print(f"✗ {path}: berkas tidak ada / file not found")
            failed += 1
            continue
        try:
            sop = load_sop_file(path, offices)
        except SopError as exc:
            print(f"✗ {exc}")
            failed += 1
            continue
        print(f"✓ {path.name}: {sop.code} — {len(sop.steps)} langkah, kantor {sop.office}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kimbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot with long polling (TELEGRAM_BOT_TOKEN)")
    demo = sub.add_parser("demo", help="play a whole request offline against a fake Bot API")
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sop = sub.add_parser("sop", help="SOP tools")
    sop_sub = sop.add_subparsers(dest="sop_command", required=True)
    check = sop_sub.add_parser("check", help="validate SOP files")
    check.add_argument("files", nargs="*")
    args = parser.parse_args(argv)
    level = logging.WARNING if args.command in ("demo", "sop") else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    if args.command == "sop":
        return sop_check(args.files, _settings().sop_dir)
    if args.command == "migrate":
        from bot.db import Database

        settings = _settings()
        Database(settings.database_url).migrate()
        print("database is at the latest schema")
        return 0
    if args.command == "demo":
        from handlers.demo import run_demo

        return run_demo(quiet=args.quiet)
    settings = _settings()
    if settings.telegram_bot_token is None:
        print("TELEGRAM_BOT_TOKEN is not set (see README); try `kimbot demo` offline.",
              file=sys.stderr)
        return 2
    from handlers.app import run_polling

    run_polling(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
