"""Which plan PostgreSQL picks for LOAD: its generic and custom plan costs (EXPLAIN EXECUTE
under force_generic_plan / force_custom_plan) for a reserve and a settle, then eight
executions under the default plan_cache_mode (rolled back) and the statement's
``generic_plans`` / ``custom_plans`` counts from pg_prepared_statements. A statement that
keeps choosing custom plans is planned again on every execution.

    .venv/bin/python bench/plan_choice.py [--url URL] [--wallets 2000]

Seeds as bench/wallet.py does (history included, then ANALYZE); the database (default
``pms_bench_plans``) is dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import wallet  # noqa: E402

from app.core.db import asyncpg_dsn  # noqa: E402
from app.ledger import hooks  # noqa: E402
from pms.hooks import register_all  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_plans"
TYPES = "text, text, text, text, uuid, bigint[], text, text, text, text, boolean"


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "ARRAY[" + ",".join(map(str, value)) + "]::bigint[]"
    return f"'{value}'"


async def run(url: str, wallets: int) -> None:
    players = await wallet.prepare(url, wallets)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        hold = await conn.fetchval("SELECT id FROM ledger_holds LIMIT 1")
        cases = {
            "reserve": ["s", "reserveBet", "k", "h", players[0], [], "s", None, None, "t", True],
            "settle": ["s", "settleBet", "k", "h", players[0], [hold], "s", None, None, "t", False],
        }
        await conn.execute(f"PREPARE load_stmt({TYPES}) AS {hooks.statements().load}")
        for name, args in cases.items():
            for mode in ("force_generic_plan", "force_custom_plan"):
                await conn.execute(f"SET plan_cache_mode = {mode}")
                plan = await conn.fetchval(
                    f"EXPLAIN EXECUTE load_stmt({', '.join(map(literal, args))})"
                )
                print(f"{name:8} {mode:20} {plan}")
        await conn.execute("RESET plan_cache_mode")
        for i in range(8):
            args = list(cases["settle" if i % 2 else "reserve"])
            args[2] = f"k{i}"
            tr = conn.transaction()
            await tr.start()
            await conn.fetch(f"EXECUTE load_stmt({', '.join(map(literal, args))})")
            await tr.rollback()
        counts = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE name = 'load_stmt'"
        )
        print(f"after 4 EXPLAINs and 8 executions: {dict(counts)}")
    finally:
        await conn.close()
        admin = await asyncpg.connect(asyncpg_dsn(url.rsplit("/", 1)[0] + "/postgres"))
        await admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--wallets", type=int, default=2000)
    args = parser.parse_args()
    register_all()
    asyncio.run(run(args.url, args.wallets))


if __name__ == "__main__":
    main()
