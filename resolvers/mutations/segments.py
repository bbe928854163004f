"""Segment mutations. # permission: segment:manage (MARKETER, ADMIN) on each."""

from __future__ import annotations

from typing import Any, cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import errors
from app.segments import service
from app.segments.models import Segment as SegmentRow
from app.segments.rules import InvalidRule
from permissions.errors import Forbidden
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from permissions.segments import denied_attribute
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_uuid
from schema.inputs.kyc import SegmentInput, UpdateSegmentInput
from schema.types.segment import Segment

# One call stays one short transaction; bigger lists go through an import.
MAX_STATIC_CHANGE = 1000


@strawberry.type
class SegmentSuccess:
    segment: Segment
    entered: int = strawberry.field(description="Players who entered on this recompute")
    left: int


@strawberry.type
class DeleteSegmentSuccess:
    id: strawberry.ID
    members_removed: int


SEGMENT = MutationSpec(
    "SegmentResult", (SegmentSuccess,),
    (errors.ValidationFailed, errors.AlreadyExists, InvalidRule, errors.NotFound),
)  # fmt: skip
DELETE_SEGMENT = MutationSpec(
    "DeleteSegmentResult", (DeleteSegmentSuccess,), (errors.ValidationFailed, errors.NotFound)
)


def _attribute_forbidden(info: Info, rule: object) -> Forbidden | None:
    """A rule on an attribute the caller may not read (riskLevel without kyc:read) is
    refused before anything is written; the mutation's audit row records the refusal."""
    denied = denied_attribute(info.context.principal, rule)
    if denied is None:
        return None
    return Forbidden(
        code="FORBIDDEN", message=denied.message, required_permission=str(denied.permission)
    )


def _success(result: tuple[SegmentRow, Any]) -> SegmentSuccess:
    row, change = result
    return SegmentSuccess(segment=Segment.from_model(row), entered=change.entered, left=change.left)


async def _static_change(
    session: AsyncSession, id: strawberry.ID, player_ids: list[strawberry.ID], *, add: bool
) -> tuple[SegmentRow, service.RecomputeResult]:
    if len(player_ids) > MAX_STATIC_CHANGE:
        raise errors.ValidationFailed.single("playerIds", f"at most {MAX_STATIC_CHANGE} per call")
    segment_id = parse_uuid(id, "id")
    ids = [parse_uuid(p, "playerIds") for p in player_ids]
    if add:
        changed = await service.add_static_members(session, segment_id, ids)
    else:
        changed = await service.remove_static_members(session, segment_id, ids)
    segment = await service.get_segment(session, segment_id)
    assert segment is not None
    return segment, service.RecomputeResult(
        segment_id, entered=len(changed) if add else 0, left=0 if add else len(changed)
    )


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(
        graphql_type=SEGMENT.union,
        description="Create a segment and compute its members.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def create_segment(self, info: Info, input: SegmentInput) -> object:
        ctx = info.context
        if refused := _attribute_forbidden(info, input.rule):
            return refused
        return await run(info, SEGMENT, lambda s: service.create_segment(
            s, name=input.name, rule=cast(dict[str, Any] | None, input.rule),
            description=input.description, actor=ctx.principal.key, settings=ctx.settings,
            kind=input.kind,
        ), _success)  # fmt: skip

    @strawberry.mutation(
        graphql_type=SEGMENT.union,
        description="Change a segment; its members are recomputed.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def update_segment(
        self, info: Info, id: strawberry.ID, input: UpdateSegmentInput
    ) -> object:
        ctx = info.context
        if refused := _attribute_forbidden(info, input.rule):
            return refused
        return await run(info, SEGMENT, lambda s: service.update_segment(
            s, parse_uuid(id, "id"), name=input.name, rule=cast(dict[str, Any] | None, input.rule),
            description=input.description, settings=ctx.settings,
        ), _success)  # fmt: skip

    @strawberry.mutation(
        graphql_type=SEGMENT.union,
        description="Add players to a STATIC segment (entered: how many were not members).",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def add_static_segment_members(
        self, info: Info, id: strawberry.ID, player_ids: list[strawberry.ID]
    ) -> object:
        return await run(info, SEGMENT, lambda s: _static_change(s, id, player_ids, add=True),
                         _success)  # fmt: skip

    @strawberry.mutation(
        graphql_type=SEGMENT.union,
        description="Remove players from a STATIC segment (left: how many were members).",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def remove_static_segment_members(
        self, info: Info, id: strawberry.ID, player_ids: list[strawberry.ID]
    ) -> object:
        return await run(info, SEGMENT, lambda s: _static_change(s, id, player_ids, add=False),
                         _success)  # fmt: skip

    @strawberry.mutation(
        graphql_type=DELETE_SEGMENT.union,
        description="Delete a segment; every member leaves it.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def delete_segment(self, info: Info, id: strawberry.ID) -> object:
        return await run(
            info, DELETE_SEGMENT,
            lambda s: service.delete_segment(s, parse_uuid(id, "id")),
            lambda removed: DeleteSegmentSuccess(id=id, members_removed=removed),
        )  # fmt: skip
