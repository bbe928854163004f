"""Full segment recompute over 100k players (set-based SQL), with a baseline.

    PMS_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench \
        .venv/bin/python bench/segments.py [--players 100000]

The database is dropped and rebuilt (migrations), players and their metrics are generated
with INSERT ... SELECT generate_series (not through the API). Then five segments are
recomputed from scratch (everyone enters), again (nothing changes), and after a shift of
metrics (some leave, some enter). Baseline: the plain SELECT count(*) of each rule.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from fresh_db import fresh_database  # bench/fresh_db.py
from sqlalchemy import func, select, text

from app.core.settings import Settings
from app.segments import rules
from app.segments.service import create_segment, recompute_all

SEGMENTS = {
    "dach": {"attr": "country", "op": "in", "value": ["DE", "AT", "CH"]},
    "high value": {"and": [{"attr": "netDeposits", "op": "gte", "value": 50_000},
                           {"attr": "ggr", "op": "gt", "value": 0}]},
    "active grinders": {"and": [{"attr": "activityStatus", "op": "eq", "value": "ACTIVE"},
                                {"attr": "betsPerDay", "op": "gte", "value": 5}]},
    "dormant vip": {"and": [{"attr": "vipLevel", "op": "gte", "value": 1},
                            {"not": {"attr": "activityStatus", "op": "eq", "value": "ACTIVE"}}]},
    "affiliates": {"or": [{"attr": "trafficSource", "op": "eq", "value": "affiliate"},
                          {"attr": "tags", "op": "contains", "value": "whale"}]},
}  # fmt: skip

GENERATE = """
INSERT INTO players (id, email, login, password_hash, country, currency, birth_date,
                     traffic_source, vip_level, created_at)
SELECT gen_random_uuid(), 'bench' || g || '@example.com', 'bench' || g, 'x',
       (ARRAY['DE','AT','CH','FR','GB','US','SE','BR'])[1 + g % 8], 'EUR', DATE '1990-01-01',
       CASE WHEN g % 5 = 0 THEN 'affiliate' ELSE 'organic' END,
       CASE WHEN g % 50 = 0 THEN 2 ELSE 0 END,
       now() - make_interval(days => g % 400)
FROM generate_series(1, :n) g;
"""
METRICS = """
INSERT INTO player_metrics (player_id, currency, bet_count, stake_total, win_total,
                            deposit_count, deposit_total, withdrawal_total, first_bet_at,
                            last_bet_at, last_activity_at)
SELECT id, 'EUR', (h % 500), (h % 500) * 250, (h % 500) * 240, 1 + h % 7, (h % 997) * 100,
       (h % 13) * 100, now() - make_interval(days => 30 + h % 300),
       now() - make_interval(days => h % 120), now() - make_interval(days => h % 120)
FROM (SELECT id, abs(hashtext(id::text)) AS h FROM players) p;
"""
TAGS = (
    "INSERT INTO player_tags SELECT id, 'whale' FROM players"
    " WHERE abs(hashtext(id::text)) % 100 = 0"
)
SHIFT = (
    "UPDATE player_metrics SET deposit_total = deposit_total + 30000"
    " WHERE abs(hashtext(player_id::text)) % 10 = 0"
)


async def main(url: str, n: int) -> None:
    db = await fresh_database(url)
    settings = Settings(_env_file=None, database_url=url)

    t0 = time.perf_counter()
    async with db.transaction() as s:
        await s.execute(text(GENERATE), {"n": n})
        await s.execute(text(METRICS))
        await s.execute(text(TAGS))
    async with db.engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        await conn.execute(text("ANALYZE"))
    print(f"generated {n} players + metrics in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    async with db.read_session() as s:
        for rule in SEGMENTS.values():
            cond = rules.compile_rule(rule, settings)
            await s.execute(select(func.count()).select_from(rules.BASE).where(cond))
    baseline = time.perf_counter() - t0
    print(f"baseline: SELECT count(*) of the {len(SEGMENTS)} rules: {baseline:.2f}s")

    async with db.transaction() as s:
        for name, rule in SEGMENTS.items():
            # create_segment computes membership too; time recompute_all separately below
            await create_segment(s, name=name, rule=rule, actor="bench", settings=settings)
        await s.execute(text("DELETE FROM segment_members"))
        await s.execute(text("DELETE FROM outbox_events"))

    for label, prepare in (("first full recompute (all enter)", None),
                           ("second full recompute (no change)", None),
                           ("after metric shift (some move)", SHIFT)):  # fmt: skip
        if prepare:
            async with db.transaction() as s:
                await s.execute(text(prepare))
        t0 = time.perf_counter()
        async with db.transaction() as s:
            results = await recompute_all(s, settings)
        elapsed = time.perf_counter() - t0
        entered = sum(r.entered for r in results)
        left = sum(r.left for r in results)
        print(f"{label}: {elapsed:.2f}s ({elapsed / baseline:.1f}x baseline), "
              f"{entered} entered, {left} left")  # fmt: skip
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--players", type=int, default=100_000)
    args = parser.parse_args()
    url = os.environ.get(
        "PMS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_kyc_bench"
    )
    asyncio.run(main(url, args.players))
