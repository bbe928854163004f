"""Profile, VIP, settings history and play-style types (fields of Player)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import strawberry

from app.players.models import Player as PlayerRow
from app.playstyle.models import PlayerMetrics
from app.playstyle.service import play_style
from app.profiles.models import PlayerProfile as ProfileRow
from app.profiles.models import SettingsChange as ChangeRow
from app.profiles.validation import mask
from permissions.roles import Permission as P
from permissions.roles import is_allowed
from schema.context import Info
from schema.scalars import Money


def can_see_pii(info: Info, player_id: uuid.UUID | str) -> bool:
    """Whether the caller may see this player's personal data unmasked (the matrix)."""
    return is_allowed(
        info.context.principal, P.PLAYER_READ_PII, owner_ok=True, owner=str(player_id)
    )


def _shown(value: str | None, visible: bool) -> str | None:
    return value if visible else mask(value)


@strawberry.type(description="Personal data. Masked unless the caller may see PII.")
class PlayerProfile:
    first_name: str | None
    last_name: str | None
    phone: str | None = strawberry.field(description="E.164")
    address_line1: str | None
    address_line2: str | None
    city: str | None
    postal_code: str | None
    address_country: str | None
    birth_date: date | None
    masked: bool

    @classmethod
    def build(cls, player: PlayerRow, row: ProfileRow | None, visible: bool) -> PlayerProfile:
        def get(name: str) -> str | None:
            return _shown(getattr(row, name), visible) if row is not None else None

        return cls(
            first_name=get("first_name"),
            last_name=get("last_name"),
            phone=get("phone"),
            address_line1=get("address_line1"),
            address_line2=get("address_line2"),
            city=get("city"),
            postal_code=get("postal_code"),
            address_country=row.address_country if row is not None else None,
            birth_date=player.birth_date if visible else None,
            masked=not visible,
        )


@strawberry.type
class VipStatus:
    level: int
    since: datetime | None


@strawberry.type(description="One changed setting: who, when, old -> new (PII masked).")
class SettingsChange:
    id: strawberry.ID
    field: str
    actor: str
    changed_at: datetime
    old_value: str | None
    new_value: str | None

    @classmethod
    def from_model(cls, row: ChangeRow, visible: bool) -> SettingsChange:
        assert row.changed_at is not None
        hide = row.pii and not visible
        return cls(
            id=strawberry.ID(str(row.id)),
            field=row.field,
            actor=row.actor,
            changed_at=row.changed_at,
            old_value=mask(row.old_value) if hide else row.old_value,
            new_value=mask(row.new_value) if hide else row.new_value,
        )


@strawberry.type(description="How a player plays; no personal data (marketing-visible).")
class PlayStyle:
    bet_count: int
    bets_per_day: float
    session_count: int
    average_bet: Money | None
    median_bet: Money | None = strawberry.field(
        description="Approximate (log-scale histogram, within ~9%)."
    )
    favourite_games: list[str]
    favourite_providers: list[str]
    favourite_categories: list[str]
    preferred_hour_utc: int | None
    preferred_time_of_day: str | None
    last_activity_at: datetime | None
    net_deposits: Money
    ggr: Money

    @classmethod
    def from_model(cls, row: PlayerMetrics) -> PlayStyle:
        style = play_style(row)
        cur = style.currency

        def money(value: int | None) -> Money | None:
            return Money.of(value, cur) if value is not None else None

        return cls(
            bet_count=style.bet_count,
            bets_per_day=style.bets_per_day,
            session_count=style.session_count,
            average_bet=money(style.average_bet),
            median_bet=money(style.median_bet),
            favourite_games=style.favourite_games,
            favourite_providers=style.favourite_providers,
            favourite_categories=style.favourite_categories,
            preferred_hour_utc=style.preferred_hour,
            preferred_time_of_day=style.preferred_time_of_day,
            last_activity_at=style.last_activity_at,
            net_deposits=Money.of(style.net_deposits, cur),
            ggr=Money.of(style.ggr, cur),
        )
