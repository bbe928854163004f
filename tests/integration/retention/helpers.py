"""Old data for the retention tests: audit rows and ledger transfers of a past month,
written with explicit timestamps (in a session with the retention switch on, as a
back-fill job would), their month's partitions made first; wallets kept equal to their
ledger so ``pms ledger verify`` holds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.core.db import Database
from app.core.settings import Settings
from app.retention.partitions import PARTITIONED, add_months, create_month, month_of
from tests.factories import create_player


def months_ago(count: int) -> date:
    return add_months(month_of(datetime.now(UTC)), -count)


async def make_month(db: Database, month: date) -> None:
    async with db.transaction() as session:
        for table in PARTITIONED:
            assert await create_month(session, table, month)


async def backfill(
    db: Database, settings: Settings, month: date, *, audit_rows: int = 3,
    amounts: tuple[int, ...] = (10_000, -2_500), player: Any = None,
) -> Any:  # fmt: skip
    """``audit_rows`` audit entries and one transfer per amount (deposit for > 0, bet
    for < 0) on the player's REAL wallet, all dated inside ``month``."""
    await make_month(db, month)
    player = player or await create_player(db, settings)
    at = datetime(month.year, month.month, 10, 12, 0, tzinfo=UTC)
    async with db.transaction() as session:
        await session.execute(text("SET LOCAL pms.retention_job = 'on'"))
        await session.execute(
            text(
                "INSERT INTO audit_log (occurred_at, actor, principal_kind, action, target, "
                "outcome, ip, request_id, user_agent, details) SELECT "
                "CAST(:at AS timestamptz) + make_interval(secs => g), 'staff:old', 'staff', "
                "'old.action', "
                "'p-' || g, 'success', '10.0.0.9', 'req-old-' || g, 'ua', "
                "jsonb_build_object('n', g) FROM generate_series(1, :n) g"
            ),
            {"at": at, "n": audit_rows},
        )
        wallet = (
            await session.execute(
                text("SELECT id, currency FROM wallets WHERE player_id = :p AND kind = 'REAL'"),
                {"p": player.id},
            )
        ).one()
        for i, amount in enumerate(amounts):
            house, kind = ("CASH_CLEARING", "DEPOSIT") if amount > 0 else ("GAME", "BET")
            await session.execute(
                text(
                    "INSERT INTO house_accounts (currency, kind) VALUES (:c, :h) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"c": wallet.currency, "h": house},
            )
            balance = (
                await session.execute(
                    text(
                        "UPDATE wallets SET balance = balance + :a WHERE id = :w RETURNING balance"
                    ),
                    {"a": amount, "w": wallet.id},
                )
            ).scalar_one()
            await session.execute(
                text(
                    "INSERT INTO ledger_transfers (operation_id, player_id, wallet_id, "
                    "house_account, currency, amount, kind, balance_after, actor, created_at) "
                    "VALUES (gen_random_uuid(), :p, :w, :h, :c, :a, :k, :b, 'test:backfill', :t)"
                ),
                {"p": player.id, "w": wallet.id, "h": house, "c": wallet.currency, "a": amount,
                 "k": kind, "b": balance, "t": at + timedelta(minutes=i)},
            )  # fmt: skip
    return player


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.read_session() as session:
        return (await session.execute(text(sql), params)).scalar()


async def exists(db: Database, name: str) -> bool:
    return await scalar(db, "SELECT to_regclass(:n) IS NOT NULL", n=name)


async def pms(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {"PMS_DATABASE_URL": settings.database_url or "", "PATH": "/usr/bin:/bin", **env}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pms", *args],
        env=full, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
