"""Exports as background jobs (app/core/jobs.py): started over GraphQL or by the
schedule, run by whichever replica claims them. A job's result holds the rows per file,
the next cursor, the bundle's manifest path and hash, and the push report (if a push
target is configured)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents.service import CHANNELS
from app.core import bundles, jobs
from app.core.db import Database
from app.core.settings import Settings
from app.exports import cursor, push
from app.exports.cursor import ExportKind
from app.exports.service import channels_of, run_export

JOB_KINDS = {ExportKind.CRM: "export.crm", ExportKind.ERP: "export.erp"}
SCHEDULE_ACTOR = "system:schedule"
# Serialises the schedule's check-and-enqueue across replicas.
_SCHEDULE_LOCK = 0x45585053_43484544  # "EXPSCHED"


async def start(
    session: AsyncSession, kind: ExportKind, since: str | None, actor: str,
    channels: Sequence[str] | None = None,
) -> jobs.Job:  # fmt: skip
    """Queue an export; a bad cursor or channel is refused now, not in the job."""
    parsed = cursor.parse(since, kind)
    wanted = channels_of(channels or CHANNELS) if kind is ExportKind.CRM else ()
    payload = {"kind": kind.value, "since": str(parsed), "channels": list(wanted)}
    return await jobs.enqueue(session, JOB_KINDS[kind], payload, actor)


async def run_job(
    db: Database, settings: Settings, job: jobs.Job, progress: jobs.Progress
) -> dict[str, Any]:
    kind = ExportKind(job.payload["kind"])
    result = await run_export(
        db, settings, kind, job.payload["since"], Path(settings.export_dir),
        actor=job.requested_by, channels=job.payload.get("channels") or CHANNELS,
        progress=progress,
    )  # fmt: skip
    answer: dict[str, Any] = {
        "rows": {f.name: f.rows for f in result.files},
        "since": str(result.since), "nextCursor": result.next_cursor,
        "manifestPath": str(result.directory / bundles.MANIFEST),
        "manifestSha256": result.manifest_sha256, "push": None,
    }  # fmt: skip
    if settings.export_push_url and settings.export_push_secret:
        answer["push"] = (await push.push_bundle(settings, result.directory)).as_dict()
    return answer


async def last_cursor(session: AsyncSession, kind: ExportKind) -> str | None:
    """Where the next scheduled run starts: the end of the furthest completed run."""
    found = await session.execute(
        text("SELECT max(until_position) FROM export_runs "
             "WHERE kind = :k AND completed_at IS NOT NULL"),
        {"k": kind.value},
    )  # fmt: skip
    position = found.scalar_one_or_none()
    return None if position is None else str(cursor.Cursor(kind, int(position)))


async def schedule(db: Database, settings: Settings) -> list[jobs.Job]:
    """Queue the scheduled exports that are due (no job of the kind queued, running, or
    created within its interval)."""
    queued = []
    for raw_kind, every in sorted(settings.export_schedule.items()):
        kind = ExportKind(raw_kind)
        async with db.transaction() as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEDULE_LOCK})
            if await jobs.active(session, JOB_KINDS[kind]) or await _recent(session, kind, every):
                continue
            since = await last_cursor(session, kind)
            queued.append(await start(session, kind, since, SCHEDULE_ACTOR))
    return queued


async def _recent(session: AsyncSession, kind: ExportKind, seconds: float) -> bool:
    found = await session.execute(
        text("SELECT 1 FROM jobs WHERE kind = :k AND requested_by = :a "
             "AND created_at > now() - make_interval(secs => :s) LIMIT 1"),
        {"k": JOB_KINDS[kind], "a": SCHEDULE_ACTOR, "s": seconds},
    )  # fmt: skip
    return found.first() is not None
