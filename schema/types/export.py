"""CRM/ERP export jobs, marketing-list imports and their typed errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from app.core.jobs import Job
from app.imports.models import MarketingImportUpload
from schema.errors import UserError


@strawberry.type(description="Not an export cursor this system issued, or one ahead of the data.")
class InvalidExportCursor(UserError):
    pass


@strawberry.type(description="A cursor of another export kind (a CRM cursor for ERP).")
class ExportCursorKindMismatch(UserError):
    pass


@strawberry.type(description="The export range could not be closed yet; retry later.")
class ExportBusy(UserError):
    pass


@strawberry.type(description="A marketing list that cannot be read as a whole; nothing applied.")
class ImportFileInvalid(UserError):
    pass


@strawberry.type(description="The list's dry run found row errors; nothing applied.")
class ImportHasErrors(UserError):
    pass


@strawberry.type(description="This import id was applied before with another file.")
class ImportIdReused(UserError):
    pass


@strawberry.type(
    description="A regulator export range that is reversed, empty, in the future or longer "
    "than this path allows."
)
class InvalidExportRange(UserError):
    pass


@strawberry.type(description="How many rows one file of a bundle holds.")
class ExportFileRows:
    name: str
    rows: int


@strawberry.type(description="The push of a bundle to the configured HTTP(S) endpoint.")
class ExportPush:
    state: str = strawberry.field(description="DELIVERED or FAILED")
    attempts: int
    files: list[str] = strawberry.field(description="Files delivered, in push order")
    error: str | None


@strawberry.type(description="A job's failure: the typed error's code and message.")
class JobError:
    code: str
    message: str


def _error(job: Job) -> JobError | None:
    if job.error_code is None:
        return None
    return JobError(code=job.error_code, message=job.error_message or "")


@strawberry.type(description="An export run as a background job, and what it produced.")
class ExportJob:
    id: strawberry.ID
    kind: str = strawberry.field(description="crm or erp")
    state: str = strawberry.field(description="QUEUED, RUNNING, DONE or FAILED")
    since: str = strawberry.field(description="The cursor the run starts from")
    done: int = strawberry.field(description="Rows written so far")
    total: int = strawberry.field(description="Rows the run writes (known once it runs)")
    files: list[ExportFileRows] = strawberry.field(description="Rows per file (when DONE)")
    next_cursor: str | None = strawberry.field(description="Where the next run starts")
    manifest_path: str | None
    manifest_sha256: str | None
    push: ExportPush | None = strawberry.field(description="Null when no target is set")
    error: JobError | None
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_model(cls, job: Job) -> ExportJob:
        result: dict[str, Any] = job.result or {}
        push = result.get("push")
        assert job.created_at is not None
        return cls(
            id=strawberry.ID(str(job.id)), kind=str(job.payload["kind"]), state=job.state,
            since=str(job.payload["since"]), done=job.done, total=job.total,
            files=[ExportFileRows(name=n, rows=r) for n, r in result.get("rows", {}).items()],
            next_cursor=result.get("nextCursor"), manifest_path=result.get("manifestPath"),
            manifest_sha256=result.get("manifestSha256"),
            push=ExportPush(**push) if push else None, error=_error(job),
            requested_by=job.requested_by, created_at=job.created_at,
            started_at=job.started_at, finished_at=job.finished_at,
        )  # fmt: skip


@strawberry.type(description="One row problem of a marketing list (line numbers from 1).")
class ImportRowError:
    line: int
    code: str = strawberry.field(
        description="UNKNOWN_PLAYER, ERASED_PLAYER, BAD_EMAIL, UNKNOWN_CHANNEL, DUPLICATE_ROW, "
        "BAD_IDENTIFIER, "
        "UNKNOWN_ACTION, MISSING_VALUE, BAD_TAG, TOO_MANY_TAGS or UNKNOWN_SEGMENT"
    )
    message: str


@strawberry.type(description="An uploaded marketing list: its dry run, then its apply.")
class MarketingImport:
    id: strawberry.ID = strawberry.field(description="The import id (confirm with it)")
    format: str
    state: str = strawberry.field(
        description="VALIDATED (confirm to apply), HAS_ERRORS (fix and upload again), QUEUED, "
        "APPLYING, APPLIED or FAILED"
    )
    rows: int
    error_count: int
    done: int = strawberry.field(description="Players applied so far")
    total: int
    report: JSON = strawberry.field(description="Dry-run counts; the final report once APPLIED")
    error: JobError | None
    created_by: str
    created_at: datetime
    row_errors: strawberry.Private[list[dict[str, Any]]]

    @strawberry.field(description="Row problems in line order (at most `first`).")
    def errors(self, first: int = 100) -> list[ImportRowError]:
        return [ImportRowError(**e) for e in self.row_errors[: max(0, first)]]

    @classmethod
    def from_model(
        cls, row: MarketingImportUpload, job: Job | None, applied: dict[str, Any] | None
    ) -> MarketingImport:
        assert row.created_at is not None
        report = applied or row.report
        return cls(
            id=strawberry.ID(row.id), format=row.format, state=_import_state(row, job, applied),
            rows=int(row.report["rows"]), error_count=len(row.report["errors"]),
            done=job.done if job else 0, total=job.total if job else 0,
            report=cast(JSON, {k: v for k, v in report.items() if k != "errors"}),
            error=_error(job) if job else None, created_by=row.created_by,
            created_at=row.created_at, row_errors=list(row.report["errors"]),
        )  # fmt: skip


def _import_state(row: MarketingImportUpload, job: Job | None, applied: object) -> str:
    if applied is not None:
        return "APPLIED"
    if job is None:
        return "HAS_ERRORS" if row.report["errors"] else "VALIDATED"
    return {"QUEUED": "QUEUED", "RUNNING": "APPLYING", "DONE": "APPLIED"}.get(job.state, "FAILED")
