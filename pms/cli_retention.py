"""``pms retention ...``: make the monthly partitions ahead, purge (archive, then drop)
the months older than the retention, and verify an archive bundle on its own."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from app.audit import checkpoints
from app.core.db import Database
from app.core.errors import DomainError
from app.core.settings import Settings
from app.retention import archive, partitions, purge
from pms.cli_db import run_with_database


def cmd_partitions(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        made = await partitions.ensure_partitions(db, settings)
        print(f"made {len(made)} partitions" + (": " + ", ".join(made) if made else ""))
        return 0

    return run_with_database(settings, work)


def _month(value: str) -> date:
    try:
        return date.fromisoformat(value + "-01")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month (YYYY-MM)") from exc


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when done (or nothing to do), 2 when refused or the archive failed."""

    async def work(db: Database) -> int:
        try:
            results = await purge.purge(db, settings, dry_run=args.dry_run, month=args.month)
        except DomainError as exc:
            print(f"error {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        verb = "would archive" if args.dry_run else "archived"
        for r in results:
            where = f" to {r.directory}" if r.directory else ""
            print(f"{verb} {r.month:%Y-%m}: {r.audit_rows} audit entries, "
                  f"{r.ledger_rows} ledger transfers{where}")  # fmt: skip
        if not results:
            print("nothing older than the retention")
        limit, strays = await purge.stray_rows(db, settings)
        for stray in strays:
            print(f"WARNING {stray.describe(limit)}", file=sys.stderr)
        return 0

    return run_with_database(settings, work)


def _verify_database(settings: Settings) -> int:
    """No row older than the retention is out of the purge's reach."""

    async def work(db: Database) -> int:
        limit, strays = await purge.stray_rows(db, settings)
        for stray in strays:
            print(f"BAD {stray.describe(limit)}")
        if strays:
            return 1
        print(f"OK nothing older than {limit:%Y-%m} outside the monthly partitions")
        return 0

    return run_with_database(settings, work)


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Verify a bundle alone (its own keys), or against this log's keys with --against-db;
    without a bundle, the database: no row older than the retention in a default partition."""
    if args.directory is None:
        return _verify_database(settings)
    trusted: list[Any] = []

    async def keys(db: Database) -> int:
        async with db.read_session() as session:
            trusted.append(await checkpoints.key_map(session))
        return 0

    if args.against_db and run_with_database(settings, keys) != 0:
        return 2
    problems = archive.verify_archive(Path(args.directory), trusted[0] if trusted else None)
    for problem in problems:
        print(f"BAD {problem}")
    if problems:
        return 1
    print("OK")
    return 0


def register(sub: Any) -> None:
    retention = sub.add_parser("retention", help="partitions and the archiving purge")
    commands = retention.add_subparsers(dest="retention_command", required=True)
    made = commands.add_parser("partitions", help="make the monthly partitions ahead of time")
    made.set_defaults(handler=cmd_partitions)
    run = commands.add_parser("purge", help="archive and drop months older than the retention")
    run.add_argument("--dry-run", action="store_true", help="only say what would be archived")
    run.add_argument("--month", type=_month, help="purge up to this month (YYYY-MM) only")
    run.set_defaults(handler=cmd_purge)
    check = commands.add_parser(
        "verify", help="verify an archive bundle directory, or without one the database "
        "(no row older than the retention left in a default partition)",
    )  # fmt: skip
    check.add_argument("directory", nargs="?")
    check.add_argument("--against-db", action="store_true", help="require this log's keys")
    check.set_defaults(handler=cmd_verify)
