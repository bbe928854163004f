"""Segment and KYC case queries."""

from __future__ import annotations

import strawberry

from app.kyc import service as kyc
from app.segments import service
from permissions.roles import Permission as P
from permissions.rules import nullable
from schema.context import Info
from schema.ids import try_uuid
from schema.types.kyc import KycCase
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
