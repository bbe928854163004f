"""Every SQL statement of the playstyle package.

The metric upserts run once per money event, so they are raw SQL: ONE statement each, as
named constants. Nothing is interpolated into them: values, limits and sizes are all
bound parameters (``tuning()`` supplies the constant ones).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.playstyle.models import HOURS, STAKE_BUCKETS, PlayerMetrics

SESSION_GAP_SECONDS = 30 * 60  # a bet after 30 idle minutes starts a new session
TOP_KEYS = 50  # distinct games/providers/categories counted per player

# The {key: n} counters (game_counts, provider_counts, category_counts) increment a key;
# once TOP_KEYS keys are held, new keys are not added.
RECORD_BET = text("""
INSERT INTO player_metrics AS player_metrics (
    player_id, currency, bet_count, stake_total, session_count, first_bet_at, last_bet_at,
    last_activity_at, hour_histogram, stake_histogram, game_counts, provider_counts,
    category_counts)
VALUES (:player_id, :currency, 1, :stake, 1, :at, :at, :at,
    (SELECT array_agg(CASE WHEN h = :hour THEN 1 ELSE 0 END ORDER BY h)
       FROM generate_series(0, :last_hour) h),
    (SELECT array_agg(CASE WHEN b = :bucket THEN 1 ELSE 0 END::bigint ORDER BY b)
       FROM generate_series(0, :last_bucket) b),
    jsonb_build_object(CAST(:game AS text), 1), jsonb_build_object(CAST(:provider AS text), 1),
    jsonb_build_object(CAST(:category AS text), 1))
ON CONFLICT (player_id) DO UPDATE SET
    bet_count = player_metrics.bet_count + 1,
    stake_total = player_metrics.stake_total + :stake,
    session_count = player_metrics.session_count + CASE
        WHEN player_metrics.last_bet_at IS NULL
          OR :at - player_metrics.last_bet_at > make_interval(secs => :session_gap)
        THEN 1 ELSE 0 END,
    first_bet_at = LEAST(player_metrics.first_bet_at, :at),
    last_bet_at = GREATEST(player_metrics.last_bet_at, :at),
    last_activity_at = GREATEST(player_metrics.last_activity_at, :at),
    hour_histogram[:hour + 1] = player_metrics.hour_histogram[:hour + 1] + 1,
    stake_histogram[:bucket + 1] = player_metrics.stake_histogram[:bucket + 1] + 1,
    game_counts = CASE WHEN player_metrics.game_counts ? CAST(:game AS text)
            OR (SELECT count(*) FROM jsonb_object_keys(player_metrics.game_counts)) < :top_keys
        THEN jsonb_set(player_metrics.game_counts, ARRAY[CAST(:game AS text)],
            to_jsonb(coalesce(
                (player_metrics.game_counts ->> CAST(:game AS text))::bigint, 0) + 1))
        ELSE player_metrics.game_counts END,
    provider_counts = CASE WHEN player_metrics.provider_counts ? CAST(:provider AS text)
            OR (SELECT count(*) FROM jsonb_object_keys(player_metrics.provider_counts))
                < :top_keys
        THEN jsonb_set(player_metrics.provider_counts, ARRAY[CAST(:provider AS text)],
            to_jsonb(coalesce(
                (player_metrics.provider_counts ->> CAST(:provider AS text))::bigint, 0) + 1))
        ELSE player_metrics.provider_counts END,
    category_counts = CASE WHEN player_metrics.category_counts ? CAST(:category AS text)
            OR (SELECT count(*) FROM jsonb_object_keys(player_metrics.category_counts))
                < :top_keys
        THEN jsonb_set(player_metrics.category_counts, ARRAY[CAST(:category AS text)],
            to_jsonb(coalesce(
                (player_metrics.category_counts ->> CAST(:category AS text))::bigint, 0) + 1))
        ELSE player_metrics.category_counts END
WHERE player_metrics.currency = :currency
RETURNING player_id
""")

# Takes back one counted round; a counter key that reaches 0 is dropped (no favourite).
REVERSE_BET = text("""
UPDATE player_metrics SET
    bet_count = GREATEST(0, bet_count - 1),
    stake_total = GREATEST(0, stake_total - :stake),
    win_total = GREATEST(0, win_total - :win),
    hour_histogram[:hour + 1] = GREATEST(0, hour_histogram[:hour + 1] - 1),
    stake_histogram[:bucket + 1] = GREATEST(0, stake_histogram[:bucket + 1] - 1),
    game_counts = CASE
        WHEN NOT player_metrics.game_counts ? CAST(:game AS text)
        THEN player_metrics.game_counts
        WHEN (player_metrics.game_counts ->> CAST(:game AS text))::bigint <= 1
        THEN player_metrics.game_counts - CAST(:game AS text)
        ELSE jsonb_set(player_metrics.game_counts, ARRAY[CAST(:game AS text)],
            to_jsonb((player_metrics.game_counts ->> CAST(:game AS text))::bigint - 1)) END,
    provider_counts = CASE
        WHEN NOT player_metrics.provider_counts ? CAST(:provider AS text)
        THEN player_metrics.provider_counts
        WHEN (player_metrics.provider_counts ->> CAST(:provider AS text))::bigint <= 1
        THEN player_metrics.provider_counts - CAST(:provider AS text)
        ELSE jsonb_set(player_metrics.provider_counts, ARRAY[CAST(:provider AS text)],
            to_jsonb((player_metrics.provider_counts ->> CAST(:provider AS text))::bigint - 1))
        END,
    category_counts = CASE
        WHEN NOT player_metrics.category_counts ? CAST(:category AS text)
        THEN player_metrics.category_counts
        WHEN (player_metrics.category_counts ->> CAST(:category AS text))::bigint <= 1
        THEN player_metrics.category_counts - CAST(:category AS text)
        ELSE jsonb_set(player_metrics.category_counts, ARRAY[CAST(:category AS text)],
            to_jsonb((player_metrics.category_counts ->> CAST(:category AS text))::bigint - 1))
        END
WHERE player_id = :player_id AND currency = :currency
RETURNING player_id
""")

DEPOSIT = text("""
INSERT INTO player_metrics AS player_metrics (player_id, currency, deposit_count,
    deposit_total, last_activity_at)
VALUES (:player_id, :currency, :n, :amount, :at)
ON CONFLICT (player_id) DO UPDATE SET
    deposit_count = player_metrics.deposit_count + :n,
    deposit_total = player_metrics.deposit_total + :amount,
    last_activity_at = GREATEST(player_metrics.last_activity_at, :at)
WHERE player_metrics.currency = :currency
RETURNING player_id
""")

WITHDRAWAL = text("""
INSERT INTO player_metrics AS player_metrics (player_id, currency, withdrawal_count,
    withdrawal_total, last_activity_at)
VALUES (:player_id, :currency, :n, :amount, :at)
ON CONFLICT (player_id) DO UPDATE SET
    withdrawal_count = player_metrics.withdrawal_count + :n,
    withdrawal_total = player_metrics.withdrawal_total + :amount,
    last_activity_at = GREATEST(player_metrics.last_activity_at, :at)
WHERE player_metrics.currency = :currency
RETURNING player_id
""")

WIN = text("""
INSERT INTO player_metrics AS player_metrics (player_id, currency, win_total, last_activity_at)
VALUES (:player_id, :currency, :amount, :at)
ON CONFLICT (player_id) DO UPDATE SET
    win_total = player_metrics.win_total + :amount,
    last_activity_at = GREATEST(player_metrics.last_activity_at, :at)
WHERE player_metrics.currency = :currency
RETURNING player_id
""")

# The settlement a refunded round's rollback takes back (per-player index on subject).
SETTLED_ROUND = text("""
SELECT time, data FROM outbox_events
WHERE subject = :subject AND type = 'bet.settled' AND data ->> 'gameRoundId' = :round
ORDER BY id DESC LIMIT 1
""")


def tuning() -> dict[str, int]:
    """The constant parameters of RECORD_BET (sizes and limits live in Python only)."""
    return {
        "last_hour": HOURS - 1,
        "last_bucket": STAKE_BUCKETS - 1,
        "session_gap": SESSION_GAP_SECONDS,
        "top_keys": TOP_KEYS,
    }


async def upsert(session: AsyncSession, stmt: TextClause, params: dict[str, Any]) -> bool:
    """Run one metric upsert; False when the row exists in another currency (unchanged)."""
    return (await session.execute(stmt, params)).first() is not None


async def settled_round(
    session: AsyncSession, player_id: uuid.UUID, round_ref: str
) -> tuple[datetime, Any] | None:
    """(time, data) of the player's newest ``bet.settled`` event for a game round."""
    row = (
        await session.execute(SETTLED_ROUND, {"subject": str(player_id), "round": round_ref})
    ).first()
    return (row.time, row.data) if row is not None else None


async def metrics_of(session: AsyncSession, player_ids: list[uuid.UUID]) -> list[PlayerMetrics]:
    stmt = select(PlayerMetrics).where(col(PlayerMetrics.player_id).in_(player_ids))
    return list((await session.execute(stmt)).scalars())
