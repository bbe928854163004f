"""Where the group commit's database time goes: rounds of N concurrent reserve+settle pairs
through app/ledger/coalesce.py (so the set-based batch's LOAD and APPLY run), on a fresh
database of the machine's PostgreSQL seeded as bench/wallet.py seeds it. Prints, per
statement kind (BLOAD/BAPPLY: the batch's; LOAD/APPLY: calls run alone), auto_explain's
time per operation summed by plan node and trigger (node times include their children's;
on a loaded machine a descheduled backend's wait lands on whatever node was running: read
across runs), then the generic/custom plan counts of every pooled connection's prepared
statements (pg_prepared_statements).

    .venv/bin/python bench/batch_plans.py [--clients 16] [--rounds 40] [--hot] [--no-explain]

``--hot``: every pair on one player's wallets. ``--no-explain``: plan counts only
(without auto_explain's timing overhead). Not part of the test suite; the database
(default ``pms_bench_batch_plans``) is dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import wallet  # noqa: E402  (bench/wallet.py: the same seed and the same coalesced pair)

from app.core.db import asyncpg_dsn  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.ledger.coalesce import Coalescer  # noqa: E402
from pms.hooks import register_all  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_batch_plans"
EXPLAIN = ("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
           "SET auto_explain.log_analyze = on; SET auto_explain.log_triggers = on; "
           "SET client_min_messages = log")  # fmt: skip
NODE = re.compile(
    r"->  ((?:Insert|Update|Delete) on \w+|Index (?:Only )?Scan using \w+|Bitmap Heap Scan "
    r"on \w+|LockRows|Seq Scan on \w+).*actual time=[\d.]+\.\.([\d.]+) rows=\d+ loops=(\d+)"
)
TRIGGER = re.compile(r"^Trigger (.*?)(?: on \w+)?: time=([\d.]+) calls=\d+")
DURATION = re.compile(r"duration: ([\d.]+) ms")


def kind(sql: str) -> str:
    if "AS rounds_inserted" in sql:
        return "BAPPLY"
    if "c(operation, key, hash)" in sql:
        return "BLOAD"
    if "AS holds_inserted" in sql:
        return "APPLY"
    if "INSERT INTO idempotency_keys" in sql:
        return "LOAD"
    return "other"


def summed(plans: list[str]) -> dict[str, Counter[str]]:
    """Per statement kind: total ms of the statements, of each node and trigger."""
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for plan in plans:
        c = by_kind[kind(plan)]
        c["statements"] += 1
        if m := DURATION.search(plan):
            c["duration"] += float(m.group(1))
        for line in plan.splitlines():
            if m := NODE.search(line):
                c[m.group(1)] += float(m.group(2)) * int(m.group(3))
            elif m := TRIGGER.match(line.strip()):
                c["trigger " + m.group(1)] += float(m.group(2))
    return by_kind


async def plan_counts(pool: asyncpg.Pool, size: int) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    conns = [await pool.acquire() for _ in range(size)]
    try:
        for conn in conns:
            for r in await conn.fetch(
                "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements"
            ):
                counts[(kind(r["statement"]), "generic")] += r["generic_plans"]
                counts[(kind(r["statement"]), "custom")] += r["custom_plans"]
    finally:
        for conn in conns:
            await pool.release(conn)
    return counts


async def run(url: str, clients: int, rounds: int, hot: bool, explain: bool) -> None:
    players = await wallet.prepare(url, 10_000)
    settings = Settings()
    plans: list[str] = []

    async def setup(conn: asyncpg.Connection) -> None:
        if explain:
            await conn.execute(EXPLAIN)
            conn.add_log_listener(lambda _c, msg: plans.append(msg.message))

    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=clients, max_size=clients,
                                     setup=setup)  # fmt: skip
    co = Coalescer(wallet.pool_transaction(pool), size=settings.ledger_coalesce_size,
                   concurrency=settings.ledger_coalesce_concurrency)  # fmt: skip

    async def one_round(i: int) -> None:
        await asyncio.gather(*(
            wallet.coalesced_pair(co, settings, players[0 if hot else (i * clients + j) %
                                                        len(players)])
            for j in range(clients)
        ))  # fmt: skip

    try:
        for i in range(rounds):  # warm-up: prepared statements, the plan cache settled
            await one_round(i)
        plans.clear()
        for i in range(rounds, 2 * rounds):
            await one_round(i)
        counts = await plan_counts(pool, clients)
    finally:
        await pool.close()
        conn = await asyncpg.connect(asyncpg_dsn(url.rsplit("/", 1)[0] + "/postgres"))
        await conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
        await conn.close()
    ops = 2 * clients * rounds
    for name, c in sorted(summed(plans).items()):
        print(f"== {name}: {c.pop('statements')} statements, "
              f"{c.pop('duration', 0.0) * 1000 / ops:.1f} us per operation")  # fmt: skip
        for node, ms in c.most_common(25):
            print(f"   {ms * 1000 / ops:8.1f} us/op  {node}")
    print("\nplans (all pooled connections, warm-up included):")
    for name in ("BLOAD", "BAPPLY", "LOAD", "APPLY"):
        print(f"  {name:<7} generic {counts[(name, 'generic')]:>6}  "
              f"custom {counts[(name, 'custom')]:>6}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--hot", action="store_true", help="every pair on one player")
    parser.add_argument("--no-explain", action="store_true", help="plan counts only")
    args = parser.parse_args()
    register_all()
    asyncio.run(run(args.url, args.clients, args.rounds, args.hot, not args.no_explain))


if __name__ == "__main__":
    main()
