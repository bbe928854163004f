"""Segment and KYC case queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import strawberry

from app.core.errors import ValidationFailed
from app.kyc import repository as kyc_repository
from app.kyc import service as kyc
from app.kyc.models import AWAITING_DECISION
from app.kyc.models import KycCase as CaseRow
from app.segments import service
from permissions.roles import Permission as P
from permissions.rules import nullable, required
from schema.context import Info
from schema.errors import InputError
from schema.ids import try_uuid
from schema.inputs.kyc import KycQueueFilter
from schema.pagination import Connection, check_page_size, decode_cursor, encode_cursor
from schema.types.kyc import KycCase, KycQueueEntry
from schema.types.segment import Segment, fetch_segment


@strawberry.type
class SegmentQueries:
    @strawberry.field(
        description="A segment by id; null if there is none.",
        extensions=[nullable(P.SEGMENT_READ)],
    )
    async def segment(self, info: Info, id: strawberry.ID) -> Segment | None:
        return await fetch_segment(info, id)

    @strawberry.field(
        description="Every segment, by name.",
        extensions=[nullable(P.SEGMENT_READ)],
    )
    async def segments(self, info: Info) -> list[Segment]:
        async with info.context.db.read_session() as session:
            return [Segment.from_model(r) for r in await service.list_segments(session)]

    @strawberry.field(
        description="A KYC case by id; null if there is none.",
        extensions=[nullable(P.KYC_READ)],
    )
    async def kyc_case(self, info: Info, id: strawberry.ID) -> KycCase | None:
        case_id = try_uuid(id)
        if case_id is None:
            return None
        async with info.context.db.read_session() as session:
            row = await kyc.get_case(session, case_id)
        return KycCase.from_model(row) if row else None

    @strawberry.field(
        description="KYC cases awaiting a decision (PENDING, MANUAL_REVIEW), oldest first, "
        "each with its age; totalCount is the whole queue under the filter.",
        extensions=[required(P.KYC_READ)],
    )
    async def kyc_queue(
        self, info: Info, filter: KycQueueFilter | None = None, first: int = 20,
        after: str | None = None,
    ) -> Connection[KycQueueEntry]:  # fmt: skip
        limit = check_page_size(first, info.context.settings.max_page_size)
        position = _queue_position(after)
        try:
            async with info.context.db.read_session() as session:
                rows, has_next, total = await kyc.queue(
                    session, _queue_filter(filter), limit, position
                )
        except ValidationFailed as exc:  # a query argument: shown to the client as it is
            raise InputError(exc.message) from None
        now = datetime.now(UTC)
        return Connection[KycQueueEntry].build(
            [(_queue_cursor(r), _queue_entry(r, now)) for r in rows],
            has_next=has_next, has_previous=position is not None, total=total,
        )  # fmt: skip


def _queue_filter(flt: KycQueueFilter | None) -> kyc_repository.QueueFilter:
    if flt is None:
        return kyc_repository.QueueFilter()
    statuses = (flt.status.value,) if flt.status else tuple(AWAITING_DECISION)
    return kyc_repository.QueueFilter(
        statuses=statuses, provider=flt.provider,
        risk_level=flt.risk_level.value if flt.risk_level else None,
    )  # fmt: skip


def _queue_cursor(row: CaseRow) -> str:
    assert row.created_at is not None
    return encode_cursor(row.created_at.isoformat(), str(row.id))


def _queue_position(after: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) a page continues after."""
    if after is None:
        return None
    parts = decode_cursor(after)
    try:
        at, case_id = parts
        return datetime.fromisoformat(at), uuid.UUID(case_id)
    except (TypeError, ValueError):
        raise InputError("invalid cursor") from None


def _queue_entry(row: CaseRow, now: datetime) -> KycQueueEntry:
    assert row.created_at is not None
    age = max(0, int((now - row.created_at).total_seconds()))
    return KycQueueEntry(case=KycCase.from_model(row), age_seconds=age)
