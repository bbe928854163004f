"""Bonus queries: campaigns and player bonuses for staff."""

from __future__ import annotations

import strawberry

from app.bonuses import repository
from app.core.errors import ValidationFailed
from permissions.roles import Permission as P
from permissions.rules import required
from schema.context import Info
from schema.enums import CampaignStatusEnum
from schema.errors import InputError
from schema.ids import parse_int_id, parse_uuid
from schema.inputs.bonus import PlayerBonusFilter
from schema.pagination import (
    Connection,
    check_page_size,
    decode_id_cursor,
    encode_cursor,
)
from schema.types.bonus import BonusCampaign, PlayerBonus


def _filter(flt: PlayerBonusFilter | None) -> repository.BonusFilter:
    if flt is None:
        return repository.BonusFilter()
    try:
        player = parse_uuid(flt.player_id, "playerId") if flt.player_id is not None else None
        campaign = (
            parse_int_id(flt.campaign_id, "campaignId") if flt.campaign_id is not None else None
        )
    except ValidationFailed as exc:  # a query argument: shown to the client as it is
        raise InputError(exc.message) from None
    return repository.BonusFilter(
        player_id=player, status=flt.status.value if flt.status else None, campaign_id=campaign
    )


@strawberry.type
class BonusQueries:
    @strawberry.field(
        description="Bonus campaigns, newest first.",
        extensions=[required(P.BONUS_READ)],
    )
    async def bonus_campaigns(
        self, info: Info, status: CampaignStatusEnum | None = None
    ) -> list[BonusCampaign]:
        async with info.context.db.read_session() as session:
            rows = await repository.list_campaigns(session, status.value if status else None)
        return [BonusCampaign.from_model(r) for r in rows]

    @strawberry.field(
        description="Player bonuses across players, newest first.",
        extensions=[required(P.BONUS_READ)],
    )
    async def player_bonuses(
        self, info: Info, filter: PlayerBonusFilter | None = None, first: int = 20,
        after: str | None = None,
    ) -> Connection[PlayerBonus]:  # fmt: skip
        limit = check_page_size(first, info.context.settings.max_page_size)
        before = decode_id_cursor(after)
        async with info.context.db.read_session() as session:
            rows, has_next, total = await repository.bonus_page(
                session, _filter(filter), limit, before
            )
        return Connection[PlayerBonus].build(
            [(encode_cursor(r.id), PlayerBonus.from_model(r)) for r in rows],
            has_next=has_next, has_previous=before is not None, total=total,
        )  # fmt: skip
