"""Monthly partitions: made ahead by the periodic task (many replicas at once make each
one once), rows land in their month, rows outside every month in the default."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from app.retention.partitions import (
    PARTITIONED,
    add_months,
    create_month,
    ensure_partitions,
    month_of,
    partition_name,
)
from tests.integration.retention.helpers import exists, scalar


@pytest.mark.race
async def test_many_replicas_make_each_missing_partition_once(db, settings):
    this_month = month_of(datetime.now(UTC))
    wanted = [add_months(this_month, 2), add_months(this_month, 3)]
    names = sorted(partition_name(t, m) for t in PARTITIONED for m in wanted)
    async with db.transaction() as session:
        for name in names:
            await session.execute(text(f"DROP TABLE IF EXISTS pms_partitions.{name}"))

    made = await asyncio.gather(*(ensure_partitions(db, settings) for _ in range(6)))

    assert sorted(n for names_made in made for n in names_made) == names
    for name in names:
        assert await exists(db, f"pms_partitions.{name}")
    assert await ensure_partitions(db, settings) == []  # nothing missing: catalog read only


async def test_rows_land_in_their_month_and_strays_in_the_default(db, settings):
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO audit_log (actor, action, outcome, occurred_at) VALUES "
                "('t', 'now', 'success', now()), ('t', 'far', 'success', '2090-01-15+00')"
            )
        )
    placed = await scalar(
        db,
        "SELECT string_agg(action || '=' || tableoid::regclass::text, ',' ORDER BY action) "
        "FROM audit_log",
    )
    month = month_of(datetime.now(UTC))
    assert placed == (
        "far=pms_partitions.audit_log_default,"
        f"now=pms_partitions.{partition_name('audit_log', month)}"
    )
    # a month whose rows already sit in the default is refused (logged), rows kept
    async with db.transaction() as session:
        assert not await create_month(session, "audit_log", date(2090, 1, 1))
    assert not await exists(db, "pms_partitions.audit_log_p2090_01")
    assert await scalar(db, "SELECT count(*) FROM audit_log") == 2


async def test_the_append_only_triggers_hold_on_every_partition(db, settings):
    async with db.transaction() as session:
        await session.execute(
            text("INSERT INTO audit_log (actor, action, outcome) VALUES ('t', 'a', 'success')")
        )
    month = month_of(datetime.now(UTC))
    for target in ("audit_log", f"pms_partitions.{partition_name('audit_log', month)}"):
        with pytest.raises(Exception, match="append-only"):
            async with db.transaction() as session:
                await session.execute(text(f"UPDATE {target} SET outcome = 'failure'"))
    assert await scalar(db, "SELECT outcome FROM audit_log") == "success"
