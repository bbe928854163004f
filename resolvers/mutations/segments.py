"""Segment mutations. # permission: segment:manage (MARKETER, ADMIN) on each."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from app.core import errors
from app.segments import service
from app.segments.rules import InvalidRule
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from schema.context import Info
from schema.errors import AlreadyExists, Forbidden, NotFound, ValidationError
from schema.inputs.kyc import SegmentInput, UpdateSegmentInput
from schema.types.segment import InvalidSegmentRule, Segment


@strawberry.type
class SegmentSuccess:
    segment: Segment
    entered: int = strawberry.field(description="Players who entered on this recompute")
    left: int


@strawberry.type
class DeleteSegmentSuccess:
    id: strawberry.ID
    members_removed: int


SegmentResult = Annotated[
    SegmentSuccess | ValidationError | AlreadyExists | InvalidSegmentRule | NotFound | Forbidden,
    strawberry.union("SegmentResult"),
]
DeleteSegmentResult = Annotated[
    DeleteSegmentSuccess | NotFound | Forbidden, strawberry.union("DeleteSegmentResult")
]


def _map(exc: errors.DomainError) -> object:
    if isinstance(exc, InvalidRule):
        return InvalidSegmentRule.from_domain(exc)
    if isinstance(exc, errors.ValidationFailed):
        return ValidationError.from_domain(exc)
    if isinstance(exc, errors.AlreadyExists):
        return AlreadyExists.from_domain(exc)
    if isinstance(exc, errors.NotFound):
        return NotFound.from_domain(exc)
    raise exc


def _segment_id(raw: strawberry.ID) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise errors.NotFound("no such segment") from None


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(
        description="Create a segment and compute its members.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def create_segment(self, info: Info, input: SegmentInput) -> SegmentResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                row, result = await service.create_segment(
                    session, name=input.name, rule=input.rule, description=input.description,
                    actor=ctx.principal.key, settings=ctx.settings,
                )  # fmt: skip
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return SegmentSuccess(
            segment=Segment.from_model(row), entered=result.entered, left=result.left
        )

    @strawberry.mutation(
        description="Change a segment; its members are recomputed.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def update_segment(
        self, info: Info, id: strawberry.ID, input: UpdateSegmentInput
    ) -> SegmentResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                row, result = await service.update_segment(
                    session, _segment_id(id), name=input.name, rule=input.rule,
                    description=input.description, settings=ctx.settings,
                )  # fmt: skip
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return SegmentSuccess(
            segment=Segment.from_model(row), entered=result.entered, left=result.left
        )

    @strawberry.mutation(
        description="Delete a segment; every member leaves it.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def delete_segment(self, info: Info, id: strawberry.ID) -> DeleteSegmentResult:
        try:
            segment_id = _segment_id(id)
            async with info.context.db.transaction() as session:
                removed = await service.delete_segment(session, segment_id)
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return DeleteSegmentSuccess(id=id, members_removed=removed)
