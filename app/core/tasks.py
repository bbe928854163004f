"""Running periodic background work in every replica: the task shape and its runner.

Each task must be safe to run concurrently in many replicas (row locks with SKIP LOCKED,
idempotent updates): there is no leader election. Which tasks exist is decided by the
composition root; this module knows none of them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.core.db import Database
from app.core.settings import Settings

log = logging.getLogger(__name__)

TaskFn = Callable[[Database, Settings], Awaitable[Any]]
# Waits between two runs, given the jittered interval: may return early (a wake-up).
WaitFn = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_seconds: float
    run: TaskFn
    wait: WaitFn | None = None


class TaskRunner:
    def __init__(self, db: Database, settings: Settings, tasks: list[PeriodicTask]) -> None:
        self.db = db
        self.settings = settings
        self.tasks = tasks
        self._running: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for task in self.tasks:
            self._running.append(asyncio.create_task(self._loop(task), name=f"pms:{task.name}"))

    async def stop(self) -> None:
        for running in self._running:
            running.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._running.clear()

    async def _loop(self, task: PeriodicTask) -> None:
        while True:
            try:
                await task.run(self.db, self.settings)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed; retrying next interval", task.name)
            # Jitter spreads replicas so they do not hit the database in lockstep.
            interval = task.interval_seconds * random.uniform(0.8, 1.2)  # noqa: S311
            await (task.wait or asyncio.sleep)(interval)
