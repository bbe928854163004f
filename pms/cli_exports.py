"""``pms export crm|erp --since CURSOR``, ``pms export verify DIR`` and
``pms import marketing FILE [--confirm]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from app.core.db import Database
from app.core.settings import Settings
from pms.cli_db import run_with_database
from pms.progress import ProgressBar


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from app.core.errors import DomainError
    from app.exports.cursor import ExportKind
    from app.exports.service import run_export

    kind = ExportKind(args.export_command)
    progress = ProgressBar(args.force_progress, desc="export")

    async def work(db: Database) -> int:
        try:
            result = await run_export(
                db, settings, kind, args.since, Path(args.out or settings.export_dir),
                actor="system:cli", channels=args.channel or ("email", "sms", "push", "phone"),
                progress=progress,
            )  # fmt: skip
        except DomainError as exc:
            print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
            return 2
        _print_bundle(result)
        print(f"next cursor: {result.next_cursor}")
        return 0

    return run_with_database(settings, work)


class _Bundle(Protocol):
    @property
    def directory(self) -> Path: ...
    @property
    def files(self) -> Sequence[Any]: ...
    @property
    def manifest_sha256(self) -> str: ...


def _print_bundle(result: _Bundle) -> None:
    """The bundle's directory, files and manifest hash (CRM/ERP and regulator alike)."""
    print(f"bundle: {result.directory}")
    for entry in result.files:
        print(f"  {entry.name}: {entry.rows} rows, sha256 {entry.sha256}")
    print(f"manifest sha256: {result.manifest_sha256}")


def _when(raw: str, name: str) -> datetime:
    """An ISO 8601 time with its offset (a date alone is midnight UTC)."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: not an ISO 8601 time") from None
    if len(raw) == 10:  # YYYY-MM-DD
        value = value.replace(tzinfo=UTC)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{name}: needs a time zone offset (e.g. Z)")
    return value


def cmd_export_regulator(settings: Settings, args: argparse.Namespace) -> int:
    import uuid

    from app.audit.service import Actor
    from app.core.errors import DomainError
    from app.exports.regulator import RegulatorRange, run_regulator_export

    try:
        rng = RegulatorRange(
            _when(args.start, "--from"), _when(args.end, "--to"),
            uuid.UUID(args.player) if args.player else None,
        )  # fmt: skip
    except (argparse.ArgumentTypeError, ValueError) as exc:
        print(f"error [VALIDATION_ERROR]: {exc}", file=sys.stderr)
        return 2
    progress = ProgressBar(args.force_progress, desc="regulator export")

    async def work(db: Database) -> int:
        try:
            result = await run_regulator_export(
                db, settings, rng, Path(args.out or settings.export_dir),
                actor=Actor("system:cli"), progress=progress,
            )  # fmt: skip
        except DomainError as exc:
            print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
            return 2
        _print_bundle(result)
        print(f"audit checkpoint: tree size {result.tree_size}")
        return 0

    return run_with_database(settings, work)


def cmd_export_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when the bundle holds, 1 naming each problem found. With ``--export-keys``
    and ``--audit-keys`` (the two published key documents) no database is needed."""
    import json

    from app.exports import regulator_verify as check

    directory = Path(args.directory)

    def report(problems: list[str]) -> int:
        for problem in problems:
            print(f"FAIL {problem}")
        print("OK" if not problems else f"{len(problems)} problem(s)")
        return 0 if not problems else 1

    if args.export_keys or args.audit_keys:
        if not (args.export_keys and args.audit_keys):
            print("error: --export-keys and --audit-keys go together", file=sys.stderr)
            return 2
        try:
            export, audit = check.published_keys(
                json.loads(Path(args.export_keys).read_text(encoding="utf-8")),
                json.loads(Path(args.audit_keys).read_text(encoding="utf-8")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"error: unreadable key document: {exc}", file=sys.stderr)
            return 2
        return report(check.verify_with_keys(directory, export.get, audit))

    async def work(db: Database) -> int:
        async with db.read_session() as session:
            return report(await check.verify_directory(session, directory))

    return run_with_database(settings, work)


def cmd_import_marketing(settings: Settings, args: argparse.Namespace) -> int:
    """Dry run by default (the report; exit 1 on row errors); ``--confirm`` applies."""
    import json

    from app.core.errors import DomainError
    from app.imports import service

    path = Path(args.file)
    fmt = args.format or ("jsonl" if path.suffix == ".jsonl" else "csv")
    data = path.read_bytes()
    progress = ProgressBar(args.force_progress, desc="import", unit="players")

    async def work(db: Database) -> int:
        try:
            if args.confirm:
                report = await service.apply(
                    db, data, fmt, settings, actor="system:cli", import_id=args.import_id,
                    progress=progress,
                )  # fmt: skip
            else:
                async with db.transaction() as session:
                    plan = await service.dry_run(session, data, fmt, settings)
                report = plan.report(args.import_id or service.file_id(data), applied=False)
        except DomainError as exc:
            print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
            return 2
        print(json.dumps(report, indent=2, sort_keys=True))
        return 1 if report["errors"] else 0

    return run_with_database(settings, work)


def register(sub: Any) -> None:
    export = sub.add_parser("export", help="signed incremental CRM/ERP export bundles")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    for kind, text in (("crm", "segment memberships and players (consent-aware)"),
                       ("erp", "ledger transfers, daily balances, account totals")):  # fmt: skip
        parser = export_sub.add_parser(kind, help=text)
        parser.add_argument("--since", default=None, help="cursor from the previous run")
        parser.add_argument("--out", default=None, help="directory (default: PMS_EXPORT_DIR)")
        parser.add_argument(
            "--progress",
            action="store_true",
            dest="force_progress",
            help="progress bar on stderr even when it is not a terminal",
        )
        if kind == "crm":
            parser.add_argument(
                "--channel", action="append", choices=["email", "sms", "push", "phone"],
                help="marketing channel the CRM uses (repeat; default all)",
            )  # fmt: skip
        else:
            parser.set_defaults(channel=None)
        parser.set_defaults(handler=cmd_export)
    regulator = export_sub.add_parser(
        "regulator", help="signed bundle for a regulator: players, KYC, ledger, balances, "
        "bonuses, status changes, audit entries with proofs",
    )  # fmt: skip
    regulator.add_argument("--from", dest="start", required=True, help="ISO 8601 (exclusive)")
    regulator.add_argument("--to", dest="end", required=True, help="ISO 8601 (inclusive)")
    regulator.add_argument("--player", default=None, help="one player's id (UUID)")
    regulator.add_argument("--out", default=None, help="directory (default: PMS_EXPORT_DIR)")
    regulator.add_argument(
        "--progress",
        action="store_true",
        dest="force_progress",
        help="progress bar on stderr even when it is not a terminal",
    )
    regulator.set_defaults(handler=cmd_export_regulator)
    verify = export_sub.add_parser(
        "verify", help="check a bundle's signature, hashes, row counts (and audit proofs)"
    )
    verify.add_argument("directory")
    verify.add_argument("--export-keys", help="offline: the /.well-known/pms-export-keys JSON")
    verify.add_argument("--audit-keys", help="offline: the /.well-known/pms-audit-keys JSON")
    verify.set_defaults(handler=cmd_export_verify)

    imports = sub.add_parser("import", help="marketing-list imports")
    imports_sub = imports.add_subparsers(dest="import_command", required=True)
    marketing = imports_sub.add_parser("marketing", help="validate (dry run) or apply a list")
    marketing.add_argument("file", help="CSV or JSONL: player_id|email|login, action, value")
    marketing.add_argument("--format", choices=["csv", "jsonl"], default=None)
    marketing.add_argument("--confirm", action="store_true", help="apply (default: dry run)")
    marketing.add_argument("--import-id", default=None, help="default: the file's SHA-256")
    marketing.add_argument(
        "--progress",
        action="store_true",
        dest="force_progress",
        help="progress bar on stderr even when it is not a terminal",
    )
    marketing.set_defaults(handler=cmd_import_marketing)
