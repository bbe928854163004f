"""CPU per operation of walletBatch, in process (raw ASGI calls into ``create_app``, as
bench/gql_cpu.py does): this process's CPU ms per reserveBet sent in batches of
``--batch``, and with ``--profile`` the functions that cost most (cProfile, sorted by
own time) and the Python calls per operation, a figure the machine's load does not move.

    .venv/bin/python bench/batch_cpu.py [--batch 100] [--requests 30] [--profile]

Runs on a private embedded PostgreSQL under .pms/bench (bench/wallet.py's) unless --url.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import batch as b  # noqa: E402
import gql_cpu  # noqa: E402
import wallet as w  # noqa: E402

_seq = itertools.count()
PG_STATS = """
SELECT calls, mean_exec_time AS exec_ms, mean_plan_time AS plan_ms,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 60) AS q
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 6
"""


async def main_async(args: argparse.Namespace, url: str) -> None:
    import asyncpg
    import httpx

    from app.core.db import asyncpg_dsn
    from app.core.settings import Settings
    from bench.profile_gql import token_for
    from pms.asgi import create_app

    players = await w.prepare(url, args.wallets)
    settings = Settings(_env_file=None, env="prod", secret_key=w.BENCH_SECRET_KEY,
                        database_url=url, run_background_tasks=False,
                        sms_sender="bench.null_sms:NullSmsSender", database_pool_size=10,
                        database_max_overflow=0)  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            token = f"Bearer {await token_for(http, url, settings)}".encode()

        async def one() -> None:
            ops = b.batch_ops(args.mix, args.batch, players)
            body = json.dumps({"query": b.BATCH, "variables": {"ops": ops}}).encode()
            answer = await gql_cpu.asgi_post(app, token, body)
            assert answer["data"]["walletBatch"]["applied"] == args.batch, str(answer)[:500]

        for _ in range(5):
            await one()  # warm the caches, the pool and the prepared statements
        conn = await asyncpg.connect(asyncpg_dsn(url))
        stats_on = await w.has_pg_stat_statements(conn)
        if stats_on:
            await conn.execute("SELECT pg_stat_statements_reset()")
        cpu = time.process_time()
        for _ in range(args.requests):
            await one()
        per_op = (time.process_time() - cpu) * 1000 / (args.requests * args.batch)
        print(f"batch {args.batch}: {per_op:.3f} CPU ms per operation (this process)")
        if stats_on:
            print("PostgreSQL per statement (pg_stat_statements): calls, mean exec/plan ms")
            for r in await conn.fetch(PG_STATS):
                print(f"  {r['calls']:5d} {r['exec_ms']:8.2f} {r['plan_ms']:6.2f}  {r['q']}")
        await conn.close()
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                await one()
            profiler.disable()
            if args.dump:
                profiler.dump_stats(args.dump)
            stats = pstats.Stats(profiler)
            calls = stats.total_calls / (args.requests * args.batch)  # type: ignore[attr-defined]
            print(f"Python calls per operation (cProfile): {calls:.0f}")
            stats.sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="default: a private embedded PostgreSQL")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--wallets", type=int, default=2000)
    parser.add_argument("--mix", default="reserve", choices=b.MIXES,
                        help="the batch's operations (bench/batch.py --mixes)")  # fmt: skip
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", help="also write the cProfile stats to this file")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key (cumulative, ...)")
    args = parser.parse_args()
    url = args.url or w.private_server(ROOT / ".pms" / "bench")
    from pms.hooks import register_all

    register_all()
    asyncio.run(main_async(args, url))


if __name__ == "__main__":
    main()
