"""SQL of the ledger's money path. Every money operation runs as two prepared statements
on the driver connection: LOAD (claim the idempotency key, lock the player's wallets, read
the holds and round involved) and APPLY (every write of the operation in one
data-modifying CTE).

Ledger extensions (app/ledger/hooks.py) add parts to both: CTE fragments and result
columns, composed once into the statement text by ``compose_load`` / ``compose_apply``, so
an extension never costs a round trip. History reads live in ``app/ledger/history.py``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.history import HistoryFilter, history

__all__ = ["HistoryFilter", "history"]  # re-exported: the GraphQL layer reads history here


async def driver(session: AsyncSession | Any) -> asyncpg.Connection:
    """The asyncpg connection under ``session``, inside the session's transaction.

    SQLAlchemy begins the driver-level transaction lazily on its first statement; the
    money path bypasses SQLAlchemy's statement layer, so it starts it here. A bare
    asyncpg connection (already in a transaction) is taken as it is (bench/wallet.py).
    """
    if not isinstance(session, AsyncSession):
        return session
    conn = await session.connection()
    adapted: Any = (await conn.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:
        await adapted._start_transaction()
    driver_connection: asyncpg.Connection = adapted.driver_connection
    return driver_connection


# Claims the key first: the wallet locks depend on the claim, so a duplicate request
# waits on the key's unique index before it holds any wallet lock (no deadlock between
# two requests reusing one key for different wallets). Lock order everywhere: all of the
# player's wallets by ascending id, then holds by id, then the round, then what the
# extensions lock (their CTEs follow ``r``). Extension CTEs may use $5 (the player id)
# and ``n`` (how many wallets were locked: 0 when the key was not claimed).
LOAD_CTES = """
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
)"""

LOAD_COLUMNS = """
SELECT EXISTS (SELECT 1 FROM claim) AS claimed,
       (SELECT status FROM players WHERE id = $5) AS player_status,
       (SELECT confirm_status FROM players WHERE id = $5) AS confirm_status,
       (SELECT jsonb_agg(to_jsonb(w) ORDER BY id) FROM w)::text AS wallets,
       (SELECT jsonb_agg(to_jsonb(h) ORDER BY id) FROM h)::text AS holds,
       (SELECT jsonb_agg(to_jsonb(r) ORDER BY id) FROM r)::text AS rounds,
       (SELECT kind FROM game_transactions WHERE client = $7 AND transaction_id = $10)
           AS seen_transaction,
       CASE WHEN $11 THEN nextval(pg_get_serial_sequence('ledger_holds', 'id')) END
           AS new_hold_id"""

# Every write of one operation. Unused parts get empty arrays / NULLs and write nothing,
# so all operations share this one prepared statement. Parameters $1..$48 are the core's;
# extension parameters (``$e0``, ``$e1``, ... in their fragments) are numbered after them.
APPLY_CTES = """
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
        derived = coalesce($48::jsonb, g.derived), updated_at = now()
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
    SELECT $12::text, $43::text, $9::text, $44::text, $45::text, $46::text, $47::jsonb
    WHERE $43::text IS NOT NULL
)"""
APPLY_CORE_PARAMETERS = 48

APPLY_COLUMNS = """
SELECT (SELECT count(*) FROM wal) AS wallets,
       (SELECT count(*) FROM rnd) AS rounds,
       (SELECT count(*) FROM hin) AS holds_inserted,
       (SELECT count(*) FROM hup) AS holds_updated,
       (SELECT count(*) FROM gtx) AS game_transactions"""

REPLAY_SQL = """
SELECT request_hash, response FROM idempotency_keys
WHERE scope = $1 AND operation = $2 AND key = $3
"""

# Hold expiry (a system operation): the same lock order as every money operation, all the
# player's wallets by id (SKIP LOCKED: a busy player waits for the next round), then holds.
EXPIRED_HOLD_PLAYERS_SQL = """
SELECT DISTINCT player_id FROM ledger_holds
WHERE status = 'PENDING' AND expires_at IS NOT NULL AND expires_at <= now()
LIMIT $1
"""

LOCK_EXPIRED_HOLDS_SQL = """
WITH w AS (
    SELECT id, kind, currency, balance, held FROM wallets
    WHERE player_id = $1 ORDER BY id FOR UPDATE SKIP LOCKED
), h AS (
    SELECT id, real_wallet_id, bonus_wallet_id, real_amount, bonus_amount, transaction_id
    FROM ledger_holds
    WHERE player_id = $1 AND status = 'PENDING' AND expires_at <= now()
      AND (SELECT count(*) FROM w) = (SELECT count(*) FROM wallets WHERE player_id = $1)
    ORDER BY id FOR UPDATE
)
SELECT (SELECT jsonb_agg(to_jsonb(w) ORDER BY id) FROM w)::text AS wallets,
       (SELECT count(*) FROM wallets WHERE player_id = $1) AS wallet_count,
       (SELECT jsonb_agg(to_jsonb(h) ORDER BY id) FROM h)::text AS rows
"""

PURGE_IDEMPOTENCY_KEYS_SQL = """
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys
    WHERE created_at < now() - make_interval(days => :days)
    LIMIT :batch))
"""


# --- statement parts contributed by extensions --------------------------------------------


@dataclass(frozen=True)
class LoadParts:
    """What an extension adds to LOAD: ``ctes`` (``, name AS (...)`` fragments, locked after
    the core's rows) and ``columns`` (``, expr AS name`` fragments of the result row)."""

    ctes: str = ""
    columns: str = ""


@dataclass(frozen=True)
class ApplyParts:
    """What an extension adds to APPLY: ``ctes`` and ``columns`` as for LOAD, written with
    ``$e0``, ``$e1``, ... for its own ``parameters`` (numbered after the core's)."""

    ctes: str = ""
    columns: str = ""
    parameters: int = 0


_EXT_PARAM = re.compile(r"\$e(\d+)\b")


def compose_load(parts: Sequence[LoadParts]) -> str:
    return (
        LOAD_CTES
        + "".join(p.ctes for p in parts)
        + LOAD_COLUMNS
        + "".join(p.columns for p in parts)
        + "\n"
    )


def compose_apply(parts: Sequence[ApplyParts]) -> str:
    ctes, columns = [APPLY_CTES], [APPLY_COLUMNS]
    offset = APPLY_CORE_PARAMETERS
    for p in parts:

        def number(m: re.Match[str], base: int = offset, count: int = p.parameters) -> str:
            index = int(m.group(1))
            if index >= count:
                raise ValueError(f"extension parameter $e{index} beyond its {count}")
            return f"${base + index + 1}"

        ctes.append(_EXT_PARAM.sub(number, p.ctes))
        columns.append(_EXT_PARAM.sub(number, p.columns))
        offset += p.parameters
    return "".join(ctes) + "".join(columns) + "\n"


# --- LOAD -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdempotencyClaim:
    scope: str
    operation: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class LoadArgs:
    """Which rows LOAD locks besides the wallets (each family says what its plan needs)."""

    hold_ids: tuple[int, ...] = ()
    round_ref: str | None = None
    bet_transaction_id: str | None = None
    new_transaction_id: str | None = None
    allocate_hold: bool = False


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
    # Each extension's parse of its own LOAD columns, by extension name.
    extensions: dict[str, Any] = field(default_factory=dict)


async def load(
    conn: asyncpg.Connection,
    sql: str,
    claim: IdempotencyClaim,
    player_id: uuid.UUID,
    client: str,
    args: LoadArgs,
) -> tuple[Loaded, Mapping[str, Any]]:
    """Run LOAD; returns the core's rows and the raw result row (extension columns)."""
    row = await conn.fetchrow(
        sql,
        claim.scope,
        claim.operation,
        claim.key,
        claim.request_hash,
        player_id,
        list(args.hold_ids),
        client,
        args.round_ref,
        args.bet_transaction_id,
        args.new_transaction_id,
        args.allocate_hold,
    )
    assert row is not None
    loaded = Loaded(
        claimed=row["claimed"],
        player_status=row["player_status"],
        confirm_status=row["confirm_status"],
        wallets=json.loads(row["wallets"] or "[]"),
        holds=json.loads(row["holds"] or "[]"),
        rounds=json.loads(row["rounds"] or "[]"),
        seen_transaction=row["seen_transaction"],
        new_hold_id=row["new_hold_id"],
    )
    return loaded, row


async def stored(
    conn: asyncpg.Connection, claim: IdempotencyClaim
) -> tuple[str, str | None] | None:
    row = await conn.fetchrow(REPLAY_SQL, claim.scope, claim.operation, claim.key)
    return None if row is None else (row["request_hash"], row["response"])


# --- APPLY ----------------------------------------------------------------------------------


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


AuditRow = tuple[str, str, str | None, str | None, str]


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
    audit: AuditRow | None = None
    # Each extension's writes, by extension name (its ``apply_args`` turns them into its
    # APPLY parameters). A stored business error drops them with the rest.
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    wallets: int
    rounds: int
    holds_inserted: int
    holds_updated: int
    game_transactions: int
    row: Mapping[str, Any]  # with the extensions' columns


async def apply(
    conn: asyncpg.Connection,
    sql: str,
    w: Writes,
    response: str | None,
    claim: IdempotencyClaim | None,
    extension_args: Sequence[Any] = (),
) -> Applied:
    ids = sorted(w.wallets)
    hold = w.new_hold
    rnd = w.round_update
    gtx = w.game_transaction
    row = await conn.fetchrow(
        sql,
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
        *(w.audit or (None, None, None, None, None)),
        rnd.derived if rnd else None,
        *extension_args,
    )
    assert row is not None
    return Applied(
        row["wallets"],
        row["rounds"],
        row["holds_inserted"],
        row["holds_updated"],
        row["game_transactions"],
        row,
    )


# --- system operations ----------------------------------------------------------------------


async def candidate_players(conn: asyncpg.Connection, sql: str, batch: int) -> list[uuid.UUID]:
    return [r["player_id"] for r in await conn.fetch(sql, batch)]


@dataclass(frozen=True)
class SystemLocked:
    """What a system operation's lock statement found: every wallet of the player (or
    fewer when another transaction holds one) and the rows it works on."""

    wallets: list[dict[str, Any]]
    wallet_count: int
    rows: list[dict[str, Any]]

    @property
    def complete(self) -> bool:
        return len(self.wallets) == self.wallet_count


async def lock_for_system(conn: asyncpg.Connection, sql: str, player_id: uuid.UUID) -> SystemLocked:
    """``sql`` returns ``wallets`` (JSON), ``wallet_count`` and ``rows`` (JSON)."""
    row = await conn.fetchrow(sql, player_id)
    assert row is not None
    return SystemLocked(
        json.loads(row["wallets"] or "[]"), row["wallet_count"], json.loads(row["rows"] or "[]")
    )
