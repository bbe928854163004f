"""EXPLAIN ANALYZE of the money path's statements as the kernel runs them: auto_explain
(loaded per session, its LOG messages sent to this client) around reserve+settle pairs of
the direct path, on a fresh database of the machine's PostgreSQL. Prints the plans of the
last pair (LOAD and APPLY of reserve, then of settle) with timing, triggers included.

    .venv/bin/python bench/explain_apply.py [--url URL] [--pairs 200] [--wallets 10000]

``--coalesced N``: N concurrent pairs through the group commit (app/ledger/coalesce.py)
instead, so the plans shown are the set-based batch's LOAD and APPLY (of the last round).

``--profile``: no auto_explain; cProfile of the pairs instead (our Python and the
driver's, by own time), e.g. ``--profile --pairs 2000 --wallets 1000``.

Not part of the test suite; the database (default ``pms_bench_explain``) is dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import wallet  # noqa: E402  (bench/wallet.py: the same seed and the same direct pair)

from app.core.db import asyncpg_dsn  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.ledger.coalesce import Coalescer  # noqa: E402
from pms.hooks import register_all  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_explain"


async def run(url: str, pairs: int, wallets: int, profile: bool, coalesced: int) -> None:
    players = await wallet.prepare(url, wallets)
    settings = Settings()
    plans: list[str] = []

    async def setup(conn: asyncpg.Connection) -> None:
        if profile:
            return
        await conn.execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
            "SET auto_explain.log_analyze = on; SET auto_explain.log_triggers = on; "
            "SET auto_explain.log_buffers = on; SET client_min_messages = log"
        )
        conn.add_log_listener(lambda _c, msg: plans.append(msg.message))

    size = max(1, coalesced)
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=size, max_size=size,
                                     setup=setup)  # fmt: skip
    co = Coalescer(wallet.pool_transaction(pool), size=settings.ledger_coalesce_size,
                   concurrency=settings.ledger_coalesce_concurrency)  # fmt: skip

    async def pair(i: int) -> None:
        if not coalesced:
            return await wallet.direct_pair(pool, settings, players[i % len(players)])
        await asyncio.gather(*(wallet.coalesced_pair(co, settings, players[(i * size + j) %
                               len(players)]) for j in range(size)))  # fmt: skip

    try:
        for i in range(min(pairs, 200)):  # warm-up: prepared statements, generic plans
            await pair(i)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        for i in range(pairs):
            plans.clear()
            await pair(i)
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        for plan in plans:
            if "LOAD" in plan or ("INSERT" in plan and (not coalesced or "unnest" in plan)):
                print(plan, "\n")
    finally:
        await pool.close()
        conn = await asyncpg.connect(asyncpg_dsn(url.rsplit("/", 1)[0] + "/postgres"))
        await conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="cProfile instead of plans")
    parser.add_argument(
        "--coalesced",
        type=int,
        default=0,
        help="concurrent pairs through the group commit (0: the direct path)",
    )
    args = parser.parse_args()
    register_all()
    asyncio.run(run(args.url, args.pairs, args.wallets, args.profile, args.coalesced))


if __name__ == "__main__":
    main()
