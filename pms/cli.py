"""The ``pms`` command: serve, migrate, worker and admin tasks."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from contextlib import suppress

from app.core.logging import configure_logging
from app.core.settings import Settings, get_settings
from app.observability.logs import log_formatter
from pms.cli_db import database_url
from pms.cli_identity import register as register_identity_commands
from pms.hooks import register_all

log = logging.getLogger("pms")


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app.core import migrations

    with database_url(settings) as url:
        migrations.upgrade(url, args.revision)
    log.info("database at %s", args.revision)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.core import migrations
    from pms.asgi import create_app

    with database_url(settings) as url:
        if args.migrate:
            migrations.upgrade(url)
        app = create_app(settings.model_copy(update={"database_url": url}))
        if settings.metrics_port is not None:
            from app.observability.http import serve_metrics_port

            serve_metrics_port(settings.metrics_port, args.host)
        log.info("GraphQL on http://%s:%s/graphql", args.host, args.port)
        # uvicorn handles Ctrl-C: it drains requests and returns; the with-block then
        # stops the embedded database.
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, proxy_headers=True,
                    server_header=False)  # fmt: skip
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Background tasks without the HTTP server (for a separate worker deployment)."""
    import asyncio

    from app.core.db import Database
    from app.core.tasks import TaskRunner
    from pms.events import build_events
    from pms.tasks import registered_tasks

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

    with database_url(settings) as url, suppress(KeyboardInterrupt):
        asyncio.run(work(url))
    return 0


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
            print(f"MISMATCH {mismatch.describe()}")
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

    async def work(url: str) -> int:
        db = Database.from_settings(settings, url)
        try:
            return await rebuild(db, settings)
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
    from app.segments.service import recompute_all

    async def work(url: str) -> None:
        db = Database.from_settings(settings, url)
        try:
            async with db.transaction() as session:
                for result in await recompute_all(session, settings):
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
    from datetime import date

    from app.bonuses import tasks, triggers
    from app.core.db import Database

    async def run(url: str) -> int:
        db = Database.from_settings(settings, url)
        try:
            if args.bonus_command == "cashback":
                period = date.fromisoformat(args.period)
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
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the GraphQL/HTTP server")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
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
    cashback.add_argument("--period", required=True, help="first day of the period, YYYY-MM-DD")
    cashback.set_defaults(handler=cmd_bonus)
    bonus_sub.add_parser("triggers", help="birthday, turnover, VIP awards").set_defaults(
        handler=cmd_bonus
    )
    bonus_sub.add_parser("expire", help="expire overdue bonuses").set_defaults(handler=cmd_bonus)
    return parser


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, log_formatter(settings))
    register_all()
    args = build_parser(settings).parse_args(argv)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    return handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
