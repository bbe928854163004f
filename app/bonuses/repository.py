"""SQL of the bonus engine: the parts the bonus ledger extension adds to the ledger's
LOAD and APPLY statements, the award insert, the trigger jobs' reads, bonus expiry's lock,
and the Core queries of the GraphQL reads. Raw SQL (named constants) where it is the
money path or a set-based job; SQLAlchemy Core where filters compose."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bonuses.models import BonusCampaign, LoyaltyAccount, PlayerBonus
from app.ledger.repository import LoadParts
from app.ledger.write_repository import ApplyParts

# --- parts of the ledger's two statements (see app/ledger/hooks.py) ------------------------

LEDGER_LOAD_PARTS = LoadParts(
    ctes="""
, pb AS (
    -- Active bonuses (wagering, max bet): one probe of a partial index when there are none.
    SELECT id, campaign_id, kind, currency, amount, wagering_required, wagered, max_bet,
           max_conversion, contributions, forfeit_on_withdrawal, status
    FROM player_bonuses
    WHERE player_id = $5 AND status = 'ACTIVE' AND (SELECT c FROM n) > 0
    ORDER BY id FOR UPDATE
), lo AS (
    SELECT points, tier FROM loyalty_accounts
    WHERE player_id = $5 AND (SELECT c FROM n) > 0
    FOR UPDATE
)""",
    columns=""",
       (SELECT jsonb_agg(to_jsonb(pb) ORDER BY id) FROM pb)::text AS bonuses,
       (SELECT to_jsonb(lo) FROM lo)::text AS loyalty""",
)

# The same rows for every player of a set-based walletBatch (app/ledger/batch_repository.py;
# the players as ``(SELECT $5::uuid[])``, as its LOAD reads them: the generic plan kept).
LEDGER_BATCH_LOAD_PARTS = LoadParts(
    ctes="""
, pb AS (
    SELECT id, player_id, campaign_id, kind, currency, amount, wagering_required, wagered,
           max_bet, max_conversion, contributions, forfeit_on_withdrawal, status
    FROM player_bonuses
    WHERE player_id = ANY((SELECT $5::uuid[])::uuid[]) AND status = 'ACTIVE'
      AND (SELECT c FROM n) > 0
    ORDER BY id FOR UPDATE
), lo AS (
    SELECT player_id, points, tier FROM loyalty_accounts
    WHERE player_id = ANY((SELECT $5::uuid[])::uuid[]) AND (SELECT c FROM n) > 0
    ORDER BY player_id FOR UPDATE
)""",
    columns=""",
       (SELECT jsonb_agg(to_jsonb(pb) - 'player_id' ORDER BY id) FROM pb
        WHERE pb.player_id = q.id)::text AS bonuses,
       (SELECT to_jsonb(lo) - 'player_id' FROM lo WHERE lo.player_id = q.id)::text AS loyalty""",
)

# $9 is the core's player id.
LEDGER_APPLY_PARTS = ApplyParts(
    ctes="""
, pbu AS (
    UPDATE player_bonuses b
    SET wagered = v.wagered, status = v.status, released = b.released + v.released,
        forfeited = b.forfeited + v.forfeited,
        finished_at = CASE WHEN v.status <> 'ACTIVE' THEN now() END, updated_at = now()
    FROM unnest($e0::bigint[], $e1::bigint[], $e2::text[], $e3::bigint[], $e4::bigint[])
         AS v(id, wagered, status, released, forfeited)
    WHERE b.id = v.id AND b.status = 'ACTIVE'
    RETURNING b.id
), loy AS (
    INSERT INTO loyalty_accounts (player_id, points, tier)
    SELECT $9::uuid, $e5::bigint, $e6::text WHERE $e5::bigint IS NOT NULL
    ON CONFLICT (player_id) DO UPDATE
    SET points = loyalty_accounts.points + excluded.points, tier = excluded.tier,
        updated_at = now()
)""",
    columns=""",
       (SELECT count(*) FROM pbu) AS bonuses_updated""",
    parameters=7,
    idle_columns=""",
       0::bigint AS bonuses_updated""",
)

# The batched form (app/ledger/batch_repository.py): every player's final bonus figures
# (by bonus id) and loyalty points earned in the batch (by player), as the single APPLY
# writes them one operation at a time.
LEDGER_BATCH_APPLY_PARTS = ApplyParts(
    ctes="""
, pbu AS (
    UPDATE player_bonuses b
    SET wagered = v.wagered, status = v.status, released = b.released + v.released,
        forfeited = b.forfeited + v.forfeited,
        finished_at = CASE WHEN v.status <> 'ACTIVE' THEN now() END, updated_at = now()
    FROM unnest($e0::bigint[], $e1::bigint[], $e2::text[], $e3::bigint[], $e4::bigint[])
         AS v(id, wagered, status, released, forfeited)
    WHERE b.id = v.id AND b.id = ANY($e0::bigint[]) AND b.status = 'ACTIVE'
    RETURNING b.id
), loy AS (
    INSERT INTO loyalty_accounts (player_id, points, tier)
    SELECT * FROM unnest($e5::uuid[], $e6::bigint[], $e7::text[])
    ON CONFLICT (player_id) DO UPDATE
    SET points = loyalty_accounts.points + excluded.points, tier = excluded.tier,
        updated_at = now()
)""",
    columns=""",
       (SELECT count(*) FROM pbu) AS bonuses_updated""",
    parameters=8,
)

# --- bonus expiry (a ledger system operation) ----------------------------------------------

EXPIRED_BONUS_PLAYERS_SQL = """
SELECT DISTINCT player_id FROM player_bonuses
WHERE status = 'ACTIVE' AND expires_at <= now()
LIMIT $1
"""

# The ledger's lock order: wallets by id (SKIP LOCKED), then the player's active bonuses.
LOCK_EXPIRING_BONUSES_SQL = """
WITH w AS (
    SELECT id, kind, currency, balance, held FROM wallets
    WHERE player_id = $1 ORDER BY id FOR UPDATE SKIP LOCKED
), pb AS (
    SELECT id, campaign_id, kind, currency, amount, wagering_required, wagered, max_bet,
           max_conversion, contributions, forfeit_on_withdrawal, status,
           (expires_at <= now()) AS expired
    FROM player_bonuses
    WHERE player_id = $1 AND status = 'ACTIVE'
      AND (SELECT count(*) FROM w) = (SELECT count(*) FROM wallets WHERE player_id = $1)
    ORDER BY id FOR UPDATE
)
SELECT (SELECT jsonb_agg(to_jsonb(w) ORDER BY id) FROM w)::text AS wallets,
       (SELECT count(*) FROM wallets WHERE player_id = $1) AS wallet_count,
       (SELECT jsonb_agg(to_jsonb(pb) ORDER BY id) FROM pb)::text AS rows
"""

INSERT_BONUS_SQL = """
INSERT INTO player_bonuses (campaign_id, player_id, occurrence_key, kind, status, currency,
                            amount, deposit_amount, wagering_required, contributions, max_bet,
                            max_conversion, forfeit_on_withdrawal, released, granted_by,
                            expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15,
        now() + make_interval(days => $16))
ON CONFLICT (campaign_id, player_id, occurrence_key) DO NOTHING
RETURNING id, expires_at
"""

PLAYER_FACTS_SQL = """
SELECT status, country, confirm_status, currency FROM players WHERE id = $1
"""


@dataclass(frozen=True)
class PlayerFacts:
    status: str
    country: str
    confirm_status: str
    currency: str


async def player_facts(conn: Any, player_id: uuid.UUID) -> PlayerFacts | None:
    row = await conn.fetchrow(PLAYER_FACTS_SQL, player_id)
    return None if row is None else PlayerFacts(**dict(row))


async def in_segments(conn: Any, player_id: uuid.UUID, segment_ids: list[str]) -> bool:
    """Member of any of the campaign's segments (app/segments keeps membership current)."""
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM segment_members "
        "WHERE player_id = $1 AND segment_id::text = ANY($2::text[]))",
        player_id,
        segment_ids,
    )
    return bool(found)


async def unknown_segments(session: AsyncSession, segment_ids: list[str]) -> list[str]:
    if not segment_ids:
        return []
    rows = await session.execute(
        text("SELECT id::text FROM segments WHERE id::text = ANY(:ids)"), {"ids": segment_ids}
    )
    known = set(rows.scalars())
    return [s for s in segment_ids if s not in known]


async def deposit_campaigns(
    session: AsyncSession, currency: str, promo_code: str | None
) -> list[BonusCampaign]:
    stmt = select(BonusCampaign).where(
        col(BonusCampaign.status) == "ACTIVE",
        col(BonusCampaign.currency) == currency,
        (col(BonusCampaign.trigger) == "FIRST_DEPOSIT")
        | (
            (col(BonusCampaign.trigger) == "DEPOSIT")
            & (
                col(BonusCampaign.promo_code).is_(None)
                | (col(BonusCampaign.promo_code) == (promo_code or "").upper())
            )
            & (
                col(BonusCampaign.promo_expires_at).is_(None)
                | (col(BonusCampaign.promo_expires_at) > func.now())
            )
        ),
    )
    return list((await session.execute(stmt.order_by(col(BonusCampaign.id)))).scalars())


async def active_campaigns(session: AsyncSession, **where: Any) -> list[BonusCampaign]:
    conditions = [col(BonusCampaign.status) == "ACTIVE"] + [
        getattr(BonusCampaign, k) == v for k, v in where.items()
    ]
    stmt = select(BonusCampaign).where(and_(*conditions)).order_by(col(BonusCampaign.id))
    return list((await session.execute(stmt)).scalars())


async def list_campaigns(session: AsyncSession, status: str | None) -> list[BonusCampaign]:
    stmt = select(BonusCampaign).order_by(col(BonusCampaign.id).desc())
    if status:
        stmt = stmt.where(col(BonusCampaign.status) == status)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class BonusFilter:
    player_id: uuid.UUID | None = None
    status: str | None = None
    campaign_id: int | None = None


async def bonus_page(
    session: AsyncSession, flt: BonusFilter, limit: int, before_id: int | None
) -> tuple[list[PlayerBonus], bool, int]:
    conditions: list[Any] = []
    if flt.player_id is not None:
        conditions.append(col(PlayerBonus.player_id) == flt.player_id)
    if flt.status:
        conditions.append(col(PlayerBonus.status) == flt.status)
    if flt.campaign_id is not None:
        conditions.append(col(PlayerBonus.campaign_id) == flt.campaign_id)
    page = conditions + ([col(PlayerBonus.id) < before_id] if before_id is not None else [])
    stmt = (
        select(PlayerBonus)
        .where(and_(True, *page))
        .order_by(col(PlayerBonus.id).desc())
        .limit(limit + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
    total = (
        await session.execute(
            select(func.count()).select_from(PlayerBonus).where(and_(True, *conditions))
        )
    ).scalar_one()
    return rows[:limit], len(rows) > limit, int(total)


async def bonuses_for_players(
    session: AsyncSession, player_ids: Sequence[uuid.UUID]
) -> list[PlayerBonus]:
    stmt = (
        select(PlayerBonus)
        .where(col(PlayerBonus.player_id).in_(player_ids))
        .order_by(col(PlayerBonus.id))
    )
    return list((await session.execute(stmt)).scalars())


async def loyalty(session: AsyncSession, player_id: uuid.UUID) -> LoyaltyAccount | None:
    return await session.get(LoyaltyAccount, player_id)


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- trigger jobs ---------------------------------------------------------------------------

DEPOSIT_COUNT_SQL = """
SELECT count(*) FROM (SELECT 1 FROM ledger_transfers
                      WHERE player_id = :p AND kind = 'DEPOSIT' LIMIT 2) d
"""

BIRTHDAYS_SQL = """
SELECT p.id, 0 FROM players p
WHERE extract(month FROM p.birth_date) = :m AND extract(day FROM p.birth_date) = :d
  AND p.status = 'ACTIVE'
  AND NOT EXISTS (SELECT 1 FROM player_bonuses b WHERE b.campaign_id = :c
                  AND b.player_id = p.id AND b.occurrence_key = :occ)
LIMIT :n
"""

# Turnover of the money wallets (stakes of settled bets, rolled-back rounds netted out).
TURNOVER_SQL = """
SELECT w.player_id, sum(w.turnover)::bigint FROM wallets w
WHERE w.currency = :cur AND w.kind IN ('REAL', 'BONUS')
  AND NOT EXISTS (SELECT 1 FROM player_bonuses b WHERE b.campaign_id = :c
                  AND b.player_id = w.player_id AND b.occurrence_key = :occ)
GROUP BY w.player_id HAVING sum(w.turnover) >= :threshold
LIMIT :n
"""

ENSURE_CURSOR_SQL = """
INSERT INTO bonus_trigger_cursors (name, last_event_id) VALUES (:name, 0)
ON CONFLICT DO NOTHING
"""
LOCK_CURSOR_SQL = """
SELECT last_event_id FROM bonus_trigger_cursors WHERE name = :name FOR UPDATE SKIP LOCKED
"""
ADVANCE_CURSOR_SQL = "UPDATE bonus_trigger_cursors SET last_event_id = :id WHERE name = :name"
EVENTS_AFTER_SQL = """
SELECT id, event_id, subject, data, time < now() - make_interval(secs => :lag) AS settled
FROM outbox_events
WHERE type = :type AND id > :after ORDER BY id LIMIT :n
"""

# Net loss on REAL money: stakes lost minus wins, refunds and reversals netted out.
NET_LOSSES_SQL = """
SELECT t.player_id, -sum(t.amount)::bigint AS loss
FROM ledger_transfers t JOIN wallets w ON w.id = t.wallet_id
WHERE w.kind = 'REAL' AND t.currency = :cur
  AND t.kind IN ('BET', 'WIN', 'BET_REFUND', 'WIN_REVERSAL')
  AND t.created_at >= :since AND t.created_at < :until
  AND NOT EXISTS (SELECT 1 FROM player_bonuses b WHERE b.campaign_id = :c
                  AND b.player_id = t.player_id AND b.occurrence_key = :occ)
GROUP BY t.player_id HAVING sum(t.amount) < 0
ORDER BY t.player_id
"""


async def deposit_count(session: AsyncSession, player_id: uuid.UUID) -> int:
    """The player's deposits, counted up to 2 (is this the first?)."""
    result = await session.execute(text(DEPOSIT_COUNT_SQL), {"p": player_id})
    return int(result.scalar_one())


async def player_amounts(
    session: AsyncSession, sql: str, params: dict[str, Any]
) -> list[tuple[uuid.UUID, int]]:
    """(player id, base amount) rows of a trigger job's query (birthdays, turnover, net
    losses)."""
    rows = (await session.execute(text(sql), params)).all()
    return [(r[0], int(r[1])) for r in rows]


async def ensure_cursor(session: AsyncSession, name: str) -> None:
    await session.execute(text(ENSURE_CURSOR_SQL), {"name": name})


async def lock_cursor(session: AsyncSession, name: str) -> int | None:
    """The cursor's position, locked (SKIP LOCKED: None when another replica has it)."""
    found = (await session.execute(text(LOCK_CURSOR_SQL), {"name": name})).scalar()
    return None if found is None else int(found)


async def advance_cursor(session: AsyncSession, name: str, event_id: int) -> None:
    await session.execute(text(ADVANCE_CURSOR_SQL), {"id": event_id, "name": name})


async def events_after(
    session: AsyncSession, type: str, after: int, limit: int, lag_seconds: float
) -> list[Any]:
    rows = await session.execute(text(EVENTS_AFTER_SQL), {
        "type": type, "after": after, "n": limit, "lag": lag_seconds,
    })  # fmt: skip
    return list(rows.all())
