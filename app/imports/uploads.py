"""Marketing lists uploaded over HTTP (GraphQL multipart, ``POST /imports``): the upload
is validated at once (the dry-run report, per-row errors with line numbers) and stored;
``confirm`` queues the apply as a background job, once per import id (a second
confirmation answers the same job). The job applies the stored file through
``service.apply``: in whole batches, idempotent by import id (a job run again after a
crash resumes with the first batch not applied)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import jobs
from app.core.db import Database
from app.core.errors import NotFound, ValidationFailed
from app.core.settings import Settings
from app.imports import repository, service
from app.imports.errors import ImportHasErrors, ImportIdReused
from app.imports.models import MarketingImportUpload

JOB_KIND = "import.marketing"
FORMATS = ("csv", "jsonl")
IMPORT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def format_of(filename: str | None, content_type: str | None, given: str | None) -> str:
    if given:
        if given not in FORMATS:
            raise ValidationFailed.single("format", "csv or jsonl")
        return given
    name, kind = (filename or "").lower(), (content_type or "").lower()
    return "jsonl" if name.endswith((".jsonl", ".ndjson")) or "json" in kind else "csv"


async def upload(
    session: AsyncSession, data: bytes, fmt: str, settings: Settings, *, actor: str,
    import_id: str | None = None,
) -> MarketingImportUpload:  # fmt: skip
    """Validate and keep the file; a whole-file problem raises ``ImportFileInvalid`` and
    stores nothing. The same id with the same file answers the stored upload."""
    digest = service.file_id(data)
    if import_id is not None and not IMPORT_ID.fullmatch(import_id):
        raise ValidationFailed.single("importId", "1-64 letters, digits or _.:-")
    import_id = import_id or uuid.uuid4().hex
    existing = await session.get(MarketingImportUpload, import_id)
    if existing is not None:
        if existing.file_sha256 != digest:
            raise ImportIdReused("this import id was used for another file")
        return existing
    plan = await service.dry_run(session, data, fmt, settings)
    row = MarketingImportUpload(
        id=import_id, format=fmt, data=data, file_sha256=digest, created_by=actor,
        report=plan.report(import_id, applied=False),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def confirm(session: AsyncSession, import_id: str, actor: str) -> MarketingImportUpload:
    """Queue the apply once; confirming again returns the same upload and job."""
    found = await session.execute(
        select(MarketingImportUpload).where(MarketingImportUpload.id == import_id)  # type: ignore[arg-type]
        .with_for_update()
    )  # fmt: skip
    row = found.scalars().first()
    if row is None:
        raise NotFound("no such import")
    if row.job_id is not None:
        return row
    if row.report["errors"]:
        raise ImportHasErrors(f"{len(row.report['errors'])} row error(s); nothing applied")
    job = await jobs.enqueue(session, JOB_KIND, {"importId": import_id, "confirmedBy": actor},
                             row.created_by)  # fmt: skip
    row.job_id = job.id
    await session.flush()
    return row


async def run_job(
    db: Database, settings: Settings, job: jobs.Job, progress: jobs.Progress
) -> dict[str, Any]:
    import_id = str(job.payload["importId"])
    async with db.transaction() as session:
        row = await session.get(MarketingImportUpload, import_id)
        assert row is not None
        data, fmt = row.data, row.format
    return await service.apply(
        db, data, fmt, settings, actor=str(job.payload["confirmedBy"]), import_id=import_id,
        progress=progress,
    )  # fmt: skip


async def status(
    session: AsyncSession, import_id: str
) -> tuple[MarketingImportUpload, jobs.Job | None, dict[str, Any] | None] | None:
    """(upload, its job, the applied report) or None."""
    row = await session.get(MarketingImportUpload, import_id)
    if row is None:
        return None
    job = await jobs.get(session, row.job_id) if row.job_id else None
    applied = await repository.get(session, import_id)
    return row, job, (applied.report if applied else None)
