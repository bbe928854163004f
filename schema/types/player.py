"""The Player type. Every field declares who may see it (permissions/rules.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import cast

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode
from strawberry.scalars import JSON

from app.players.models import Player as PlayerRow
from app.responsible import service as rg
from permissions.entities import entity
from permissions.roles import Permission as P
from permissions.rules import mask_email, masked, nullable, required
from schema.context import Info
from schema.enums import BonusStatusEnum, ConfirmStatusEnum, PlayerStatusEnum, RiskLevelEnum
from schema.inputs.ledger import LedgerFilter
from schema.loaders import SEGMENTS, WALLETS, BonusesByPlayer, LoyaltyByPlayer, WalletsByPlayer
from schema.pagination import Connection
from schema.reads import player_row
from schema.types import fraud as fraud_types
from schema.types import player_extra as extra
from schema.types.bonus import Loyalty, PlayerBonus
from schema.types.kyc import KycCase
from schema.types.ledger import LedgerEntry, ledger_page
from schema.types.profile import PlayerProfile, PlayStyle, SettingsChange, VipStatus
from schema.types.responsible import (
    ExclusionsByPlayer,
    GamblingLimit,
    LimitsByPlayer,
    PlayerExclusion,
    RealityCheck,
)
from schema.types.segment import Segment
from schema.types.wallet import Wallet


@entity(P.PLAYER_READ, owner_ok=True)  # as player(id)
@strawberry.federation.type(keys=["id"], description="A player of the casino.")
class Player:
    id: strawberry.ID = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    login: str = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    country: str = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    currency: str = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    locale: str = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    status: PlayerStatusEnum = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    confirm_status: ConfirmStatusEnum = strawberry.field(
        extensions=[required(P.PLAYER_READ, owner_ok=True)]
    )
    vip_level: int = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    created_at: datetime = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    preferences: JSON = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])
    email: str | None = strawberry.field(
        description="Full for the player and staff with player:read_pii; masked "
        "(j***@example.com) with player:read_masked; null otherwise.",
        extensions=[masked(P.PLAYER_READ_PII, P.PLAYER_READ_MASKED, mask_email)],
    )
    birth_date: date | None = strawberry.field(
        extensions=[nullable(P.PLAYER_READ_PII, owner_ok=True)]
    )
    risk_level: RiskLevelEnum | None = strawberry.field(
        extensions=[nullable(P.KYC_READ, owner_ok=True)]
    )
    traffic_source: str | None = strawberry.field(
        extensions=[nullable(P.SEGMENT_READ, owner_ok=True)]
    )
    affiliate_code: str | None = strawberry.field(
        extensions=[nullable(P.SEGMENT_READ, owner_ok=True)]
    )
    # Set on the object a registration returns: the registrant sees what they just sent.
    owner_view: strawberry.Private[bool] = False
    # The row it was built from, so profile/VIP fields need no second read.
    _row: strawberry.Private[PlayerRow | None] = None

    def owner_id(self) -> str:
        return str(self.id)

    @strawberry.field(
        description="REAL, BONUS, FREESPINS and TOURNAMENT balances.",
        extensions=[nullable(P.WALLET_READ, owner_ok=True)],
    )
    async def wallets(self, info: Info) -> list[Wallet]:
        rows = await info.context.loaders.get(WalletsByPlayer).load(uuid.UUID(str(self.id)))
        return [Wallet.from_model(row) for row in rows]

    @strawberry.field(
        description="Ledger rows of all this player's wallets, newest first.",
        extensions=[nullable(P.WALLET_READ, owner_ok=True)],
    )
    async def ledger(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: LedgerFilter | None = None,
    ) -> Connection[LedgerEntry] | None:
        return await ledger_page(info, filter, first, after, player_id=uuid.UUID(str(self.id)))

    # --- profile, VIP, segments, play style, KYC: resolvers in schema/types/player_extra.py
    profile: PlayerProfile | None = strawberry.field(
        resolver=extra.profile,
        description="Names, phone, address: personal data (player:read_pii or the player).",
        extensions=[nullable(P.PLAYER_READ_PII, owner_ok=True)],
    )
    vip: VipStatus | None = strawberry.field(
        resolver=extra.vip, extensions=[nullable(P.PLAYER_READ, owner_ok=True)]
    )
    segments: list[Segment] = strawberry.field(
        resolver=extra.segments, extensions=[nullable(P.SEGMENT_READ, owner_ok=True)]
    )
    play_style: PlayStyle | None = strawberry.field(
        resolver=extra.play_style,
        description="Betting habits for targeting; no personal data.",
        extensions=[nullable(P.SEGMENT_READ, owner_ok=True)],
    )
    settings_history: Connection[SettingsChange] | None = strawberry.field(
        resolver=extra.settings_history,
        description="Who changed what and when; personal values masked without player:read_pii.",
        extensions=[nullable(P.PLAYER_READ, owner_ok=True)],
    )
    kyc_cases: list[KycCase] = strawberry.field(
        resolver=extra.kyc_cases, extensions=[nullable(P.KYC_READ, owner_ok=True)]
    )
    tags: list[str] = strawberry.field(
        resolver=extra.tags, extensions=[nullable(P.SEGMENT_READ, owner_ok=True)]
    )
    # --- anti-fraud: COMPLIANCE and ADMIN only (never the player)
    risk_score: int | None = strawberry.field(
        resolver=fraud_types.risk_score,
        description="Fraud risk 0-100 from the rules hit in the score window.",
        extensions=[nullable(P.FRAUD_READ)],
    )
    risk_signals: list[fraud_types.RiskSignal] | None = strawberry.field(
        resolver=fraud_types.risk_signals,
        description="The fraud rules hit, with their evidence, newest first.",
        extensions=[nullable(P.FRAUD_READ)],
    )

    @strawberry.field(
        description="This player's bonuses, newest first.",
        extensions=[nullable(P.BONUS_READ, owner_ok=True)],
    )
    async def bonuses(self, info: Info, status: BonusStatusEnum | None = None) -> list[PlayerBonus]:
        rows = await info.context.loaders.get(BonusesByPlayer).load(uuid.UUID(str(self.id)))
        return [PlayerBonus.from_model(r) for r in reversed(rows)
                if status is None or r.status == status.value]  # fmt: skip

    @strawberry.field(
        description="Loyalty points, tier and progress to the next tier.",
        extensions=[nullable(P.PLAYER_READ, owner_ok=True)],
    )
    async def loyalty(self, info: Info) -> Loyalty | None:
        row = await info.context.loaders.get(LoyaltyByPlayer).load(uuid.UUID(str(self.id)))
        return Loyalty.build(row.points if row else 0, info.context.settings)

    @strawberry.field(
        description="Responsible-gambling limits (deposit, loss, wager per day/week/month).",
        extensions=[nullable(P.RG_READ, owner_ok=True)],
    )
    async def gambling_limits(self, info: Info) -> list[GamblingLimit]:
        rows = await info.context.loaders.get(LimitsByPlayer).load(uuid.UUID(str(self.id)))
        return [GamblingLimit.from_model(r, info.context.settings) for r in rows]

    @strawberry.field(
        description="Breaks and self-exclusions in force.",
        extensions=[nullable(P.RG_READ, owner_ok=True)],
    )
    async def exclusions(self, info: Info) -> list[PlayerExclusion]:
        rows = await info.context.loaders.get(ExclusionsByPlayer).load(uuid.UUID(str(self.id)))
        return [PlayerExclusion.from_model(r) for r in rows]

    @strawberry.field(
        description="The current play session (null when not playing): time played and net "
        "result, and when the front end should remind the player next.",
        extensions=[nullable(P.RG_READ, owner_ok=True)],
    )
    async def reality_check(self, info: Info) -> RealityCheck | None:
        async with info.context.db.read_session() as session:
            found = await rg.reality_check(session, info.context.settings, uuid.UUID(str(self.id)))
        return RealityCheck.build(found) if found else None

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Player | None:
        """Federation ``_entities``: the same read (and permissions) as ``player(id)``."""
        return await fetch_player(info, id)

    @classmethod
    def from_model(cls, row: PlayerRow, *, owner_view: bool = False) -> Player:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            login=row.login,
            country=row.country,
            currency=row.currency,
            locale=row.locale,
            status=PlayerStatusEnum(row.status),
            confirm_status=ConfirmStatusEnum(row.confirm_status),
            risk_level=RiskLevelEnum(row.risk_level),
            vip_level=row.vip_level,
            created_at=row.created_at,
            preferences=cast(JSON, row.preferences),
            birth_date=row.birth_date,
            traffic_source=row.traffic_source,
            affiliate_code=row.affiliate_code,
            owner_view=owner_view,
            _row=row,
        )


async def fetch_player(info: Info, id: object) -> Player | None:
    """THE way a player is read by id (see schema/reads.py), as the GraphQL type. The
    wallets and segments the selection asks for are read in the player's statement."""
    row = await player_row(info, id, related_selected(info))
    return Player.from_model(row) if row else None


_RELATED_FIELDS = {"wallets": WALLETS, "segments": SEGMENTS}


def related_selected(info: Info) -> frozenset[str]:
    """Which of ``wallets`` and ``segments`` the field's selection (fragments included)
    asks for on the player. Asking is not seeing: each field keeps its own rule."""
    raw = info._raw_info
    found: set[str] = set()
    pending = [node.selection_set for node in raw.field_nodes]
    while pending:
        selection_set = pending.pop()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if selection.name.value in _RELATED_FIELDS:
                    found.add(_RELATED_FIELDS[selection.name.value])
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = raw.fragments.get(selection.name.value)
                pending.append(fragment.selection_set if fragment else None)
    return frozenset(found)
