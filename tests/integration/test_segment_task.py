"""The periodic full recompute: built by the registry's task type, one replica at a time."""

from __future__ import annotations

from sqlalchemy import select, text

from app.core.db import Database
from app.core.tasks import PeriodicTask
from app.segments import tasks
from app.segments.models import Segment, SegmentMember
from tests.factories import create_player


def test_the_task_is_built_by_the_registry_type(settings):
    task = tasks.recompute_segments_task(settings, PeriodicTask)
    assert task == PeriodicTask(
        "segments-recompute", settings.segment_recompute_interval_seconds, tasks.run_recompute
    )


async def _seed(db: Database, settings) -> Segment:
    async with db.transaction() as s:
        segment = Segment(
            name="de", rule={"attr": "country", "op": "eq", "value": "DE"}, created_by="a"
        )
        s.add(segment)  # added without a recompute: only the task fills it
    await create_player(db, settings, country="DE")
    return segment


async def _members(db: Database, segment: Segment) -> int:
    async with db.transaction() as s:
        rows = await s.execute(
            select(SegmentMember.player_id).where(SegmentMember.segment_id == segment.id)
        )
        return len(list(rows.scalars()))


async def test_run_recompute_fills_segments(db: Database, settings):
    segment = await _seed(db, settings)
    await tasks.run_recompute(db, settings)
    assert await _members(db, segment) == 1


async def test_run_recompute_skips_while_another_replica_holds_the_lock(db: Database, settings):
    segment = await _seed(db, settings)
    async with db.engine.connect() as other:
        # The 64-bit key, as another replica's run takes it.
        got = await other.execute(
            text("SELECT pg_try_advisory_lock(CAST(:k AS bigint))"), {"k": tasks.LOCK_KEY}
        )
        assert got.scalar_one() is True
        await tasks.run_recompute(db, settings)
        assert await _members(db, segment) == 0
        await other.execute(text("SELECT pg_advisory_unlock_all()"))
    await tasks.run_recompute(db, settings)
    assert await _members(db, segment) == 1
