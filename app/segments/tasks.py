"""Periodic full recompute: time alone moves players between activity segments
(active -> dormant -> churned), which no event announces.

This module does not know the task registry (the composition root owns it): the registry
passes its task type to ``recompute_segments_task``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.core.db import Database
from app.core.settings import Settings
from app.segments import repository
from app.segments.service import recompute_all

# One replica at a time: the others skip this round instead of repeating the work.
LOCK_KEY = 0x504D535F53454753  # "PMS_SEGS"
NAME = "segments-recompute"

TaskRun = Callable[[Database, Settings], Awaitable[None]]
TaskT = TypeVar("TaskT")


async def run_recompute(db: Database, settings: Settings) -> None:
    async with db.transaction() as session:
        if await repository.try_xact_lock(session, LOCK_KEY):
            await recompute_all(session, settings)


def recompute_segments_task(
    settings: Settings, make: Callable[[str, float, TaskRun], TaskT]
) -> TaskT:
    """The periodic task, built by the registry's own type: ``make(name, interval, run)``
    (``PeriodicTask`` takes exactly these)."""
    return make(NAME, settings.segment_recompute_interval_seconds, run_recompute)
