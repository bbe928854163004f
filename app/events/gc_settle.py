"""Runs the cyclic garbage collector's full pass while subscribers are settled, not
inside the first event after a wave of connections.

Every WebSocket connection leaves ~240 objects tracked by the collector (bench/README.md
"subs4"). CPython runs a full collection once the objects promoted to the oldest
generation since the last one exceed a quarter of those there, and only checks that
after ten collections of the middle generation. After a wave of connections the pending
quarter is often reached, but a quiet server allocates too little to check it: the first
event's fan-out then pays the whole pass (1-6 s at 5,000 connections per process on this
machine), which made a whole round of 10,000 deliveries late.

This task looks once a second: when the number of subscriptions has stood still for
``quiet_seconds`` and grew by a tenth (and at least ``MINIMUM``) since the last full
collection (its own or CPython's, seen through ``gc.callbacks``), it collects then. A
tenth, not CPython's quarter: subscriptions are only a proxy for the tracked objects
(in one run CPython's pass came due with under a quarter more), and a pass too
early costs a pass at a quiet moment, a pass too late costs a round of events.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

MINIMUM = 1000  # fewer new subscriptions than this cost a short pass: left to CPython
GROWTH = 0.1  # of the subscriptions at the last full collection


class GcSettle:
    def __init__(self, count: Callable[[], int], quiet_seconds: float) -> None:
        self._count = count
        self.quiet_seconds = quiet_seconds
        self._baseline = 0  # subscriptions at the last full collection
        self._seen = 0
        self._since = time.monotonic()
        self.collections = 0  # run by this task (tests and diagnostics)

    def install(self) -> None:
        if self._observed not in gc.callbacks:
            gc.callbacks.append(self._observed)

    def uninstall(self) -> None:
        if self._observed in gc.callbacks:
            gc.callbacks.remove(self._observed)

    def _observed(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            self._baseline = self._count()

    def due(self, now: float) -> bool:
        count = self._count()
        if count != self._seen:  # still connecting (or leaving): wait until it settles
            self._seen, self._since = count, now
            self._baseline = min(self._baseline, count)
            return False
        if now - self._since < self.quiet_seconds:
            return False
        return count - self._baseline >= max(MINIMUM, GROWTH * self._baseline)

    async def run(self, *_: Any) -> None:
        if self.due(time.monotonic()):
            gc.collect()  # the callback moves the baseline
            self.collections += 1
