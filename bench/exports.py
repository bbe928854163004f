"""CRM/ERP export and marketing-import benchmark.

Seeds players (with a registration event each, half with e-mail consent), one REAL
wallet each and ledger transfers, all generated in SQL; then runs the ERP and CRM exports
through ``app.exports.service.run_export`` (what the CLI, the jobs and the schedule run)
and a marketing-list import (dry run, then apply) through ``app.imports.service``.

Baseline, measured in the same run: PostgreSQL streaming the same transfer rows with
``COPY (SELECT ...) TO STDOUT`` into a file (no Python per row): the export's rows/s are
printed as a ratio to it. Memory: the process's resident set sampled from the export's
progress callback (every 2,000-row batch): flat when streaming.

    .venv/bin/python bench/exports.py --players 1000000 --transfers 10000000
    .venv/bin/python bench/exports.py --players 20000 --transfers 200000 --import-rows 5000

The database (default ``pms_bench_exports`` on the local server) is dropped and rebuilt;
``--seed-only`` stops after seeding and ``--reuse`` keeps a database seeded with the same
sizes whose import has not run (the seed of the full size is the slow part).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from fresh_db import fresh_database  # bench/fresh_db.py
from sqlalchemy import text

from app.core import migrations
from app.core.db import Database, asyncpg_dsn
from app.core.settings import Settings
from app.exports import service
from app.exports.cursor import ExportKind
from app.imports import service as imports
from pms.hooks import register_all

SEED = [
    """INSERT INTO house_accounts (currency, kind) SELECT 'EUR', k
       FROM unnest(ARRAY['CASH_CLEARING', 'GAME', 'BONUS_LIABILITY', 'FEES']) k
       ON CONFLICT DO NOTHING""",
    """INSERT INTO players (id, email, login, password_hash, country, currency, birth_date,
                           preferences, created_at)
       SELECT md5('p' || g)::uuid, 'p' || g || '@example.com', 'p' || g, 'x', 'DE', 'EUR',
              date '1990-01-01',
              jsonb_build_object('marketingConsents', jsonb_build_object('email', g % 2 = 0)),
              now() - interval '30 days'
       FROM generate_series(1, :players) g""",
    """INSERT INTO wallets (player_id, kind, currency)
       SELECT md5('p' || g)::uuid, 'REAL', 'EUR' FROM generate_series(1, :players) g""",
    """INSERT INTO outbox_events (event_id, type, source, subject, data, published_at)
       SELECT md5('e' || g)::uuid, 'player.registered', 'pms/bench', md5('p' || g)::uuid::text,
              jsonb_build_object('playerId', md5('p' || g)::uuid), now()
       FROM generate_series(1, :players) g""",
    """INSERT INTO ledger_transfers (operation_id, player_id, wallet_id, house_account,
                                    currency, amount, kind, balance_after, actor, created_at)
       SELECT md5('o' || g)::uuid, md5('p' || w)::uuid, w, 'CASH_CLEARING', 'EUR',
              CASE WHEN g % 3 = 0 THEN -500 ELSE 1000 END,
              CASE WHEN g % 3 = 0 THEN 'WITHDRAWAL' ELSE 'DEPOSIT' END, 0, 'bench',
              now() - interval '30 days' + (g * interval '30 days' / :transfers)
       FROM (SELECT g, 1 + (g % :players) AS w FROM generate_series(1, :transfers) g) s""",
]
BASELINE = (
    "COPY (SELECT t.id, t.created_at, t.operation_id, t.player_id, t.wallet_id, w.kind, "
    "t.house_account, t.currency, t.amount, t.kind, t.balance_after, t.reference "
    "FROM ledger_transfers t JOIN wallets w ON w.id = t.wallet_id ORDER BY t.id) TO STDOUT"
)


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Sampler:
    def __init__(self) -> None:
        self.samples: list[tuple[int, float]] = []

    def __call__(self, done: int, total: int) -> None:
        self.samples.append((done, rss_mib()))

    def report(self) -> str:
        if not self.samples:
            return "no samples"
        n = len(self.samples)
        picks = [self.samples[min(n - 1, int(n * f))] for f in (0.1, 0.5, 1.0)]
        shown = ", ".join(f"{done:,} rows: {mib:.0f} MiB" for done, mib in picks)
        return f"RSS {shown}; max {max(m for _, m in self.samples):.0f} MiB"


# The bench owns its database: the transfer indexes are built after the load, and the
# foreign-key triggers are skipped for the load (the generated ids are consistent).
TRANSFER_INDEXES = (
    ("ix_ledger_transfers_wallet_id_id", "wallet_id, id"),
    ("ix_ledger_transfers_player_id_id", "player_id, id"),
    ("ix_ledger_transfers_operation_id", "operation_id"),
)


async def seed(db: Database, players: int, transfers: int) -> None:
    t0 = time.perf_counter()
    async with db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for name, _ in TRANSFER_INDEXES:
            await conn.execute(text(f"DROP INDEX {name}"))
        for statement in SEED:
            await conn.execute(text(statement), {"players": players, "transfers": transfers})
        for name, columns in TRANSFER_INDEXES:
            await conn.execute(text(f"CREATE INDEX {name} ON ledger_transfers ({columns})"))
    async with db.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    print(f"seeded {players:,} players, {transfers:,} transfers in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip


async def baseline(url: str, out: Path) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        t0 = time.perf_counter()
        with (out / "baseline.copy").open("wb") as sink:
            await conn.copy_from_query(BASELINE[6:-10].strip("() "), output=sink)
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def export(db: Database, settings: Settings, kind: ExportKind, out: Path) -> None:
    sampler = Sampler()
    t0 = time.perf_counter()
    result = await service.run_export(db, settings, kind, None, out, actor="system:bench",
                                      progress=sampler)  # fmt: skip
    elapsed = time.perf_counter() - t0
    rows = sum(f.rows for f in result.files if f.name.endswith(".jsonl"))
    print(f"{kind.value} export: {rows:,} rows (JSONL + CSV) in {elapsed:.1f} s = "
          f"{rows / elapsed:,.0f} rows/s; {sampler.report()}")  # fmt: skip
    return None


async def import_list(db: Database, settings: Settings, rows: int) -> None:
    lines = ["player_id,action,value"] + [f"{_uuid(g)},consent_on,sms" for g in range(1, rows + 1)]
    data = ("\n".join(lines) + "\n").encode()
    big = settings.model_copy(update={"import_max_bytes": len(data) + 1})
    t0 = time.perf_counter()
    async with db.transaction() as s:
        plan = await imports.dry_run(s, data, "csv", big)
    dry = time.perf_counter() - t0
    assert not plan.problems, plan.problems[:3]
    t0 = time.perf_counter()
    await imports.apply(db, data, "csv", big, actor="system:bench", import_id="bench")
    applied = time.perf_counter() - t0
    print(f"import of {rows:,} rows: dry run {dry:.1f} s = {rows / dry:,.0f} rows/s; "
          f"apply {applied:.1f} s = {rows / applied:,.0f} rows/s")  # fmt: skip


def _uuid(g: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"p{g}".encode()).hexdigest()))


async def seeded(url: str, players: int, transfers: int) -> Database | None:
    """The database as a previous ``--seed-only`` left it (None: absent or other sizes)."""
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            found = (await conn.execute(text(
                "SELECT (SELECT count(*) FROM players), (SELECT count(*) FROM ledger_transfers),"
                " (SELECT count(*) FROM marketing_imports)"
            ))).one()  # fmt: skip
    except Exception:
        await db.dispose()
        return None
    if tuple(found) != (players, transfers, 0):
        await db.dispose()
        return None
    await asyncio.to_thread(migrations.upgrade, url)
    return db


async def main(
    url: str, players: int, transfers: int, import_rows: int, *, seed_only: bool, reuse: bool,
    skip_exports: bool,
) -> None:  # fmt: skip
    register_all()
    db = await seeded(url, players, transfers) if reuse else None
    if db is None:
        db = await fresh_database(url)
        await seed(db, players, transfers)
    else:
        print(f"reusing the seeded {players:,} players, {transfers:,} transfers")
    if seed_only:
        await db.dispose()
        return
    settings = Settings(_env_file=None, database_url=url, env="test")
    if not skip_exports:
        await exports(db, settings, url, transfers)
    if import_rows:
        await import_list(db, settings, min(import_rows, players))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {peak:.0f} MiB")
    await db.dispose()


async def exports(db: Database, settings: Settings, url: str, transfers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        seconds = await baseline(url, out)
        print(f"baseline COPY of {transfers:,} transfer rows: {seconds:.1f} s = "
              f"{transfers / seconds:,.0f} rows/s")  # fmt: skip
        t0 = time.perf_counter()
        await export(db, settings, ExportKind.ERP, out)
        erp = time.perf_counter() - t0
        print(
            f"ERP export / COPY baseline: {seconds / erp:.0%} of the baseline's rows/s "
            "(the ERP export also writes daily balances and totals)"
        )
        await export(db, settings, ExportKind.CRM, out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--transfers", type=int, default=10_000_000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a database seeded with these sizes"
    )
    parser.add_argument("--skip-exports", action="store_true", help="the import only")
    args = parser.parse_args()
    url = os.environ.get(
        "PMS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_exports"
    )
    asyncio.run(main(url, args.players, args.transfers, args.import_rows,
                     seed_only=args.seed_only, reuse=args.reuse,
                     skip_exports=args.skip_exports))  # fmt: skip
