"""Fraud scoring throughput: generated normal players' events (the simulator of
tests/integration/fraud) drained through the fraud consumer; prints events/s.

    .venv/bin/python bench/fraud_scoring.py --players 300 \
        --url postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_fraud

The database is dropped and re-migrated on every run. Baseline in the same run: the
play-style consumer (app/playstyle) over the same events, the other per-event consumer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from sqlalchemy import text

from app.core.db import Database
from app.core.settings import Settings
from app.fraud.consumer import consume_events
from app.fraud.defaults import seed
from app.playstyle.consumer import consume_money_events
from tests.integration.fraud.simulator import generate_normal_players


async def _fresh(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(url.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    from alembic.config import Config

    from alembic import command

    cfg = Config("alembic.ini")
    cfg.set_main_option("sqlalchemy.url", url)
    await asyncio.to_thread(command.upgrade, cfg, "head")


async def _drain(consume, db: Database, settings: Settings) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    started, total = time.perf_counter(), 0
    while (n := await consume(db, settings)) > 0:
        total += n
    return total, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--players", type=int, default=300)
    parser.add_argument(
        "--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_fraud"
    )
    args = parser.parse_args()
    await _fresh(args.url)
    settings = Settings(_env_file=None, database_url=args.url, run_background_tasks=False)
    db = Database(args.url, pool_size=4, max_overflow=0)
    async with db.transaction() as session:
        await seed(session)
    crowd = await generate_normal_players(db, args.players)
    print(f"{args.players} players, {crowd.events} events")
    fraud_n, fraud_s = await _drain(consume_events, db, settings)
    play_n, play_s = await _drain(consume_money_events, db, settings)
    async with db.read_session() as session:
        hits = (await session.execute(text("SELECT count(*) FROM fraud_hits"))).scalar()
    fraud_rate, play_rate = fraud_n / fraud_s, play_n / play_s
    print(f"fraud consumer:     {fraud_n} events in {fraud_s:.1f} s = {fraud_rate:.0f} events/s"
          f" ({hits} rule hits)")  # fmt: skip
    print(f"playstyle consumer: {play_n} events in {play_s:.1f} s = {play_rate:.0f} events/s")
    print(f"ratio fraud/playstyle: {fraud_rate / play_rate:.2f}")
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
