"""Export job and import status queries."""

from __future__ import annotations

import uuid

import strawberry

from app.core import jobs
from app.exports.cursor import ExportKind
from app.exports.jobs import JOB_KINDS
from app.imports import uploads
from permissions.roles import Permission as P
from permissions.rules import nullable
from schema.context import Info
from schema.ids import try_uuid
from schema.types.export import ExportJob, MarketingImport


async def _job(info: Info, id: strawberry.ID, kind: ExportKind) -> ExportJob | None:
    job_id = try_uuid(id)
    if job_id is None:
        return None
    async with info.context.db.read_session() as session:
        job = await jobs.get(session, uuid.UUID(str(job_id)))
    return ExportJob.from_model(job) if job and job.kind == JOB_KINDS[kind] else None


@strawberry.type
class ExportQueries:
    @strawberry.field(
        description="A CRM export job by id; null if there is none.",
        extensions=[nullable(P.EXPORT_CRM)],
    )
    async def crm_export_job(self, info: Info, id: strawberry.ID) -> ExportJob | None:
        return await _job(info, id, ExportKind.CRM)

    @strawberry.field(
        description="An ERP export job by id; null if there is none.",
        extensions=[nullable(P.EXPORT_ERP)],
    )
    async def erp_export_job(self, info: Info, id: strawberry.ID) -> ExportJob | None:
        return await _job(info, id, ExportKind.ERP)

    @strawberry.field(
        description="A marketing-list import by id: its dry run, progress and final report.",
        extensions=[nullable(P.IMPORT_MARKETING)],
    )
    async def marketing_import(self, info: Info, id: strawberry.ID) -> MarketingImport | None:
        async with info.context.db.read_session() as session:
            found = await uploads.status(session, str(id)[:64])
        return MarketingImport.from_model(*found) if found else None
