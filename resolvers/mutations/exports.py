"""Export and import mutations: start a CRM export (export:crm) or an ERP export
(export:erp) as a background job; upload a marketing list (its dry run) and confirm it
(import:marketing)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from app.core import errors
from app.exports import errors as export_errors
from app.exports import jobs as export_jobs
from app.exports.cursor import ExportKind
from app.imports import errors as import_errors
from app.imports import uploads
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.types.export import ExportJob, MarketingImport


@strawberry.type(description="The export is queued; poll crmExportJob/erpExportJob(id).")
class ExportQueued:
    job: ExportJob


START_EXPORT = MutationSpec(
    "StartExportResult", (ExportQueued,),
    (export_errors.InvalidExportCursor, export_errors.ExportCursorKindMismatch,
     errors.ValidationFailed),
)  # fmt: skip
UPLOAD = MutationSpec(
    "UploadMarketingListResult", (MarketingImport,),
    (import_errors.ImportFileInvalid, import_errors.ImportIdReused, errors.ValidationFailed),
)  # fmt: skip
CONFIRM = MutationSpec(
    "ConfirmImportResult", (MarketingImport,), (import_errors.ImportHasErrors, errors.NotFound)
)


async def _start(info: Info, kind: ExportKind, since: str | None, channels: Any) -> Any:
    actor = info.context.principal.key
    return await run(
        info, START_EXPORT,
        lambda s: export_jobs.start(s, kind, since, actor, channels),
        lambda job: ExportQueued(job=ExportJob.from_model(job)),
    )  # fmt: skip


async def _read_upload(file: Upload, limit: int) -> bytes:
    # One byte past the limit is enough to refuse it (ImportFileInvalid).
    data: bytes = await file.read(limit + 1)  # type: ignore[attr-defined]
    return data


@strawberry.type
class ExportMutations:
    @strawberry.mutation(
        graphql_type=START_EXPORT.union,
        description="Queue a CRM export (memberships, consent-aware players) from `since` "
        "(null: from the beginning). `channels`: marketing channels the CRM uses.",
        extensions=[forbidden_result(P.EXPORT_CRM, audit=True)],
    )
    async def start_crm_export(
        self, info: Info, since: str | None = None, channels: list[str] | None = None
    ) -> object:
        return await _start(info, ExportKind.CRM, since, channels)

    @strawberry.mutation(
        graphql_type=START_EXPORT.union,
        description="Queue an ERP export (ledger transfers, daily balances, account totals).",
        extensions=[forbidden_result(P.EXPORT_ERP, audit=True)],
    )
    async def start_erp_export(self, info: Info, since: str | None = None) -> object:
        return await _start(info, ExportKind.ERP, since, None)

    @strawberry.mutation(
        graphql_type=UPLOAD.union,
        description="Upload a marketing list (CSV or JSONL, multipart): validated at once "
        "(the dry run); nothing is applied until confirmImport(id).",
        extensions=[forbidden_result(P.IMPORT_MARKETING, audit=True)],
    )
    async def upload_marketing_list(
        self, info: Info, file: Upload, format: str | None = None, import_id: str | None = None
    ) -> object:
        ctx = info.context
        data = await _read_upload(file, ctx.settings.import_max_bytes)
        fmt_given = format
        filename = getattr(file, "filename", None)
        content_type = getattr(file, "content_type", None)

        async def call(session: Any) -> Any:
            fmt = uploads.format_of(filename, content_type, fmt_given)
            row = await uploads.upload(session, data, fmt, ctx.settings,
                                       actor=ctx.principal.key, import_id=import_id)  # fmt: skip
            return await uploads.status(session, row.id)

        return await run(info, UPLOAD, call, lambda found: MarketingImport.from_model(*found))

    @strawberry.mutation(
        graphql_type=CONFIRM.union,
        description="Apply a validated list (in the background; poll marketingImport(id)). "
        "Idempotent: confirming again answers the same import, applied once.",
        extensions=[forbidden_result(P.IMPORT_MARKETING, audit=True)],
    )
    async def confirm_import(self, info: Info, id: strawberry.ID) -> object:
        actor = info.context.principal.key

        async def call(session: Any) -> Any:
            row = await uploads.confirm(session, str(id), actor)
            return await uploads.status(session, row.id)

        return await run(info, CONFIRM, call, lambda found: MarketingImport.from_model(*found))
