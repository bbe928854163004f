"""Keeping play-style and lifetime-value metrics, fed from committed money events by
app/playstyle/consumer.py; each ``record_*`` is ONE upsert statement. Amounts are minor
units of the player's currency."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ValidationFailed
from app.playstyle.models import HOURS, STAKE_BUCKETS, PlayerMetrics

SESSION_GAP_SECONDS = 30 * 60  # a bet after 30 idle minutes starts a new session
TOP_KEYS = 50  # distinct games/providers/categories counted per player
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


def _counted(column: str, param: str) -> str:
    # Increment {key: n}; once TOP_KEYS keys are held, new keys are not added.
    return f"""CASE WHEN player_metrics.{column} ? CAST(:{param} AS text)
                 OR (SELECT count(*) FROM jsonb_object_keys(player_metrics.{column})) < {TOP_KEYS}
            THEN jsonb_set(player_metrics.{column}, ARRAY[CAST(:{param} AS text)],
                 to_jsonb(coalesce(
                     (player_metrics.{column} ->> CAST(:{param} AS text))::bigint, 0) + 1))
            ELSE player_metrics.{column} END"""  # noqa: S608 - names are module constants


_RECORD_BET = text(f"""
INSERT INTO player_metrics AS player_metrics (
    player_id, currency, bet_count, stake_total, session_count, first_bet_at, last_bet_at,
    last_activity_at, hour_histogram, stake_histogram, game_counts, provider_counts,
    category_counts)
VALUES (:player_id, :currency, 1, :stake, 1, :at, :at, :at,
    (SELECT array_agg(CASE WHEN h = :hour THEN 1 ELSE 0 END ORDER BY h)
       FROM generate_series(0, {HOURS - 1}) h),
    (SELECT array_agg(CASE WHEN b = :bucket THEN 1 ELSE 0 END::bigint ORDER BY b)
       FROM generate_series(0, {STAKE_BUCKETS - 1}) b),
    jsonb_build_object(CAST(:game AS text), 1), jsonb_build_object(CAST(:provider AS text), 1),
    jsonb_build_object(CAST(:category AS text), 1))
ON CONFLICT (player_id) DO UPDATE SET
    bet_count = player_metrics.bet_count + 1,
    stake_total = player_metrics.stake_total + :stake,
    session_count = player_metrics.session_count + CASE
        WHEN player_metrics.last_bet_at IS NULL
          OR :at - player_metrics.last_bet_at > make_interval(secs => {SESSION_GAP_SECONDS})
        THEN 1 ELSE 0 END,
    first_bet_at = LEAST(player_metrics.first_bet_at, :at),
    last_bet_at = GREATEST(player_metrics.last_bet_at, :at),
    last_activity_at = GREATEST(player_metrics.last_activity_at, :at),
    hour_histogram[:hour + 1] = player_metrics.hour_histogram[:hour + 1] + 1,
    stake_histogram[:bucket + 1] = player_metrics.stake_histogram[:bucket + 1] + 1,
    game_counts = {_counted("game_counts", "game")},
    provider_counts = {_counted("provider_counts", "provider")},
    category_counts = {_counted("category_counts", "category")}
WHERE player_metrics.currency = :currency
RETURNING player_id
""")  # noqa: S608 - only module constants are interpolated; values are bound


def _money_upsert(count_col: str, total_col: str) -> text:
    return text(f"""
INSERT INTO player_metrics AS player_metrics (player_id, currency, {count_col}, {total_col},
    last_activity_at)
VALUES (:player_id, :currency, :n, :amount, :at)
ON CONFLICT (player_id) DO UPDATE SET
    {count_col} = player_metrics.{count_col} + :n,
    {total_col} = player_metrics.{total_col} + :amount,
    last_activity_at = GREATEST(player_metrics.last_activity_at, :at)
WHERE player_metrics.currency = :currency
RETURNING player_id
""")  # noqa: S608 - column names are constants below


_DEPOSIT = _money_upsert("deposit_count", "deposit_total")
_WITHDRAWAL = _money_upsert("withdrawal_count", "withdrawal_total")
_WIN = text("""
INSERT INTO player_metrics AS player_metrics (player_id, currency, win_total, last_activity_at)
VALUES (:player_id, :currency, :amount, :at)
ON CONFLICT (player_id) DO UPDATE SET
    win_total = player_metrics.win_total + :amount,
    last_activity_at = GREATEST(player_metrics.last_activity_at, :at)
WHERE player_metrics.currency = :currency
RETURNING player_id
""")


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


async def _run(session: AsyncSession, stmt: text, params: dict) -> None:
    row = (await session.execute(stmt, params)).first()
    if row is None:
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
    await _run(session, _RECORD_BET, {
        "player_id": player_id, "currency": currency, "stake": stake_minor, "at": placed_at,
        "hour": placed_at.astimezone(UTC).hour, "bucket": stake_bucket(stake_minor),
        "game": game_id[:64], "provider": provider[:64], "category": category[:64],
    })  # fmt: skip


def _uncounted(column: str, param: str) -> str:
    # Decrement {key: n}; a key that reaches 0 is dropped, so it is no favourite any more.
    key = f"CAST(:{param} AS text)"
    return f"""CASE WHEN NOT player_metrics.{column} ? {key} THEN player_metrics.{column}
            WHEN (player_metrics.{column} ->> {key})::bigint <= 1
            THEN player_metrics.{column} - {key}
            ELSE jsonb_set(player_metrics.{column}, ARRAY[{key}],
                 to_jsonb((player_metrics.{column} ->> {key})::bigint - 1)) END"""


_REVERSE_BET = text(f"""
UPDATE player_metrics SET
    bet_count = GREATEST(0, bet_count - 1),
    stake_total = GREATEST(0, stake_total - :stake),
    win_total = GREATEST(0, win_total - :win),
    hour_histogram[:hour + 1] = GREATEST(0, hour_histogram[:hour + 1] - 1),
    stake_histogram[:bucket + 1] = GREATEST(0, stake_histogram[:bucket + 1] - 1),
    game_counts = {_uncounted("game_counts", "game")},
    provider_counts = {_uncounted("provider_counts", "provider")},
    category_counts = {_uncounted("category_counts", "category")}
WHERE player_id = :player_id AND currency = :currency
RETURNING player_id
""")  # noqa: S608 - only module constants are interpolated; values are bound


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
    await _run(session, _REVERSE_BET, {
        "player_id": player_id, "currency": currency, "stake": stake_minor, "win": win_minor,
        "hour": placed_at.astimezone(UTC).hour, "bucket": stake_bucket(stake_minor),
        "game": game_id[:64], "provider": provider[:64], "category": category[:64],
    })  # fmt: skip


async def record_win(
    session: AsyncSession, player_id: uuid.UUID, amount_minor: int, currency: str, at: datetime
) -> None:
    _check(amount_minor, currency, at, allow_zero=True)
    await _run(session, _WIN, {"player_id": player_id, "currency": currency,
                               "amount": amount_minor, "at": at})  # fmt: skip


async def record_deposit(
    session: AsyncSession, player_id: uuid.UUID, amount_minor: int, currency: str, at: datetime
) -> None:
    _check(amount_minor, currency, at)
    await _run(session, _DEPOSIT, {"player_id": player_id, "currency": currency, "n": 1,
                                   "amount": amount_minor, "at": at})  # fmt: skip


async def record_withdrawal(
    session: AsyncSession, player_id: uuid.UUID, amount_minor: int, currency: str, at: datetime
) -> None:
    _check(amount_minor, currency, at)
    await _run(session, _WITHDRAWAL, {"player_id": player_id, "currency": currency, "n": 1,
                                      "amount": amount_minor, "at": at})  # fmt: skip


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
    from sqlalchemy import select

    rows = await session.execute(
        select(PlayerMetrics).where(PlayerMetrics.player_id.in_(player_ids))
    )
    return list(rows.scalars())
