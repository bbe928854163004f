"""Dry runs on history, writing nothing: ``previewSegment`` (segment:manage and the read
permission of every attribute the rule uses; the players shown are audited as a staff
listing) and ``simulateBonusCampaign`` (bonus:manage)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.bonuses import simulation
from app.core.errors import ValidationFailed
from app.segments import preview
from app.segments.rules import InvalidRule
from permissions.errors import Forbidden
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from permissions.segments import denied_attribute
from schema.context import Info
from schema.errors import ValidationError
from schema.inputs.bonus import CreateBonusCampaignInput
from schema.reads import Reader, record_list
from schema.scalars import Money
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


@strawberry.type(description="One award a simulated campaign would have made.")
class SimulatedAward:
    player_id: strawberry.ID
    at: datetime = strawberry.field(description="When the triggering deposit was booked")
    deposit: Money
    bonus: Money


@strawberry.type(description="A campaign replayed over history; nothing was written.")
class BonusSimulation:
    deposits: int = strawberry.field(description="Deposits replayed in the window")
    award_count: int
    players: int = strawberry.field(description="Players who would have received it")
    total_cost: Money
    expected_wagering: Money = strawberry.field(description="Wagering the awards require")
    awards: list[SimulatedAward] = strawberry.field(description="The first `first` awards")


SimulateBonusCampaignResult = Annotated[
    BonusSimulation | ValidationError | Forbidden, strawberry.union("SimulateBonusCampaignResult")
]
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

    @strawberry.field(
        description="Dry run of a bonus campaign: replays its FIRST_DEPOSIT/DEPOSIT trigger "
        "over the deposits booked in [from, to) (at most 366 days) and reports who would "
        "have received what, the total cost and the expected wagering. Writes nothing.",
        extensions=[forbidden_result(P.BONUS_MANAGE)],
    )
    async def simulate_bonus_campaign(
        self, info: Info, input: CreateBonusCampaignInput,
        from_: Annotated[datetime, strawberry.argument(name="from")], to: datetime,
        first: int = 20,
    ) -> SimulateBonusCampaignResult:  # fmt: skip
        ctx = info.context
        if not 0 <= first <= ctx.settings.max_page_size:
            return ValidationError.from_domain(ValidationFailed.single(
                "first", f"0..{ctx.settings.max_page_size}"))  # fmt: skip
        try:
            async with ctx.db.transaction() as session:
                sim = await simulation.simulate(
                    session, ctx.settings, input.to_data(), from_, to, keep=first
                )
        except ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        currency = sim.campaign.currency
        return BonusSimulation(
            deposits=sim.deposits, award_count=sim.count, players=len(sim.players),
            total_cost=Money.of(sim.total, currency),
            expected_wagering=Money.of(sim.wagering, currency),
            awards=[SimulatedAward(
                player_id=strawberry.ID(str(a.player_id)), at=a.at,
                deposit=Money.of(a.deposit, currency), bonus=Money.of(a.amount, currency),
            ) for a in sim.awards],
        )  # fmt: skip
