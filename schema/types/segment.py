"""The Segment type and the typed error of an invalid rule."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types.lazy_type import LazyType

from app.segments import service
from app.segments.models import Segment as SegmentRow
from app.segments.rules import InvalidRule
from permissions.entities import entity
from permissions.roles import Permission as P
from permissions.rules import nullable
from schema.context import Info
from schema.enums import SegmentKindEnum
from schema.errors import InputError, UserError
from schema.ids import try_uuid
from schema.loaders import MemberPageKey, SegmentMemberPages
from schema.pagination import Connection, check_page_size, decode_cursor, encode_cursor

# Player and Segment refer to each other (a player's segments, a segment's members): the
# member side names Player lazily, so segment.py never imports player.py (no cycle).
_PLAYER_TYPE: LazyType[Any, Any] = LazyType("Player", "schema.types.player")


@strawberry.type(description="A segment rule was rejected; nothing was saved.")
class InvalidSegmentRule(UserError):
    reason: str = strawberry.field(
        description="UNKNOWN_ATTRIBUTE, UNKNOWN_OPERATOR, UNSUPPORTED_OPERATOR, "
        "INVALID_VALUE, TOO_DEEP, TOO_MANY_NODES or MALFORMED"
    )
    path: str = strawberry.field(description="JSON path of the offending node, e.g. $.and[1]")

    @classmethod
    def from_domain(cls, exc: InvalidRule) -> InvalidSegmentRule:
        return cls(code=exc.code, message=exc.message, reason=exc.reason, path=exc.path)


@entity(P.SEGMENT_READ)  # as segment(id)
@strawberry.federation.type(keys=["id"], description="A named rule over player attributes.")
class Segment:
    id: strawberry.ID
    name: str
    kind: SegmentKindEnum = strawberry.field(
        description="RULE: members follow the rule; STATIC: a list (imports, staff)"
    )
    description: str | None
    rule: JSON
    created_by: str
    computed_at: datetime | None
    created_at: datetime

    # Members are players: listing them needs both segment:read and player:read, never
    # ownership (a player's own segments must not list the other members).
    @strawberry.field(
        description="Members in id order, with cursor pagination (segment:read and "
        "player:read; null otherwise).",
        extensions=[nullable(P.SEGMENT_READ, also=(P.PLAYER_READ,))],
    )
    async def players(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Annotated[Player, strawberry.lazy("schema.types.player")]] | None:  # type: ignore[name-defined]  # noqa: F821
        player_type: Any = _PLAYER_TYPE.resolve_type()
        limit = check_page_size(first, info.context.settings.max_page_size)
        position = None
        if after is not None:
            parts = decode_cursor(after)
            try:
                position = uuid.UUID(parts[0])
            except (IndexError, TypeError, ValueError):
                raise InputError("invalid cursor") from None
        key = MemberPageKey(uuid.UUID(str(self.id)), limit, position)
        rows, has_next, total = await info.context.loaders.get(SegmentMemberPages).load(key)
        return Connection[Any].build(
            [(encode_cursor(r.id), player_type.from_model(r)) for r in rows],
            has_next=has_next,
            has_previous=position is not None,
            total=total,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Segment | None:
        """Federation ``_entities``: the same read as ``segment(id)``."""
        return await fetch_segment(info, id)

    @classmethod
    def from_model(cls, row: SegmentRow) -> Segment:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            kind=SegmentKindEnum(row.kind),
            description=row.description,
            rule=cast(JSON, row.rule),
            created_by=row.created_by,
            computed_at=row.computed_at,
            created_at=row.created_at,
        )


async def fetch_segment(info: Info, id: object) -> Segment | None:
    """A segment by id (the caller's permission is checked by the field or entity rule)."""
    segment_id = try_uuid(id)
    if segment_id is None:
        return None
    async with info.context.db.read_session() as session:
        row = await service.get_segment(session, segment_id)
    return Segment.from_model(row) if row else None
