"""SQL of the ledger's money path, read side. Every money operation runs as two prepared
statements on the driver connection: LOAD (here: claim the idempotency key, lock the
player's wallets, read the holds and round involved) and APPLY (every write of the
operation in one data-modifying CTE: app/ledger/write_repository.py).

Ledger extensions (app/ledger/hooks.py) add parts to both: CTE fragments and result
columns, composed once into the statement text by ``compose_load`` / ``compose_apply``, so
an extension never costs a round trip. Also here: the replay read, the hold-expiry
system operation's statements and the key purge. History reads:
app/ledger/history_repository.py.
Raw SQL as named constants on the money path; SQLAlchemy Core where filters compose.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import json_codec
from app.core.db import DriverTransaction, driver_connection
from app.ledger.history_repository import HistoryFilter, history

__all__ = ["HistoryFilter", "history"]  # re-exported: the GraphQL layer reads history here


async def driver(session: AsyncSession | DriverTransaction | Any) -> asyncpg.Connection:
    """The asyncpg connection under ``session`` (``app.core.db.driver_connection``) or of
    a ``DriverTransaction`` (the API's money path); a bare asyncpg connection (already in
    a transaction) is taken as it is (bench/wallet.py)."""
    if isinstance(session, DriverTransaction):
        return session.connection
    if not isinstance(session, AsyncSession):
        return session
    return await driver_connection(session)


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
), hid AS (
    -- Each way of naming a hold is its own index probe (one OR of them could only be
    -- answered by a scan of every hold). The ids as ``ARRAY(SELECT unnest(..))``: a
    -- custom plan would see the array's length (0 or 1) and cost far below the generic
    -- plan (which guesses 10), so PostgreSQL kept planning LOAD again on every execution
    -- (1.2-1.7 ms, once the tables' statistics were those of a real ledger); hidden from
    -- both, the generic plan wins after the first five executions.
    SELECT id FROM ledger_holds WHERE id = ANY(ARRAY(SELECT unnest($6::bigint[])))
    UNION
    SELECT id FROM ledger_holds WHERE game_round_id IN (
        SELECT game_round_id FROM ledger_holds
        WHERE id = ANY(ARRAY(SELECT unnest($6::bigint[]))) AND purpose = 'BET'
        UNION ALL
        SELECT id FROM game_rounds WHERE client = $7 AND round_ref = $8)
    UNION
    SELECT id FROM ledger_holds WHERE client = $7 AND transaction_id = $9 AND purpose = 'BET'
), h AS (
    -- ``= ANY(ARRAY(...))``: the same plan whatever the parameters, so PostgreSQL keeps
    -- its generic plan instead of planning LOAD again on every execution.
    SELECT id, player_id, purpose, game_round_id, transaction_id, currency, real_wallet_id,
           bonus_wallet_id, real_amount, bonus_amount, status, created_at,
           (expires_at IS NOT NULL AND expires_at <= now()) AS expired
    FROM ledger_holds
    WHERE (SELECT c FROM n) > 0 AND id = ANY(ARRAY(SELECT id FROM hid))
    ORDER BY id FOR UPDATE
), r AS (
    SELECT id, player_id, round_ref, currency, status, stake_real, stake_bonus, win_real, win_bonus,
           derived
    FROM game_rounds
    WHERE (SELECT c FROM n) > 0 AND id = ANY(ARRAY(
        SELECT id FROM game_rounds WHERE client = $7 AND round_ref = $8
        UNION ALL
        SELECT game_round_id FROM h))
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
           AS new_hold_id,
       -- APPLY's plan depends on its parameters' values only through array lengths, so
       -- it runs its generic plan (no planning on every execution, which cost as much as
       -- executing it): set for the rest of this transaction, restored by APPLY itself.
       (SELECT s.before FROM (SELECT current_setting('plan_cache_mode') AS before OFFSET 0) s
        WHERE CASE WHEN EXISTS (SELECT 1 FROM claim)
                   THEN set_config('plan_cache_mode', 'force_generic_plan', true) END
              IS NOT NULL) AS plan_cache_mode"""

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
    SELECT id, purpose, currency, real_wallet_id, bonus_wallet_id, real_amount, bonus_amount,
           transaction_id, created_at
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
    # Batched LOAD only (one row per player ``q``): ``LEFT JOIN LATERAL ...`` fragments.
    joins: str = ""


def compose_load(parts: Sequence[LoadParts]) -> str:
    return (
        LOAD_CTES
        + "".join(p.ctes for p in parts)
        + LOAD_COLUMNS
        + "".join(p.columns for p in parts)
        + "\n"
    )


# The extensions' LOAD parts alone, for a system operation whose plan calls their hooks
# (hold expiry voids bets): run once the player's wallets are locked, with what the parts
# may use: $5 the player id, ``n`` the wallets locked ($6). There is no idempotency claim;
# $1-$4 are typed only so the fragments keep their parameter numbers.
SYSTEM_LOAD_CTES = """
WITH unused AS (SELECT $1::text, $2::text, $3::text, $4::text), n AS (SELECT $6::bigint AS c)"""


def compose_system_load(parts: Sequence[LoadParts]) -> str:
    ctes = "".join(p.ctes for p in parts)
    return (
        SYSTEM_LOAD_CTES
        + ctes
        + "\nSELECT $5::uuid AS player_id"
        + "".join(p.columns for p in parts)
        + "\n"
    )


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
    # The round a bet creates or joins: read by the set-based walletBatch only (a single
    # bet's APPLY gets or creates it by reference; its LOAD reads no round).
    bet_round: str | None = None


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
    # The transaction's plan_cache_mode before LOAD forced generic plans (APPLY restores
    # it); None when LOAD did not claim the key (and so changed nothing).
    plan_cache_mode: str | None = None


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
        wallets=_rows(row["wallets"]),
        holds=_rows(row["holds"]),
        rounds=_rows(row["rounds"]),
        seen_transaction=row["seen_transaction"],
        new_hold_id=row["new_hold_id"],
        plan_cache_mode=row["plan_cache_mode"],
    )
    return loaded, row


def _rows(text: str | None) -> list[dict[str, Any]]:
    """A ``jsonb_agg`` column (NULL: no rows), parsed by orjson (the same values)."""
    return cast(list[dict[str, Any]], json_codec.decode(text)) if text is not None else []


async def stored(
    conn: asyncpg.Connection, claim: IdempotencyClaim
) -> tuple[str, str | None] | None:
    row = await conn.fetchrow(REPLAY_SQL, claim.scope, claim.operation, claim.key)
    return None if row is None else (row["request_hash"], row["response"])


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
    return SystemLocked(_rows(row["wallets"]), row["wallet_count"], _rows(row["rows"]))


LOCK_PLAYERS_WALLETS = """
SELECT id FROM wallets WHERE player_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
"""


async def load_for_system(
    conn: asyncpg.Connection, sql: str, player_id: uuid.UUID, wallets_locked: int
) -> Mapping[str, Any]:
    """Run ``compose_system_load``'s statement: the extensions' LOAD columns."""
    row: Mapping[str, Any] | None = await conn.fetchrow(
        sql, None, None, None, None, player_id, wallets_locked
    )
    assert row is not None
    return row


async def lock_players_wallets(conn: asyncpg.Connection, player_ids: Sequence[uuid.UUID]) -> None:
    """Every wallet of these players, locked in one global order (wallet id): a batch
    that touches many players takes all its locks up front, in the order every single
    operation takes them too, so two batches cannot wait on each other in a cycle."""
    await conn.execute(LOCK_PLAYERS_WALLETS, list(player_ids))
