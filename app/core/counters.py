"""Operational counters for alert rules, buffered in memory: ``bump`` costs no I/O on the
request path; the alerts task flushes each process's buffer into ``alert_counters``
(per-minute rows, summed across replicas). A crash loses at most one flush interval of
counts, which an alert over minutes tolerates; money never depends on these."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

# (bucket minute, name) -> [count, sum]
Buffer = dict[tuple[datetime, str], list[int]]

_buffer: Buffer = defaultdict(lambda: [0, 0])
_lock = threading.Lock()


_current: tuple[int, datetime] = (-1, datetime.fromtimestamp(0, UTC))


def minute(at: datetime | None = None) -> datetime:
    if at is not None:
        return at.astimezone(UTC).replace(second=0, microsecond=0)
    # Every mutation bumps a counter: the current minute is built once a minute, not
    # from datetime.now() per call (~1 % of a money request's CPU).
    global _current
    index = int(time.time()) // 60
    if _current[0] != index:
        _current = (index, datetime.fromtimestamp(index * 60, UTC))
    return _current[1]


def bump(name: str, count: int = 1, total: int = 0, at: datetime | None = None) -> None:
    """Add ``count`` (and ``total``, e.g. an amount) to counter ``name`` in this minute."""
    with _lock:
        row = _buffer[(minute(at), name)]
        row[0] += count
        row[1] += total


def bump_after_commit(session: AsyncSession, name: str) -> None:
    """``bump`` only if ``session``'s transaction commits."""
    event.listen(session.sync_session, "after_commit", lambda _: bump(name), once=True)


def drain() -> dict[tuple[datetime, str], tuple[int, int]]:
    """Take everything buffered so far (the caller writes it or puts it back)."""
    global _buffer
    with _lock:
        taken, _buffer = _buffer, defaultdict(lambda: [0, 0])
    return {key: (v[0], v[1]) for key, v in taken.items()}


def restore(rows: dict[tuple[datetime, str], tuple[int, int]]) -> None:
    """Put drained rows back (their write failed), to be flushed next time."""
    for (at, name), (count, total) in rows.items():
        bump(name, count, total, at)
