"""Audit tree benchmark: maintainer throughput (entries/s sequenced, hashed and stored with
their inner nodes) and inclusion/consistency proof latency, at a given log size.

The database (default ``pms_bench_audit`` on the local server) is dropped and rebuilt.
Audit rows are generated in SQL, then the maintainer (``app.audit.tasks.maintain``, the
periodic task) sequences them all; proofs are then asked for random entries.

    .venv/bin/python bench/audit.py --entries 100000 --proofs 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time

from sqlalchemy import text

from app.audit import proofs, tasks
from app.core import migrations
from app.core.db import Database, ensure_database_exists
from app.core.settings import Settings

GENERATE = """
INSERT INTO audit_log (actor, principal_kind, action, target, outcome, ip, request_id,
                       user_agent, details)
SELECT 'service:game-engine', 'service', 'ledger.settleBet', md5(g::text), 'success',
       '10.1.2.3', md5((g * 7)::text), 'GameEngine/4.2',
       jsonb_build_object('operationId', md5((g * 13)::text))
FROM generate_series(1, :n) g"""


async def main(url: str, entries: int, samples: int) -> None:
    await ensure_database_exists(url)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(_env_file=None, database_url=url, audit_tree_batch=5000)
    async with db.transaction() as s:
        await s.execute(text(GENERATE), {"n": entries})

    t0 = time.perf_counter()
    sequenced = await tasks.maintain(db, settings)
    elapsed = time.perf_counter() - t0
    print(f"maintainer: {sequenced} entries in {elapsed:.2f} s = {sequenced / elapsed:,.0f}/s")

    ids = [random.randint(1, entries) for _ in range(samples)]
    inclusion, consistency = [], []
    async with db.read_session() as s:
        for entry in ids:
            t = time.perf_counter()
            await proofs.inclusion(s, entry)
            inclusion.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await proofs.consistency(s, random.randint(1, entries))
            consistency.append((time.perf_counter() - t) * 1000)
    for name, values in (("inclusion", inclusion), ("consistency", consistency)):
        values.sort()
        p99 = values[int(len(values) * 0.99) - 1]
        print(f"{name} proof at size {entries}: median {statistics.median(values):.2f} ms, "
              f"p99 {p99:.2f} ms")  # fmt: skip
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--proofs", type=int, default=200)
    args = parser.parse_args()
    url = os.environ.get(
        "PMS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_audit"
    )
    asyncio.run(main(url, args.entries, args.proofs))
