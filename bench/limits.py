"""Gambling-limits benchmark (issue 13): the money path with limits configured on every
player vs none, in ONE run and interleaved, so machine noise (a shared 2-core VM) hits
both sides alike.

    .venv/bin/python bench/limits.py [--seconds 3] [--rounds 4] [--wallets 4000]

The players are split in two halves: the first has no limit rows, the second five limits
each (WAGER day and week, LOSS day, DEPOSIT month, SESSION; never reached) and a live
sign-in session (``play_sessions``: what the SESSION limit reads in LOAD). Reserve+settle
pairs run on the direct asyncpg path (bench/wallet.py's ``direct_pair``: the service
functions, no HTTP), alternating no-limits / limits cells ``--rounds`` times per
scenario; the ratio is limits over no limits of the median cells. Each cell also records
the CPU time per pair of this process (the Python rules) and of the pool's PostgreSQL
backends (read from /proc: the server must run on this machine): on a shared machine CPU
per pair is much steadier than throughput. Not part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.db import asyncpg_dsn  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from bench.wallet import DEFAULT_URL, cpu_seconds, direct_pair, measure, pick, prepare  # noqa: E402
from pms.hooks import register_all  # noqa: E402

CLIENTS = (8, 16)
POOL = 16  # the PostgreSQL server is shared by every engineer's suites

LIMITS_SQL = """
INSERT INTO gambling_limits (player_id, kind, period, currency, amount)
SELECT p, k.kind, k.period, 'EUR', CASE WHEN k.kind = 'SESSION' THEN 1440 ELSE 1000000000000 END
FROM unnest($1::uuid[]) AS p
CROSS JOIN (VALUES ('WAGER', 'DAY'), ('WAGER', 'WEEK'), ('LOSS', 'DAY'), ('DEPOSIT', 'MONTH'),
                   ('SESSION', 'DAY')) AS k(kind, period);
"""
SESSIONS_SQL = """
INSERT INTO play_sessions (player_id, session_id, started_at, signed_in_at, expires_at)
SELECT p, 'bench-' || p, now(), now(), now() + interval '1 day' FROM unnest($1::uuid[]) AS p;
"""


async def configure(url: str, limited: list[uuid.UUID]) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(LIMITS_SQL, limited)
        await conn.execute(SESSIONS_SQL, limited)
        await conn.execute("ANALYZE gambling_limits; ANALYZE play_sessions")
    finally:
        await conn.close()


# pairs/s, p50 ms, client CPU ms per pair, database CPU ms per pair
Cell = tuple[float, float, float, float]
APP_NAME = "pms-bench-limits"


async def backend_pids(pool: asyncpg.Pool) -> list[int]:
    """The PostgreSQL backends of the pool's connections (all opened: min_size = max)."""
    rows = await pool.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
                            "AND datname = current_database()", APP_NAME)  # fmt: skip
    return [r["pid"] for r in rows]


def db_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def cell(pool: asyncpg.Pool, pids: list[int], settings: Settings, clients: int,
               seconds: float, players: list[uuid.UUID], hot: bool) -> Cell:  # fmt: skip
    pairs = 0

    async def one_pair(_i: int) -> None:
        nonlocal pairs
        await direct_pair(pool, settings, pick(players, hot))
        pairs += 1

    before = db_cpu(pids)
    rate, p50, _p99, client_ms = await measure(clients, seconds, one_pair)
    return rate, p50, client_ms, (db_cpu(pids) - before) * 1000 / max(pairs, 1)


async def run(url: str, plain: list[uuid.UUID], limited: list[uuid.UUID], seconds: float,
              rounds: int) -> dict[tuple[bool, bool, int], list[Cell]]:  # fmt: skip
    settings = Settings(_env_file=None, database_url=url)
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=POOL, max_size=POOL,
                                     server_settings={"application_name": APP_NAME})  # fmt: skip
    pids = await backend_pids(pool)
    results: dict[tuple[bool, bool, int], list[Cell]] = {}
    try:
        for hot in (False, True):
            for clients in CLIENTS:
                for i in range(rounds):
                    # Alternate which side goes first, so neither always runs on a
                    # table the other has just bloated.
                    order = (False, True) if i % 2 == 0 else (True, False)
                    for limits in order:
                        players = limited if limits else plain
                        measured = await cell(pool, pids, settings, clients, seconds, players,
                                              hot)  # fmt: skip
                        results.setdefault((limits, hot, clients), []).append(measured)
    finally:
        await pool.close()
    return results


def report(results: dict[tuple[bool, bool, int], list[Cell]], rounds: int) -> None:
    print(f"\nreserve+settle pairs/s, direct asyncpg path, median of {rounds} interleaved cells")
    print("CPU ms per pair (median): client (Python) + database backends; "
          "cpu ratio = no limits / limits")  # fmt: skip
    print(f"{'scenario':<8} {'clients':>7} | {'no limits':>22} | {'5 limits + session':>22} "
          f"| ratio | {'CPU no limits':>13} | {'CPU limits':>13} | cpu ratio "
          "| per-round ratios")  # fmt: skip
    for hot in (False, True):
        for clients in CLIENTS:
            a, b = results[(False, hot, clients)], results[(True, hot, clients)]
            rate_a = statistics.median(c[0] for c in a)
            rate_b = statistics.median(c[0] for c in b)
            p50_a = statistics.median(c[1] for c in a)
            p50_b = statistics.median(c[1] for c in b)
            cpu_a = [statistics.median(c[i] for c in a) for i in (2, 3)]
            cpu_b = [statistics.median(c[i] for c in b) for i in (2, 3)]
            rounds_ratio = " ".join(f"{y[0] / x[0]:.0%}" for x, y in zip(a, b, strict=True))
            print(f"{'hot' if hot else 'spread':<8} {clients:>7} | "
                  f"{rate_a:8.0f}/s p50 {p50_a:6.1f} | {rate_b:8.0f}/s p50 {p50_b:6.1f} | "
                  f"{rate_b / rate_a:5.0%} | {cpu_a[0]:5.2f} + {cpu_a[1]:5.2f} | "
                  f"{cpu_b[0]:5.2f} + {cpu_b[1]:5.2f} | {sum(cpu_a) / sum(cpu_b):9.0%} | "
                  f"{rounds_ratio}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--url",
        default=os.environ.get("PMS_BENCH_DATABASE_URL", DEFAULT_URL.replace("wallet", "limits")),
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--wallets", type=int, default=4000)
    args = parser.parse_args()

    register_all()  # the ledger extensions the server runs (bonuses, limits, fraud hold)
    players = asyncio.run(prepare(args.url, args.wallets))
    # The hot player of each half is its first: pick() takes players[0].
    plain, limited = players[: len(players) // 2], players[len(players) // 2 :]
    asyncio.run(configure(args.url, limited))
    print(f"seeded {len(players)} players ({len(limited)} with limits); "
          f"{args.seconds:.0f} s per cell", flush=True)  # fmt: skip
    report(asyncio.run(run(args.url, plain, limited, args.seconds, args.rounds)), args.rounds)


if __name__ == "__main__":
    main()
