"""The outbox relay: delivers committed outbox events to the bus, the subscription hub,
the webhook queue and the cache, at least once and in order per subject (player).

Every replica runs it. A pass claims the oldest pending rows with ``FOR UPDATE SKIP
LOCKED`` (so relays never wait on each other), then keeps, for each subject, only the
claimed rows that are the *oldest pending rows of that subject*: if an older row of the
subject is still pending (claimed by another relay, or not claimed at all), this pass
leaves the subject alone. A row stays locked until its relay has delivered it and
committed ``published_at``, so a later row of the same subject can never overtake it.

Events reach subscribers only through here, i.e. only after the transaction that wrote
them committed: a rolled-back change has no outbox row and is never seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.core.db import Database
from app.events import repository
from app.events.outbox import envelope

log = logging.getLogger(__name__)

# A pass that finds an older row of a subject claimed by another relay leaves the
# subject's later rows to keep their order. Nothing would wake this relay for them again
# (the other relay's commit sends no NOTIFY, and the poll is long while LISTENing: up to
# ``outbox_listen_poll_seconds`` of delay, forever under a test's hour-long poll), so it
# tries again every DEFER_RETRY_SECONDS for up to ``defer_seconds``, then leaves them to
# the next wake-up or poll.
DEFER_RETRY_SECONDS = 0.02


class Sink(Protocol):
    """Something the relay hands each batch to. ``deliver`` raising leaves the batch
    pending (the whole pass rolls back) and it is retried later."""

    name: str

    async def deliver(self, session: AsyncSession, envelopes: list[dict[str, Any]]) -> None: ...


class CallableSink:
    def __init__(
        self, name: str, fn: Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[None]]
    ) -> None:
        self.name = name
        self._fn = fn

    async def deliver(self, session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
        await self._fn(session, envelopes)


def deliverable(
    claimed: Sequence[tuple[int, str | None]], pending: Sequence[tuple[int, str]]
) -> list[int]:
    """The claimed ids that may be delivered now, in id order.

    ``claimed``: (id, subject) rows this relay locked; ``pending``: every pending (id,
    subject) of those subjects up to the largest claimed id, as committed right now. For
    each subject only the longest run of claimed ids that starts at its oldest pending id
    qualifies; subject-less events have no order to keep.
    """
    mine: dict[str, list[int]] = defaultdict(list)
    free: list[int] = []
    for event_id, subject in claimed:
        if subject is None:
            free.append(event_id)
        else:
            mine[subject].append(event_id)
    queue: dict[str, list[int]] = defaultdict(list)
    for event_id, subject in pending:
        queue[subject].append(event_id)
    ok = list(free)
    for subject, ids in mine.items():
        ids.sort()
        for mine_id, next_pending in zip(ids, queue[subject], strict=False):
            if mine_id != next_pending:
                break
            ok.append(mine_id)
    return sorted(ok)


class Relay:
    def __init__(
        self, db: Database, sinks: list[Sink], batch_size: int = 200, defer_seconds: float = 1.0
    ) -> None:
        self.db = db
        self.sinks = sinks
        self.batch_size = batch_size
        self.defer_seconds = defer_seconds
        self._retry_at = 0.0
        self._failures = 0
        self.delivered = 0
        self.deferrals = 0  # passes that left rows behind another relay's (diagnostics)

    async def run(self) -> int:
        """Deliver until nothing deliverable is left; the number of events delivered.

        After a sink failure the relay waits (exponential backoff, at most 5 s) before
        trying again, instead of hammering an unreachable bus every poll."""
        if time.monotonic() < self._retry_at:
            return 0
        total = 0
        give_up_at = 0.0
        while True:
            try:
                delivered, claimed = await self.pass_once()
            except Exception as exc:
                self._failures += 1
                metrics.OUTBOX_RELAY_FAILURES.inc()
                delay = min(5.0, 0.1 * 2 ** min(self._failures, 6))
                self._retry_at = time.monotonic() + delay
                level = logging.WARNING if self._failures in (1, 10) else logging.DEBUG
                log.log(level, "outbox relay pass failed (%s); retrying in %.1fs", exc, delay)
                return total
            self._failures = 0
            total += delivered
            if claimed > delivered:  # rows left behind another relay's older ones
                self.deferrals += 1
                give_up_at = give_up_at or time.monotonic() + self.defer_seconds
                if time.monotonic() < give_up_at:
                    await asyncio.sleep(DEFER_RETRY_SECONDS)
                    continue
            if claimed < self.batch_size or delivered == 0:
                return total

    async def pass_once(self) -> tuple[int, int]:
        """One transaction: claim, deliver, mark. (delivered, claimed)."""
        async with self.db.transaction() as session:
            claimed = await repository.claim_pending(session, self.batch_size)
            if not claimed:
                return 0, 0
            subjects = sorted({e.subject for e in claimed if e.subject is not None})
            pending: list[tuple[int, str]] = []
            if subjects:
                max_id = max(e.id or 0 for e in claimed)
                pending = await repository.pending_of_subjects(session, subjects, max_id)
            ids = set(deliverable([(e.id or 0, e.subject) for e in claimed], pending))
            batch = [e for e in claimed if e.id in ids]
            if not batch:
                return 0, len(claimed)
            envelopes = [envelope(e) for e in batch]
            for sink in self.sinks:
                await sink.deliver(session, envelopes)
            await repository.mark_published(session, ids)
        self.delivered += len(batch)
        _observe_relayed(batch)
        return len(batch), len(claimed)


def _observe_relayed(batch: Sequence[Any]) -> None:
    """After the commit: throughput by event type, and the lag from insert to relay."""
    now = datetime.now(UTC)
    oldest = 0.0
    for event in batch:
        metrics.OUTBOX_RELAYED.labels(metrics.bounded_label(event.type, empty="unknown")).inc()
        if event.time is not None:
            lag = max((now - event.time).total_seconds(), 0.0)
            metrics.OUTBOX_LAG_HISTOGRAM.observe(lag)
            oldest = max(oldest, lag)
    metrics.OUTBOX_LAG.set(oldest)
