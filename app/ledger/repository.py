"""SQL of the ledger. Money mutations run as two prepared statements on the driver
connection: LOAD (claim the idempotency key, lock the player's wallets, read the holds
and round involved) and APPLY (every write of the operation in one data-modifying CTE)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import LedgerTransfer as T
from app.wallets.models import Wallet


async def driver(session: AsyncSession | Any) -> asyncpg.Connection:
    """The asyncpg connection under ``session``, inside the session's transaction.

    SQLAlchemy begins the driver-level transaction lazily on its first statement; the
    money path bypasses SQLAlchemy's statement layer, so it starts it here. A bare
    asyncpg connection (already in a transaction) is taken as it is (bench/wallet.py).
    """
    if not isinstance(session, AsyncSession):
        return session
    conn = await session.connection()
    adapted = (await conn.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:  # type: ignore[attr-defined]
        await adapted._start_transaction()  # type: ignore[attr-defined]
    return adapted.driver_connection  # type: ignore[attr-defined,return-value]


# Claims the key first: the wallet locks depend on the claim, so a duplicate request
# waits on the key's unique index before it holds any wallet lock (no deadlock between
# two requests reusing one key for different wallets). Lock order everywhere: all of the
# player's wallets by ascending id, then holds by id, then the round.
LOAD_SQL = """
WITH claim AS (
    INSERT INTO idempotency_keys (scope, operation, key, request_hash)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING
    RETURNING 1
), w AS (
    SELECT id, kind, currency, balance, held FROM wallets
    WHERE player_id = $5 AND EXISTS (SELECT 1 FROM claim)
    ORDER BY id FOR UPDATE
), n AS (
    SELECT count(*) AS c FROM w
), h AS (
    SELECT id, player_id, purpose, game_round_id, transaction_id, currency, real_wallet_id,
           bonus_wallet_id, real_amount, bonus_amount, status,
           (expires_at IS NOT NULL AND expires_at <= now()) AS expired
    FROM ledger_holds
    WHERE (SELECT c FROM n) > 0 AND (
        id = ANY($6::bigint[])
        OR game_round_id IN (SELECT game_round_id FROM ledger_holds
                             WHERE id = ANY($6::bigint[]) AND purpose = 'BET')
        OR game_round_id IN (SELECT id FROM game_rounds WHERE client = $7 AND round_ref = $8)
        OR (client = $7 AND transaction_id = $9 AND purpose = 'BET'))
    ORDER BY id FOR UPDATE
), r AS (
    SELECT id, player_id, round_ref, currency, status, stake_real, stake_bonus, win_real, win_bonus,
           derived
    FROM game_rounds
    WHERE (SELECT c FROM n) > 0
      AND ((client = $7 AND round_ref = $8) OR id IN (SELECT game_round_id FROM h))
    ORDER BY id FOR UPDATE
), pb AS (
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
)
SELECT EXISTS (SELECT 1 FROM claim) AS claimed,
       (SELECT status FROM players WHERE id = $5) AS player_status,
       (SELECT confirm_status FROM players WHERE id = $5) AS confirm_status,
       (SELECT jsonb_agg(to_jsonb(w) ORDER BY id) FROM w)::text AS wallets,
       (SELECT jsonb_agg(to_jsonb(h) ORDER BY id) FROM h)::text AS holds,
       (SELECT jsonb_agg(to_jsonb(r) ORDER BY id) FROM r)::text AS rounds,
       (SELECT jsonb_agg(to_jsonb(pb) ORDER BY id) FROM pb)::text AS bonuses,
       (SELECT to_jsonb(lo) FROM lo)::text AS loyalty,
       (SELECT kind FROM game_transactions WHERE client = $7 AND transaction_id = $10)
           AS seen_transaction,
       CASE WHEN $11 THEN nextval(pg_get_serial_sequence('ledger_holds', 'id')) END
           AS new_hold_id
"""

# Every write of one operation. Unused parts get empty arrays / NULLs and write nothing,
# so all operations share this one prepared statement.
APPLY_SQL = """
WITH wal AS (
    UPDATE wallets w
    SET balance = v.balance, held = v.held, turnover = w.turnover + v.turnover,
        updated_at = now()
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
         AS v(id, balance, held, turnover)
    WHERE w.id = v.id
    RETURNING w.id
), house AS (
    INSERT INTO house_accounts (currency, kind)
    SELECT DISTINCT t.currency, t.house FROM unnest($6::text[], $7::text[]) AS t(house, currency)
    ON CONFLICT DO NOTHING
), tr AS (
    INSERT INTO ledger_transfers (operation_id, player_id, wallet_id, house_account, currency,
                                  amount, kind, balance_after, reference, idempotency_key, actor)
    SELECT $8::uuid, $9::uuid, t.wallet_id, t.house, t.currency, t.amount, t.kind, t.balance_after,
           $10::text, $11::text, $12::text
    FROM unnest($5::bigint[], $6::text[], $7::text[], $13::bigint[], $14::text[],
                $15::bigint[]) AS t(wallet_id, house, currency, amount, kind, balance_after)
), rnd AS (
    INSERT INTO game_rounds (client, round_ref, player_id, currency)
    SELECT $16::text, $17::text, $9::uuid, $18::text WHERE $17::text IS NOT NULL
    ON CONFLICT (client, round_ref) DO UPDATE SET updated_at = now()
    WHERE game_rounds.status = 'OPEN' AND game_rounds.player_id = excluded.player_id
      AND game_rounds.currency = excluded.currency
    RETURNING id
), hin AS (
    INSERT INTO ledger_holds (id, player_id, purpose, client, game_round_id, transaction_id,
                              reference, currency, real_wallet_id, bonus_wallet_id,
                              real_amount, bonus_amount, expires_at)
    SELECT $19::bigint, $9::uuid, $20::text, $16::text, (SELECT id FROM rnd), $21::text, $10::text,
           $18::text, $22::bigint, $23::bigint, $24::bigint, $25::bigint,
           now() + make_interval(secs => $26::float8)
    WHERE $19::bigint IS NOT NULL AND ($17::text IS NULL OR EXISTS (SELECT 1 FROM rnd))
    RETURNING id
), hup AS (
    UPDATE ledger_holds h SET status = v.status, finalized_at = now()
    FROM unnest($27::bigint[], $28::text[]) AS v(id, status)
    WHERE h.id = v.id
    RETURNING h.id
), rup AS (
    UPDATE game_rounds g
    SET status = $30::text, stake_real = $31::bigint, stake_bonus = $32::bigint,
        win_real = $33::bigint, win_bonus = $34::bigint,
        derived = coalesce($55::jsonb, g.derived), updated_at = now()
    WHERE g.id = $29::bigint
    RETURNING g.id
), gtx AS (
    INSERT INTO game_transactions (client, transaction_id, kind, game_round_id, hold_id)
    SELECT $16::text, $35::text, $36::text, coalesce($29::bigint, (SELECT id FROM rnd)), $19::bigint
    WHERE $35::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
), ev AS (
    INSERT INTO outbox_events (event_id, type, source, subject, data)
    SELECT gen_random_uuid(), e.type, 'urn:pms', $9::text, e.data::jsonb
    FROM unnest($37::text[], $38::text[]) AS e(type, data)
), idem AS (
    UPDATE idempotency_keys SET response = $39::text
    WHERE scope = $40::text AND operation = $41::text AND key = $42::text
), aud AS (
    INSERT INTO audit_log (actor, action, target, outcome, ip, request_id, details)
    SELECT $12::text, $50::text, $9::text, $51::text, $52::text, $53::text, $54::jsonb
    WHERE $50::text IS NOT NULL
), pbu AS (
    UPDATE player_bonuses b
    SET wagered = v.wagered, status = v.status, released = b.released + v.released,
        forfeited = b.forfeited + v.forfeited,
        finished_at = CASE WHEN v.status <> 'ACTIVE' THEN now() END, updated_at = now()
    FROM unnest($43::bigint[], $44::bigint[], $45::text[], $46::bigint[], $47::bigint[])
         AS v(id, wagered, status, released, forfeited)
    WHERE b.id = v.id AND b.status = 'ACTIVE'
    RETURNING b.id
), loy AS (
    INSERT INTO loyalty_accounts (player_id, points, tier)
    SELECT $9::uuid, $48::bigint, $49::text WHERE $48::bigint IS NOT NULL
    ON CONFLICT (player_id) DO UPDATE
    SET points = loyalty_accounts.points + excluded.points, tier = excluded.tier,
        updated_at = now()
)
SELECT (SELECT count(*) FROM wal) AS wallets,
       (SELECT count(*) FROM rnd) AS rounds,
       (SELECT count(*) FROM hin) AS holds_inserted,
       (SELECT count(*) FROM hup) AS holds_updated,
       (SELECT count(*) FROM gtx) AS game_transactions,
       (SELECT count(*) FROM pbu) AS bonuses_updated
"""

REPLAY_SQL = """
SELECT request_hash, response FROM idempotency_keys
WHERE scope = $1 AND operation = $2 AND key = $3
"""


@dataclass(frozen=True)
class IdempotencyClaim:
    scope: str
    operation: str
    key: str
    request_hash: str


@dataclass
class Loaded:
    claimed: bool
    player_status: str | None
    confirm_status: str | None
    wallets: list[dict[str, Any]]
    holds: list[dict[str, Any]]
    rounds: list[dict[str, Any]]
    seen_transaction: str | None
    new_hold_id: int | None
    bonuses: list[dict[str, Any]] = field(default_factory=list)  # ACTIVE, locked, by id
    loyalty: dict[str, Any] | None = None


async def load(
    conn: asyncpg.Connection,
    claim: IdempotencyClaim,
    player_id: uuid.UUID,
    *,
    client: str,
    hold_ids: list[int] | None = None,
    round_ref: str | None = None,
    bet_transaction_id: str | None = None,
    new_transaction_id: str | None = None,
    allocate_hold: bool = False,
) -> Loaded:
    row = await conn.fetchrow(
        LOAD_SQL,
        claim.scope,
        claim.operation,
        claim.key,
        claim.request_hash,
        player_id,
        hold_ids or [],
        client,
        round_ref,
        bet_transaction_id,
        new_transaction_id,
        allocate_hold,
    )
    assert row is not None
    return Loaded(
        claimed=row["claimed"],
        player_status=row["player_status"],
        confirm_status=row["confirm_status"],
        wallets=json.loads(row["wallets"] or "[]"),
        holds=json.loads(row["holds"] or "[]"),
        rounds=json.loads(row["rounds"] or "[]"),
        seen_transaction=row["seen_transaction"],
        new_hold_id=row["new_hold_id"],
        bonuses=json.loads(row["bonuses"] or "[]"),
        loyalty=json.loads(row["loyalty"]) if row["loyalty"] else None,
    )


async def stored(
    conn: asyncpg.Connection, claim: IdempotencyClaim
) -> tuple[str, str | None] | None:
    row = await conn.fetchrow(REPLAY_SQL, claim.scope, claim.operation, claim.key)
    return None if row is None else (row["request_hash"], row["response"])


@dataclass(frozen=True)
class TransferLine:
    wallet_id: int
    house: str
    currency: str
    amount: int
    kind: str
    balance_after: int


@dataclass(frozen=True)
class NewHold:
    id: int
    purpose: str
    transaction_id: str | None
    currency: str
    real_wallet_id: int
    bonus_wallet_id: int | None
    real_amount: int
    bonus_amount: int
    expires_in_seconds: float | None


@dataclass(frozen=True)
class RoundUpdate:
    id: int
    status: str
    stake_real: int
    stake_bonus: int
    win_real: int
    win_bonus: int
    derived: str | None = None  # JSON text; None keeps what the round has


@dataclass
class Writes:
    """Everything one operation writes; ``apply`` sends it as one statement."""

    operation_id: uuid.UUID
    player_id: uuid.UUID
    actor: str
    reference: str | None = None
    idempotency_key: str | None = None
    wallets: dict[int, tuple[int, int, int]] = field(
        default_factory=dict
    )  # balance, held, turnover+
    transfers: list[TransferLine] = field(default_factory=list)
    client: str | None = None
    round_ref: str | None = None  # get-or-create this round (bets)
    round_currency: str | None = None
    new_hold: NewHold | None = None
    hold_updates: list[tuple[int, str]] = field(default_factory=list)
    round_update: RoundUpdate | None = None
    game_transaction: tuple[str, str] | None = None  # (transaction id, kind)
    events: list[tuple[str, str]] = field(default_factory=list)  # (type, JSON data)
    # (action, outcome, ip, request id, JSON details): the operation's audit_log row
    audit: tuple[str, str, str | None, str | None, str] | None = None
    # bonus id -> (wagered, status, released+, forfeited+)
    bonus_updates: dict[int, tuple[int, str, int, int]] = field(default_factory=dict)
    loyalty: tuple[int, str] | None = None  # (points+, tier)


@dataclass(frozen=True)
class Applied:
    wallets: int
    rounds: int
    holds_inserted: int
    holds_updated: int
    game_transactions: int
    bonuses_updated: int


async def apply(
    conn: asyncpg.Connection,
    w: Writes,
    response: str | None,
    claim: IdempotencyClaim | None,
) -> Applied:
    ids = sorted(w.wallets)
    hold = w.new_hold
    rnd = w.round_update
    gtx = w.game_transaction
    bonus_ids = sorted(w.bonus_updates)
    row = await conn.fetchrow(
        APPLY_SQL,
        ids,
        [w.wallets[i][0] for i in ids],
        [w.wallets[i][1] for i in ids],
        [w.wallets[i][2] for i in ids],
        [t.wallet_id for t in w.transfers],
        [t.house for t in w.transfers],
        [t.currency for t in w.transfers],
        w.operation_id,
        w.player_id,
        w.reference,
        w.idempotency_key,
        w.actor,
        [t.amount for t in w.transfers],
        [t.kind for t in w.transfers],
        [t.balance_after for t in w.transfers],
        w.client,
        w.round_ref,
        w.round_currency or (hold.currency if hold else None),
        hold.id if hold else None,
        hold.purpose if hold else None,
        hold.transaction_id if hold else None,
        hold.real_wallet_id if hold else None,
        hold.bonus_wallet_id if hold else None,
        hold.real_amount if hold else None,
        hold.bonus_amount if hold else None,
        hold.expires_in_seconds if hold else None,
        [h[0] for h in w.hold_updates],
        [h[1] for h in w.hold_updates],
        rnd.id if rnd else None,
        rnd.status if rnd else None,
        rnd.stake_real if rnd else None,
        rnd.stake_bonus if rnd else None,
        rnd.win_real if rnd else None,
        rnd.win_bonus if rnd else None,
        gtx[0] if gtx else None,
        gtx[1] if gtx else None,
        [e[0] for e in w.events],
        [e[1] for e in w.events],
        response,
        claim.scope if claim else None,
        claim.operation if claim else None,
        claim.key if claim else None,
        list(bonus_ids),
        [w.bonus_updates[i][0] for i in bonus_ids],
        [w.bonus_updates[i][1] for i in bonus_ids],
        [w.bonus_updates[i][2] for i in bonus_ids],
        [w.bonus_updates[i][3] for i in bonus_ids],
        w.loyalty[0] if w.loyalty else None,
        w.loyalty[1] if w.loyalty else None,
        *(w.audit or (None, None, None, None, None)),
        rnd.derived if rnd else None,
    )
    assert row is not None
    return Applied(**dict(row))


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilter:
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _history_conditions(
    flt: HistoryFilter, wallet_id: int | None, player_id: uuid.UUID | None
) -> list[Any]:
    conditions: list[Any] = []
    if wallet_id is not None:
        conditions.append(T.wallet_id == wallet_id)
    if player_id is not None:
        conditions.append(T.player_id == player_id)
    if flt.kind:
        conditions.append(T.kind == flt.kind)
    if flt.since:
        conditions.append(T.created_at >= flt.since)
    if flt.until:
        conditions.append(T.created_at < flt.until)
    return conditions


async def history(
    session: AsyncSession,
    flt: HistoryFilter,
    limit: int,
    before_id: int | None,
    *,
    wallet_id: int | None = None,
    player_id: uuid.UUID | None = None,
) -> tuple[list[tuple[Any, str]], bool, int]:
    """Transfers newest first (keyset on id) with their wallet's kind, whether more
    follow, and the total matching the filter."""
    conditions = _history_conditions(flt, wallet_id, player_id)
    page = conditions + ([T.id < before_id] if before_id is not None else [])
    stmt = (
        select(T, Wallet.kind)
        .join(Wallet, Wallet.id == T.wallet_id)
        .where(and_(True, *page))
        .order_by(T.id.desc())
        .limit(limit + 1)
    )
    rows = [(r[0], r[1]) for r in (await session.execute(stmt)).all()]
    total = (
        await session.execute(select(func.count()).select_from(T).where(and_(True, *conditions)))
    ).scalar_one()
    return rows[:limit], len(rows) > limit, int(total)
