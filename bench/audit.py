"""Audit tree benchmark.

1. Tree maintenance and proofs at a large log size: a tree of ``--size`` leaves is seeded
   in bulk in SQL (leaves with synthetic hashes, every perfect inner node hashed level by
   level with ``sha256(0x01 || left || right)``, exactly what the maintainer would have
   stored), then ``--extend`` real audit rows are written and the maintainer
   (``app.audit.tasks.maintain``, the periodic task: JCS encoding, leaf and node hashing,
   signing checkpoints) sequences them on top: entries/s at that size. Then ``--proofs``
   inclusion and consistency proofs for random entries/sizes are timed.
2. ``--money``: the wallet benchmark's direct path (reserve + settle through the ledger
   service on asyncpg, bench/wallet.py's runner, imported) with the checkpointer running
   beside it vs not, alternating in one run; every money operation writes an audit row, so
   the maintainer has real work. Prints the ratio (target: no more than 5 % slower).

    .venv/bin/python bench/audit.py --size 1000000 --extend 50000 --proofs 300
    .venv/bin/python bench/audit.py --size 0 --money --seconds 10 --rounds 3

The database (default ``pms_bench_audit`` on the local server) is dropped and rebuilt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

import wallet  # noqa: E402  (bench/wallet.py: prepare, direct_pair, measure)
from fresh_db import fresh_database  # noqa: E402  (bench/fresh_db.py)

from app.audit import merkle, proofs, tasks, tree  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.core.settings import Settings  # noqa: E402

GENERATE = """
INSERT INTO audit_log (actor, principal_kind, action, target, outcome, ip, request_id,
                       user_agent, details)
SELECT 'service:game-engine', 'service', 'ledger.settleBet', md5(g::text), 'success',
       '10.1.2.3', md5((g * 7)::text), 'GameEngine/4.2',
       jsonb_build_object('operationId', md5((g * 13)::text))
FROM generate_series(1, :n) g"""

SEED_LEAVES = """
INSERT INTO audit_leaves (position, entry_id, leaf_hash)
SELECT g, g + 1, sha256('\\x00'::bytea || int8send(g)) FROM generate_series(0, :n - 1) g"""

# Level 1 from pairs of leaves, level k from pairs of level k-1: only complete pairs, so
# exactly the perfect subtrees the maintainer's frontier stores.
SEED_LEVEL_1 = """
INSERT INTO audit_tree_nodes (level, index, hash)
SELECT 1, l.position / 2, sha256('\\x01'::bytea || l.leaf_hash || r.leaf_hash)
FROM audit_leaves l JOIN audit_leaves r ON r.position = l.position + 1
WHERE l.position % 2 = 0"""
SEED_LEVEL = """
INSERT INTO audit_tree_nodes (level, index, hash)
SELECT CAST(:level AS smallint), a.index / 2, sha256('\\x01'::bytea || a.hash || b.hash)
FROM audit_tree_nodes a JOIN audit_tree_nodes b ON b.level = a.level AND b.index = a.index + 1
WHERE a.level = CAST(:level AS smallint) - 1 AND a.index % 2 = 0"""


async def seed_tree(db: Database, size: int) -> float:
    """A tree of ``size`` leaves, stored as the maintainer stores one; returns seconds."""
    t0 = time.perf_counter()
    async with db.transaction() as s:
        await s.execute(text(SEED_LEAVES), {"n": size})
        if size >= 2:
            await s.execute(text(SEED_LEVEL_1))
        for level in range(2, size.bit_length()):
            await s.execute(text(SEED_LEVEL), {"level": level})
        await s.execute(text("UPDATE audit_tree_state SET size = :n, time_floor = now()"),
                        {"n": size})  # fmt: skip
        # Real audit rows get ids after the synthetic entries'.
        await s.execute(text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), :n)"),
                        {"n": size})  # fmt: skip
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE audit_leaves"))
        await conn.execute(text("VACUUM ANALYZE audit_tree_nodes"))
    return time.perf_counter() - t0


async def check_seeded(db: Database, size: int) -> None:
    """The seeded nodes hash like RFC 6962: random paths rebuild the folded root."""
    async with db.read_session() as s:
        root = await tree.root_at(s, size)
        for _ in range(20):
            proof = await proofs.inclusion(s, random.randint(1, size), size)
            assert merkle.verify_inclusion(
                proof.leaf_index, size, proof.leaf_hash, proof.path, root
            ), "seeded tree is not an RFC 6962 tree"


async def tree_bench(url: str, size: int, extend: int, samples: int) -> None:
    db = await fresh_database(url)
    settings = Settings(_env_file=None, database_url=url, audit_tree_batch=5000)
    if size:
        seeded = await seed_tree(db, size)
        await check_seeded(db, size)
        print(f"seeded a tree of {size:,} leaves in SQL in {seeded:.1f} s")
    async with db.transaction() as s:
        await s.execute(text(GENERATE), {"n": extend})
    t0 = time.perf_counter()
    sequenced = await tasks.maintain(db, settings)
    elapsed = time.perf_counter() - t0
    total = size + sequenced
    print(f"maintainer at {size:,} -> {total:,}: {sequenced:,} entries in {elapsed:.2f} s "
          f"= {sequenced / elapsed:,.0f} entries/s")  # fmt: skip

    inclusion, consistency = [], []
    async with db.read_session() as s:
        for _ in range(samples):
            entry = random.randint(1, total)
            t = time.perf_counter()
            await proofs.inclusion(s, entry)
            inclusion.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await proofs.consistency(s, random.randint(1, total))
            consistency.append((time.perf_counter() - t) * 1000)
    for name, values in (("inclusion", inclusion), ("consistency", consistency)):
        values.sort()
        p99 = values[max(int(len(values) * 0.99) - 1, 0)]
        print(f"{name} proof at size {total:,}: median {statistics.median(values):.2f} ms, "
              f"p99 {p99:.2f} ms")  # fmt: skip
    await db.dispose()


async def checkpointer(db: Database, settings: Settings, stop: asyncio.Event) -> int:
    """The periodic task as every replica runs it: maintain every interval."""
    done = 0
    while not stop.is_set():
        done += await tasks.maintain(db, settings)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.audit_tree_interval_seconds)
    return done


async def money_bench(url: str, wallets: int, clients: int, seconds: float, rounds: int) -> None:
    import asyncpg

    from app.core.db import asyncpg_dsn

    players = await wallet.prepare(url, wallets)
    wallet.register_all()
    settings = Settings(_env_file=None, database_url=url)
    db = Database(url)
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=clients, max_size=clients)

    async def one(_i: int) -> None:
        await wallet.direct_pair(pool, settings, wallet.pick(players, False))

    await wallet.measure(clients, 2.0, one)  # warm-up
    await tasks.maintain(db, settings)
    results: dict[bool, list[float]] = {False: [], True: []}
    sequenced = 0
    try:
        # ABBA order (off on on off ...): a drift of the shared machine's load during the
        # run weighs on both sides alike.
        for r in range(rounds):
            for running in (False, True) if r % 2 == 0 else (True, False):
                stop = asyncio.Event()
                task = asyncio.create_task(checkpointer(db, settings, stop)) if running else None
                rate, p50, p99, _cpu = await wallet.measure(clients, seconds, one)
                stop.set()
                if task is not None:
                    sequenced += await task
                else:
                    await tasks.maintain(db, settings)  # catch up off the clock
                results[running].append(rate)
                print(f"checkpointer {'on ' if running else 'off'}: {rate:7.1f} pairs/s, "
                      f"p50 {p50:6.1f} ms, p99 {p99:6.1f} ms")  # fmt: skip
    finally:
        await pool.close()
    async with db.read_session() as s:
        size = (await s.execute(text("SELECT size FROM audit_tree_state"))).scalar_one()
        signed = (await s.execute(text("SELECT count(*) FROM audit_checkpoints"))).scalar_one()
    off, on = statistics.mean(results[False]), statistics.mean(results[True])
    paired = statistics.median(a / b for a, b in zip(results[True], results[False], strict=True))
    print(f"{clients} clients, {rounds} x 2 x {seconds:g} s: off {off:.1f}/s, on {on:.1f}/s, "
          f"on/off = {on / off:.1%} (median of the rounds' ratios {paired:.1%}); the "
          f"maintainer sequenced {sequenced:,} entries while on; tree {size:,}, "
          f"{signed} checkpoints")  # fmt: skip
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000, help="seeded tree size")
    parser.add_argument("--extend", type=int, default=50_000, help="real rows sequenced on top")
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--money", action="store_true", help="money path, checkpointer on/off")
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get(
        "PMS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_audit"
    )
    if args.money:
        asyncio.run(money_bench(url, args.wallets, args.clients, args.seconds, args.rounds))
    else:
        asyncio.run(tree_bench(url, args.size, args.extend, args.proofs))
