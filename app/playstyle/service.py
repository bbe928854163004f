"""Keeping play-style and lifetime-value metrics, fed from committed money events by
app/playstyle/consumer.py; each ``record_*`` is ONE upsert statement. Amounts are minor
units of the player's currency."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TextClause
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ValidationFailed
from app.playstyle import repository
from app.playstyle.models import STAKE_BUCKETS, PlayerMetrics
from app.playstyle.repository import SESSION_GAP_SECONDS as SESSION_GAP_SECONDS
from app.playstyle.repository import TOP_KEYS as TOP_KEYS

BUCKET_BASE = 2**0.25


def stake_bucket(stake_minor: int) -> int:
    """0-based histogram bucket of a stake: floor(log_B(stake))."""
    if stake_minor <= 1:
        return 0
    return min(STAKE_BUCKETS - 1, int(math.log(stake_minor, BUCKET_BASE)))


def median_from_histogram(histogram: list[int]) -> int | None:
    """The geometric midpoint of the bucket holding the median stake."""
    total = sum(histogram)
    if total == 0:
        return None
    half, seen = (total + 1) / 2, 0
    for i, count in enumerate(histogram):
        seen += count
        if seen >= half:
            return max(1, round(BUCKET_BASE ** (i + 0.5))) if i else 1
    return None


def _check(amount: int, currency: str, at: datetime, *, allow_zero: bool = False) -> None:
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int)
        or amount < 0
        or (amount == 0 and not allow_zero)
    ):
        raise ValidationFailed.single("amount", "must be a positive integer of minor units")
    if len(currency) != 3:
        raise ValidationFailed.single("currency", "must be an ISO 4217 code")
    if at.tzinfo is None:
        raise ValidationFailed.single("at", "must be timezone-aware")


async def _run(session: AsyncSession, stmt: TextClause, params: dict[str, Any]) -> None:
    if not await repository.upsert(session, stmt, params):
        raise ValidationFailed.single("currency", "differs from the player's metrics currency")


async def record_bet(
    session: AsyncSession,
    player_id: uuid.UUID,
    *,
    game_id: str,
    provider: str,
    category: str,
    stake_minor: int,
    currency: str,
    placed_at: datetime,
) -> None:
    _check(stake_minor, currency, placed_at, allow_zero=True)
    await _run(session, repository.RECORD_BET, {**repository.tuning(),
        "player_id": player_id, "currency": currency, "stake": stake_minor, "at": placed_at,
        "hour": placed_at.astimezone(UTC).hour, "bucket": stake_bucket(stake_minor),
        "game": game_id[:64], "provider": provider[:64], "category": category[:64],
    })  # fmt: skip


async def reverse_bet(
    session: AsyncSession,
    player_id: uuid.UUID,
    *,
    game_id: str,
    provider: str,
    category: str,
    stake_minor: int,
    win_minor: int,
    currency: str,
    placed_at: datetime,
) -> None:
    """Take back what ``record_bet`` + ``record_win`` counted for a refunded round (the
    session count stays: the player did play then)."""
    _check(stake_minor, currency, placed_at, allow_zero=True)
    await _run(session, repository.REVERSE_BET, {
        "player_id": player_id, "currency": currency, "stake": stake_minor, "win": win_minor,
        "hour": placed_at.astimezone(UTC).hour, "bucket": stake_bucket(stake_minor),
        "game": game_id[:64], "provider": provider[:64], "category": category[:64],
    })  # fmt: skip


async def record_win(
    session: AsyncSession, player_id: uuid.UUID, amount_minor: int, currency: str, at: datetime
) -> None:
    _check(amount_minor, currency, at, allow_zero=True)
    params = {"player_id": player_id, "currency": currency, "amount": amount_minor, "at": at}
    await _run(session, repository.WIN, params)


def _payment(player_id: uuid.UUID, amount: int, currency: str, at: datetime) -> dict[str, Any]:
    return {"player_id": player_id, "currency": currency, "n": 1, "amount": amount, "at": at}


async def record_deposit(
    session: AsyncSession, player_id: uuid.UUID, amount_minor: int, currency: str, at: datetime
) -> None:
    _check(amount_minor, currency, at)
    await _run(session, repository.DEPOSIT, _payment(player_id, amount_minor, currency, at))


async def record_withdrawal(
    session: AsyncSession, player_id: uuid.UUID, amount_minor: int, currency: str, at: datetime
) -> None:
    _check(amount_minor, currency, at)
    await _run(session, repository.WITHDRAWAL, _payment(player_id, amount_minor, currency, at))


@dataclass(frozen=True)
class PlayStyle:
    bet_count: int
    bets_per_day: float
    session_count: int
    average_bet: int | None
    median_bet: int | None
    favourite_games: list[str]
    favourite_providers: list[str]
    favourite_categories: list[str]
    preferred_hour: int | None
    preferred_time_of_day: str | None
    last_activity_at: datetime | None
    net_deposits: int
    ggr: int
    currency: str


def _top(counts: dict[str, int], n: int = 3) -> list[str]:
    return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def time_of_day(hour: int) -> str:
    return ("NIGHT", "MORNING", "AFTERNOON", "EVENING")[((hour + 24 - 0) % 24) // 6]


def play_style(row: PlayerMetrics, now: datetime | None = None) -> PlayStyle:
    now = now or datetime.now(UTC)
    days = max(1.0, (now - row.first_bet_at).total_seconds() / 86400) if row.first_bet_at else 1.0
    hours = list(row.hour_histogram or [])
    preferred = max(range(len(hours)), key=lambda h: hours[h]) if any(hours) else None
    return PlayStyle(
        bet_count=row.bet_count,
        bets_per_day=round(row.bet_count / days, 3),
        session_count=row.session_count,
        average_bet=row.stake_total // row.bet_count if row.bet_count else None,
        median_bet=median_from_histogram(list(row.stake_histogram or [])),
        favourite_games=_top(row.game_counts),
        favourite_providers=_top(row.provider_counts),
        favourite_categories=_top(row.category_counts),
        preferred_hour=preferred,
        preferred_time_of_day=time_of_day(preferred) if preferred is not None else None,
        last_activity_at=row.last_activity_at,
        net_deposits=row.deposit_total - row.withdrawal_total,
        ggr=row.stake_total - row.win_total,
        currency=row.currency,
    )


async def get_metrics(session: AsyncSession, player_ids: list[uuid.UUID]) -> list[PlayerMetrics]:
    return await repository.metrics_of(session, player_ids)
