"""Dry runs on history: ``previewSegment``. Nothing is written; the caller needs
segment:manage (who designs segments) and the read permission of every attribute the
rule uses; the players shown are audited as a staff listing."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.core.errors import ValidationFailed
from app.segments import preview
from app.segments.rules import InvalidRule
from permissions.errors import Forbidden
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from permissions.segments import denied_attribute
from schema.context import Info
from schema.errors import ValidationError
from schema.reads import Reader, record_list
from schema.types.player import Player
from schema.types.segment import InvalidSegmentRule


@strawberry.type(description="Members of a rule on one UTC day (at its end; today: now).")
class SegmentDay:
    day: date
    members: int


@strawberry.type(description="What a segment rule would select; nothing was saved.")
class SegmentPreview:
    count: int = strawberry.field(description="Players the rule selects now")
    players: list[Player] = strawberry.field(description="The first `first` of them, by id")
    history: list[SegmentDay] = strawberry.field(
        description="Members per day over the last `days` days: registration and "
        "time-relative attributes as of each day, other attributes at current values"
    )


PreviewSegmentResult = Annotated[
    SegmentPreview | InvalidSegmentRule | ValidationError | Forbidden,
    strawberry.union("PreviewSegmentResult"),
]


@strawberry.type
class PreviewQueries:
    @strawberry.field(
        description="Dry run of a segment rule: how many and which players it selects now, "
        "and how membership would have evolved over the last `days` days (at most 90).",
        extensions=[forbidden_result(P.SEGMENT_MANAGE)],
    )
    async def preview_segment(
        self, info: Info, rule: JSON, days: int = 7, first: int = 20
    ) -> PreviewSegmentResult:
        ctx = info.context
        denied = denied_attribute(ctx.principal, rule)
        if denied is not None:
            return Forbidden(code="FORBIDDEN", message=denied.message,
                             required_permission=str(denied.permission))  # fmt: skip
        try:
            async with ctx.db.transaction() as session:
                found = await preview.preview(session, rule, ctx.settings, days=days, first=first)
        except InvalidRule as exc:
            return InvalidSegmentRule.from_domain(exc)
        except ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        await record_list(Reader.of(info), found.players)
        shown: Any = [Player.from_model(p) for p in found.players]
        return SegmentPreview(
            count=found.count, players=shown,
            history=[SegmentDay(day=d.day, members=d.members) for d in found.history],
        )  # fmt: skip
