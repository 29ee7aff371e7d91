"""The `kimbot` command: run, demo, sop check/draw/import, migrate, pdf, export."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.settings import Settings
from bot.sop.loader import OFFICES_FILE, SKM_FILE, SopError, load_offices, load_sop_file
from bot.sop.model import Office


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for e in exc.errors():  # one line per bad setting
            print(f"Konfigurasi tidak valid / invalid configuration: "
                  f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}", file=sys.stderr)
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
        if path.name == SKM_FILE:  # the satisfaction survey: checked as such, not an SOP
            from bot.survey import SkmError, read_form

            try:
                form = read_form(path)
            except SkmError as exc:
                print(f"✗ {exc}")
                failed += 1
                continue
            print(f"✓ {path.name}: SKM — {len(form.elements)} unsur, "
                  f"{len(form.profile)} pertanyaan profil")
            continue
        try:
            sop = load_sop_file(path, offices)
        except SopError as exc:
            print(f"✗ {exc}")
            failed += 1
            continue
        print(f"✓ {path.name}: {sop.code} — {len(sop.steps)} langkah, kantor {sop.office}")
    return 1 if failed else 0


def _offices_for(sop_dir: Path) -> dict[str, Office] | None:
    """The offices of sop_dir, or None after printing why they cannot be read."""
    try:
        return load_offices(sop_dir / OFFICES_FILE)
    except SopError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return None


def _not_an_sop(path: Path) -> bool:
    """offices.yaml, or a YAML file without a `prosedur` table: nothing to draw."""
    import yaml

    if path.name in (OFFICES_FILE, SKM_FILE):
        return True
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # the loader says what is wrong with it
    return not (isinstance(data, dict) and "prosedur" in data)


def sop_draw(files: list[str], output: str | None, sop_dir: Path) -> int:
    """Write SOP flows as Mermaid flowcharts (stdout, .mmd, or .md with a fence).

    Several files (e.g. `sop_steps/*.yaml`): each chart in turn on stdout, or one file per
    SOP in the folder given with -o. A file that is no SOP (offices.yaml) is named and
    skipped; a broken SOP makes the exit status 1.
    """
    from bot.sop.mermaid import to_mermaid

    offices = _offices_for(sop_dir)
    if offices is None:
        return 1
    paths = [Path(f) for f in files]
    folder = Path(output) if output is not None and len(paths) > 1 else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in paths:
        if not path.is_file():
            print(f"✗ {path}: berkas tidak ada / file not found", file=sys.stderr)
            failed += 1
            continue
        if _not_an_sop(path):
            print(f"– {path}: bukan SOP, dilewati / not an SOP, skipped", file=sys.stderr)
            continue
        try:
            sop = load_sop_file(path, offices)
        except SopError as exc:
            print(f"✗ {exc}", file=sys.stderr)
            failed += 1
            continue
        chart = to_mermaid(sop)
        if output is None:
            if len(paths) > 1:
                sys.stdout.write(f"%% {path.name}: {sop.code}\n")
            sys.stdout.write(chart + ("\n" if len(paths) > 1 else ""))
            continue
        out = folder / f"{sop.code}.mmd" if folder is not None else Path(output)
        text = f"# {sop.name}\n\n```mermaid\n{chart}```\n" if out.suffix == ".md" else chart
        out.write_text(text, encoding="utf-8")
        print(f"✓ {out}: diagram {sop.code} ({len(sop.steps)} langkah)")
    return 1 if failed else 0


def sop_import(file: str, output: str | None, office: str | None, code: str | None,
               force: bool, sop_dir: Path) -> int:
    """Read an SOP table text and write a draft YAML; list what must be checked (PERIKSA)."""
    from bot.sop.importer import check_draft, import_sop_text

    offices = _offices_for(sop_dir)
    path = Path(file)
    if offices is None:
        return 1
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        print(f"✗ {path}: tidak dapat dibaca / cannot be read ({exc})", file=sys.stderr)
        return 1
    result = import_sop_text(text, offices=offices, office=office, code=code, source=path.name)
    out = Path(output) if output else None
    if out is not None and out.exists() and not force:
        print(f"✗ {out} sudah ada / already exists; pakai --force untuk menimpa",
              file=sys.stderr)
        return 1
    # The draft goes to stdout when no -o is given, so the report goes to stderr.
    report = sys.stderr if out is None else sys.stdout
    if out is None:
        sys.stdout.write(result.yaml_text)
    else:
        out.write_text(result.yaml_text, encoding="utf-8")
        print(f"✓ draf ditulis ke {out}: {len(result.data['prosedur'])} langkah")
    print(f"{len(result.findings)} hal perlu DIPERIKSA / to check:", file=report)
    for finding in result.findings:
        print(f"  - {finding}", file=report)
    try:
        check_draft(result.yaml_text, offices, out.name if out else "draf.yaml")
    except SopError as exc:
        print(f"✗ draf belum lolos `kimbot sop check`: {exc}", file=report)
        return 1
    print("✓ draf lolos `kimbot sop check` (tetap periksa setiap PERIKSA)", file=report)
    return 0


def pdf_command(agenda: str, output: str | None, language: str | None) -> int:
    """Write the lembar disposisi of an agenda number to a PDF file."""
    from bot.db import Database
    from bot.i18n import Translator
    from bot.pdf import render_disposition_pdf
    from bot.queries import find_case_by_agenda
    from bot.sop import SopRegistry

    settings = _settings()
    registry = SopRegistry.from_dir(settings.sop_dir)
    translator = Translator(settings.locales_dir, settings.default_language)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            case = find_case_by_agenda(session, agenda)
            if case is None or case.id is None:
                print(f"✗ nomor agenda tidak ditemukan / agenda number not found: {agenda}",
                      file=sys.stderr)
                return 1
            data = render_disposition_pdf(session, registry, translator, case.id,
                                          language or settings.default_language)
            name = case.agenda_number
    finally:
        database.dispose()
    path = Path(output or name.replace("/", "-") + ".pdf")
    path.write_bytes(data)
    print(f"✓ {path} ({len(data)} bytes)")
    return 0


def export_command(kind: str, fmt: str, office: str | None, year: int | None,
                   output: str | None, language: str | None) -> int:
    """Write an office's agenda book or audit trail of a year as XLSX or CSV."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.db import Database
    from bot.errors import KimError
    from bot.export import export
    from bot.i18n import Translator
    from bot.sop import SopRegistry

    settings = _settings()
    registry = SopRegistry.from_dir(settings.sop_dir)
    code = (office or next(iter(registry.offices))).lower()
    if code not in registry.offices:
        print(f"✗ kantor tidak dikenal / unknown office: {code} "
              f"({', '.join(registry.offices)})", file=sys.stderr)
        return 1
    zone = ZoneInfo(registry.offices[code].timezone)
    year = year or datetime.now(UTC).astimezone(zone).year
    translator = Translator(settings.locales_dir, settings.default_language)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            name, data, rows = export(session, registry, translator, kind, fmt, code, year,
                                      language or settings.default_language)
    except KimError as exc:
        print(f"✗ {exc.key}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    path = Path(output or name)
    path.write_bytes(data)
    print(f"✓ {path}: {rows} baris / rows ({len(data)} bytes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kimbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (Telegram long polling or webhook, WhatsApp "
                         "webhook, health and metrics on KIMBOT_LISTEN)")
    run.add_argument("--role", choices=["all", "web", "worker"], default="all",
                     help="web: webhooks in, answers out; worker: deliveries, broadcasts, SLA "
                     "watcher; all (default): both in one process")
    demo = sub.add_parser("demo", help="play a whole request offline against a fake Bot API")
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    demo.add_argument("--channel", choices=["telegram", "whatsapp"], default="telegram",
                      help="whatsapp: the member on WhatsApp, the officials on Telegram")
    demo.add_argument("--db", metavar="FILE",
                      help="keep the demo's SQLite database here (for kimbot pdf / export)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sop = sub.add_parser("sop", help="SOP tools")
    sop_sub = sop.add_subparsers(dest="sop_command", required=True)
    check = sop_sub.add_parser("check", help="validate SOP files")
    check.add_argument("files", nargs="*")
    draw = sop_sub.add_parser("draw", help="draw SOPs as Mermaid flowcharts")
    draw.add_argument("files", metavar="FILE", nargs="+")
    draw.add_argument("-o", "--output", metavar="OUT",
                      help="write here (.mmd, or .md with a mermaid block; a folder when "
                      "several files are given); default stdout")
    imp = sop_sub.add_parser("import", help="draft an SOP YAML from the SOP table as text")
    imp.add_argument("file", metavar="TEXT_FILE")
    imp.add_argument("-o", "--output", metavar="OUT.yaml", help="default: stdout")
    imp.add_argument("--office", metavar="CODE", help="office code in offices.yaml")
    imp.add_argument("--code", metavar="CODE", help="SOP code (default: made from the title)")
    imp.add_argument("--force", action="store_true", help="overwrite OUT.yaml if it exists")
    pdf = sub.add_parser("pdf", help="print a lembar disposisi (disposition sheet) to PDF")
    pdf.add_argument("agenda", metavar="AGENDA_NUMBER")
    pdf.add_argument("-o", "--output", metavar="FILE",
                     help="where to write it (default: the agenda number, / replaced by -)")
    pdf.add_argument("--lang", choices=["id", "en"],
                     help="label language (default: KIMBOT_DEFAULT_LANGUAGE, normally id)")
    exp = sub.add_parser("export", help="export the agenda book or the audit trail (XLSX, CSV)")
    exp.add_argument("kind", choices=["agenda", "trail"],
                     help="agenda: Buku Agenda surat masuk; trail: lembar disposisi lines")
    exp.add_argument("--format", dest="fmt", choices=["xlsx", "csv"], default="xlsx",
                     help="xlsx (default) or csv (UTF-8 with BOM, ';'-separated)")
    exp.add_argument("--office", metavar="CODE", help="office code (default: the first one)")
    exp.add_argument("--year", type=int, metavar="YEAR",
                     help="agenda year (default: this year in the office's zone)")
    exp.add_argument("-o", "--output", metavar="FILE",
                     help="where to write it (default: e.g. buku-agenda-lumajang-2026.xlsx)")
    exp.add_argument("--lang", choices=["id", "en"],
                     help="header language (default: KIMBOT_DEFAULT_LANGUAGE, normally id)")
    args = parser.parse_args(argv)
    quiet = ("demo", "sop", "pdf", "export")
    level = logging.WARNING if args.command in quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    if args.command == "sop" and args.sop_command == "draw":
        return sop_draw(args.files, args.output, _settings().sop_dir)
    if args.command == "sop" and args.sop_command == "import":
        return sop_import(args.file, args.output, args.office, args.code, args.force,
                          _settings().sop_dir)
    if args.command == "sop":
        return sop_check(args.files, _settings().sop_dir)
    if args.command == "pdf":
        return pdf_command(args.agenda, args.output, args.lang)
    if args.command == "export":
        return export_command(args.kind, args.fmt, args.office, args.year, args.output,
                              args.lang)
    if args.command == "migrate":
        from handlers.startup import migrate_database

        migrate_database(_settings())  # waits for the database; one line and exit 2 if not
        print("database is at the latest schema")
        return 0
    if args.command == "demo" and args.channel == "whatsapp":
        from handlers.whatsapp.demo import run_demo as run_wa_demo

        return run_wa_demo(quiet=args.quiet)
    if args.command == "demo":
        from handlers.telegram.demo import run_demo

        return run_demo(quiet=args.quiet, db=args.db)
    return run_command(args.role)


def run_command(role: str) -> int:
    """`kimbot run --role …`: one line and exit 2 for settings the role cannot run with."""
    import asyncio

    from handlers.serve import role_problem, serve
    from handlers.startup import configure_logging

    settings = _settings()
    configure_logging(settings)
    problem = role_problem(settings, role)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, role))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
