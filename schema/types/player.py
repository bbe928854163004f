"""The Player type."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.players.models import Player as PlayerRow
from schema.context import Info
from schema.inputs.ledger import LedgerFilter
from schema.pagination import Connection
from schema.types.bonus import BonusStatusEnum, Loyalty, PlayerBonus
from schema.types.enums import ConfirmStatusEnum, PlayerStatusEnum, RiskLevelEnum
from schema.types.ledger import LedgerEntry
from schema.types.wallet import Wallet


@strawberry.federation.type(keys=["id"], description="A player of the casino.")
class Player:
    id: strawberry.ID
    email: str
    login: str
    country: str
    currency: str
    status: PlayerStatusEnum
    confirm_status: ConfirmStatusEnum
    risk_level: RiskLevelEnum
    vip_level: int
    created_at: datetime
    preferences: JSON

    @strawberry.field(description="REAL, BONUS, FREESPINS and TOURNAMENT balances.")
    async def wallets(self, info: Info) -> list[Wallet]:
        rows = await info.context.loaders.wallets_by_player.load(uuid.UUID(str(self.id)))
        return [Wallet.from_model(row) for row in rows]

    @strawberry.field(description="Ledger rows of all this player's wallets, newest first.")
    async def ledger(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: LedgerFilter | None = None,
    ) -> Connection[LedgerEntry]:
        from resolvers.queries.ledger import ledger_page

        return await ledger_page(info, filter, first, after, player_id=uuid.UUID(str(self.id)))

    # permission: player:read or owner
    @strawberry.field(description="This player's bonuses, newest first.")
    async def bonuses(self, info: Info, status: BonusStatusEnum | None = None) -> list[PlayerBonus]:
        rows = await info.context.loaders.bonuses_by_player.load(uuid.UUID(str(self.id)))
        return [PlayerBonus.from_model(r) for r in reversed(rows)
                if status is None or r.status == status.value]  # fmt: skip

    # permission: player:read or owner
    @strawberry.field(description="Loyalty points, tier and progress to the next tier.")
    async def loyalty(self, info: Info) -> Loyalty:
        from app.bonuses import repository as bonus_repository

        async with info.context.db.read_session() as session:
            row = await bonus_repository.loyalty(session, uuid.UUID(str(self.id)))
        return Loyalty.build(row.points if row else 0, info.context.settings)

    @classmethod
    def from_model(cls, row: PlayerRow) -> Player:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            login=row.login,
            country=row.country,
            currency=row.currency,
            status=PlayerStatusEnum(row.status),
            confirm_status=ConfirmStatusEnum(row.confirm_status),
            risk_level=RiskLevelEnum(row.risk_level),
            vip_level=row.vip_level,
            created_at=row.created_at,
            preferences=row.preferences,
        )
