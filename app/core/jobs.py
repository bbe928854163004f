"""Background jobs: a row per job (state, progress, result, error) that any replica may
run. ``claim`` takes the oldest queued job (or a running one whose lease ran out: its
replica died) with ``FOR UPDATE SKIP LOCKED``, so replicas never run one job twice at a
time; the runner renews the lease while it works. Which kinds exist and what runs them is
decided by the composition root (``run_next``'s handlers)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.db import Database
from app.core.errors import DomainError
from app.core.orm import created_at_column
from app.core.settings import Settings

log = logging.getLogger(__name__)


class JobState(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')", name="state"),
        Index("ix_jobs_runnable", "kind", "created_at", postgresql_where=text(
            "state IN ('QUEUED', 'RUNNING')")),
    )  # fmt: skip

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False, server_default="QUEUED"))
    done: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    error_code: str | None = Field(default=None, sa_column=Column(String(64)))
    error_message: str | None = Field(default=None, sa_column=Column(String(500)))
    requested_by: str = Field(sa_column=Column(String(160), nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


# done, total
Progress = Callable[[int, int], None]
# (db, settings, job, progress) -> result
Handler = Callable[[Database, Settings, Job, Progress], Awaitable[dict[str, Any]]]


async def enqueue(session: AsyncSession, kind: str, payload: dict[str, Any], actor: str) -> Job:
    job = Job(kind=kind, payload=payload, requested_by=actor, state=JobState.QUEUED.value)
    session.add(job)
    await session.flush()
    await session.refresh(job)
    return job


async def get(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.get(Job, job_id)


async def active(session: AsyncSession, kind: str) -> Job | None:
    """A queued or running job of ``kind``, if any."""
    rows = await session.execute(
        text("SELECT id FROM jobs WHERE kind = :k AND state IN ('QUEUED', 'RUNNING') LIMIT 1"),
        {"k": kind},
    )
    found = rows.scalar_one_or_none()
    return None if found is None else await session.get(Job, found)


_CLAIM = text("""
UPDATE jobs SET state = 'RUNNING', attempts = attempts + 1,
       lease_until = now() + make_interval(secs => :lease),
       started_at = coalesce(started_at, now())
WHERE id = (
    SELECT id FROM jobs
    WHERE kind = ANY(:kinds)
      AND (state = 'QUEUED' OR (state = 'RUNNING' AND lease_until < now()))
    ORDER BY created_at, id
    LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id
""")


async def claim(db: Database, kinds: list[str], lease_seconds: float) -> Job | None:
    """The next runnable job of ``kinds``, now RUNNING under this caller's lease."""
    async with db.transaction() as session:
        found = await session.execute(_CLAIM, {"kinds": kinds, "lease": lease_seconds})
        job_id = found.scalar_one_or_none()
        return None if job_id is None else await session.get(Job, job_id)


class _Reporter:
    """Collects progress synchronously (export and import loops call it) and writes it,
    with a renewed lease, from a concurrent loop: no database round trip per row."""

    def __init__(self, db: Database, job_id: uuid.UUID, lease_seconds: float) -> None:
        self._db = db
        self._job_id = job_id
        self._lease = lease_seconds
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    async def flush(self) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                text("UPDATE jobs SET done = :d, total = :t, "
                     "lease_until = now() + make_interval(secs => :lease) "
                     "WHERE id = :i AND state = 'RUNNING'"),
                {"d": self.done, "t": self.total, "lease": self._lease, "i": self._job_id},
            )  # fmt: skip

    async def keep_writing(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.flush()
            except Exception:  # a lost progress write is not the job's failure
                log.warning("job %s: progress write failed", self._job_id, exc_info=True)


async def run_next(db: Database, settings: Settings, handlers: Mapping[str, Handler]) -> Job | None:
    """Claim one job and run it to DONE or FAILED (a DomainError is the job's typed error;
    anything else is logged and recorded as INTERNAL)."""
    lease = settings.job_lease_seconds
    job = await claim(db, sorted(handlers), lease)
    if job is None:
        return None
    reporter = _Reporter(db, job.id, lease)
    writer = asyncio.create_task(reporter.keep_writing(settings.job_progress_seconds))
    try:
        result = await handlers[job.kind](db, settings, job, reporter)
    except DomainError as exc:
        await _finish(db, job.id, reporter, JobState.FAILED, None, exc.code, exc.message)
    except Exception:
        log.exception("job %s (%s) failed", job.id, job.kind)
        await _finish(db, job.id, reporter, JobState.FAILED, None, "INTERNAL",
                      "the job failed unexpectedly; see the server log")  # fmt: skip
    else:
        await _finish(db, job.id, reporter, JobState.DONE, result, None, None)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    async with db.transaction() as session:
        return await session.get(Job, job.id)


async def run_all(db: Database, settings: Settings, handlers: Mapping[str, Handler]) -> int:
    """Run jobs until none is runnable (the periodic task); returns how many ran."""
    ran = 0
    while await run_next(db, settings, handlers) is not None:
        ran += 1
    return ran


async def _finish(
    db: Database, job_id: uuid.UUID, reporter: _Reporter, state: JobState,
    result: dict[str, Any] | None, code: str | None, message: str | None,
) -> None:  # fmt: skip
    total = reporter.total
    done = reporter.total if state is JobState.DONE else reporter.done
    async with db.transaction() as session:
        job = await session.get(Job, job_id, with_for_update=True)
        assert job is not None
        job.state, job.result, job.done, job.total = state.value, result, done, total
        job.error_code, job.error_message = code, (message or "")[:500] or None
        job.lease_until = None
        job.finished_at = datetime.now().astimezone()
