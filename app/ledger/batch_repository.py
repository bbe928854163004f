"""SQL of the set-based walletBatch (app/ledger/set_batch.py): one LOAD for every
operation of a batch and one APPLY for every accepted one, the batched forms of the
single operation's two statements (app/ledger/repository.py, write_repository.py), with
the ledger extensions' batched parts (``batch_load_parts``, ``batch_apply_parts``).

LOAD claims every idempotency key first (so a duplicate waits on the key's unique index
before it holds any wallet lock, as for single operations), then locks every wallet of
every player named, in wallet-id order (the order single operations lock in), then what
the extensions lock. It answers one row per player (``q``; extension columns keep their
single-LOAD names, so ``ext.loaded(row)`` parses them); the batch-wide columns (claimed
keys, seen transaction ids, new hold ids) come in the first row only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import orjson

from app.core.logging import client_ip_var, user_agent_var
from app.ledger.repository import LoadParts
from app.ledger.write_repository import ApplyFamilies, Writes

# $1 scope, $2/$3/$4 operations/keys/request hashes, $5 players, $6 client,
# $7 transaction ids to look up, $8 hold ids to allocate, $9 holds named by id, $10 rounds
# named by reference, $11 the rounds bets name (of $10), $12 bets named by transaction id.
# Extension CTEs may use $5 (the players, uuid[]) and ``n``; their columns and joins use
# ``q.id`` (the row's player). Arrays and counts are read as ``(SELECT $n::t[])`` (an
# InitPlan value; ``::t[]`` after it for ``= ANY``, else ANY takes it for a subquery), and
# extensions name the players so too: a custom plan then cannot see a one-player batch's
# lengths and costs what the generic plan costs, so PostgreSQL keeps the generic plan (it
# planned every hot-wallet LOAD again, ~1 ms a batch) without a round trip to force it.
BATCH_LOAD_CTES = """
WITH claim AS (
    INSERT INTO idempotency_keys (scope, operation, key, request_hash)
    SELECT $1::text, c.operation, c.key, c.hash
    FROM unnest((SELECT $2::text[]), (SELECT $3::text[]), (SELECT $4::text[]))
         AS c(operation, key, hash)
    ON CONFLICT DO NOTHING
    RETURNING operation, key
), w AS (
    SELECT id, player_id, kind, currency, balance, held FROM wallets
    WHERE player_id = ANY((SELECT $5::uuid[])::uuid[]) AND (SELECT count(*) FROM claim) >= 0
    ORDER BY id FOR UPDATE
), n AS (
    SELECT count(*) AS c FROM w
), rr AS MATERIALIZED (
    -- The rounds named by reference: one probe per reference, used by ``hid`` and ``r``.
    SELECT id FROM game_rounds
    WHERE client = $6 AND round_ref = ANY((SELECT $10::text[])::text[])
), hid AS (
    -- The holds and rounds the settles and cancels name (by reservation id, by round
    -- reference) and the rounds the bets name, as the single LOAD finds them; locked
    -- after every wallet (holds by id, then rounds by id: the single order).
    SELECT id FROM ledger_holds WHERE id = ANY((SELECT $9::bigint[])::bigint[])
    UNION
    SELECT id FROM ledger_holds WHERE game_round_id = ANY(ARRAY(
        SELECT game_round_id FROM ledger_holds
        WHERE id = ANY((SELECT $9::bigint[])::bigint[]) AND purpose = 'BET'
        UNION ALL
        SELECT id FROM rr))
    UNION
    SELECT id FROM ledger_holds
    WHERE client = $6 AND transaction_id = ANY((SELECT $12::text[])::text[]) AND purpose = 'BET'
), h AS (
    SELECT id, player_id, purpose, game_round_id, transaction_id, currency, real_wallet_id,
           bonus_wallet_id, real_amount, bonus_amount, status, created_at,
           (expires_at IS NOT NULL AND expires_at <= now()) AS expired,
           client = $6 AS own  -- a bet of this client (rollbackBet names it by transaction id)
    FROM ledger_holds
    WHERE (SELECT c FROM n) >= 0 AND id = ANY(ARRAY(SELECT id FROM hid))
    ORDER BY id FOR UPDATE
), r AS (
    SELECT id, player_id, round_ref, currency, status, stake_real, stake_bonus, win_real,
           win_bonus, derived
    FROM game_rounds
    WHERE (SELECT c FROM n) >= 0 AND id = ANY(ARRAY(SELECT id FROM rr UNION ALL
                                                  SELECT game_round_id FROM h))
    ORDER BY id FOR UPDATE
)"""

BATCH_LOAD_COLUMNS = """
SELECT q.id AS player_id, p.status AS player_status, p.confirm_status,
       CASE WHEN q.i = 1 THEN (SELECT jsonb_agg(jsonb_build_array(
           player_id, id, kind, currency, balance, held) ORDER BY id) FROM w)::text END
           AS wallets,
       CASE WHEN q.i = 1 THEN (SELECT jsonb_agg(jsonb_build_array(operation, key))
                               FROM claim)::text END AS claimed,
       CASE WHEN q.i = 1 THEN (
           SELECT jsonb_object_agg(transaction_id, kind) FROM game_transactions
           WHERE client = $6 AND transaction_id = ANY((SELECT $7::text[])::text[]))::text
           END AS seen,
       CASE WHEN q.i = 1 AND (SELECT c FROM n) >= 0 THEN ARRAY(
           SELECT nextval(pg_get_serial_sequence('ledger_holds', 'id'))
           FROM generate_series(1, (SELECT $8::int))) END AS hold_ids,
       CASE WHEN q.i = 1 THEN (SELECT jsonb_agg(to_jsonb(h) ORDER BY id) FROM h)::text END
           AS holds,
       CASE WHEN q.i = 1 THEN (SELECT jsonb_agg(to_jsonb(r) ORDER BY id) FROM r)::text END
           AS rounds,
       -- An id for each round a bet names that does not exist yet (APPLY inserts it).
       CASE WHEN q.i = 1 THEN ARRAY(
           SELECT nextval(pg_get_serial_sequence('game_rounds', 'id'))
           FROM unnest((SELECT $11::text[])) AS b(ref)
           WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.round_ref = b.ref)) END AS round_ids,
       -- APPLY runs its generic plan: a one-player batch's custom plans looked cheaper, so
       -- PostgreSQL planned APPLY again on every execution, under the wallet locks. Set for
       -- the rest of this transaction; APPLY restores the mode saved here (no round trip).
       CASE WHEN q.i = 1 THEN (
           SELECT set_config('plan_cache_mode', 'force_generic_plan', true)
           FROM (SELECT set_config('pms.batch_plan_cache_mode',
                                   current_setting('plan_cache_mode'), true) AS saved
                 OFFSET 0) s
           WHERE s.saved IS NOT NULL) END AS plan_cache_mode"""

BATCH_LOAD_FROM = """
FROM unnest((SELECT $5::uuid[])) WITH ORDINALITY AS q(id, i)
LEFT JOIN players p ON p.id = q.id"""


def compose_batch_load(parts: Sequence[LoadParts]) -> str:
    return (
        BATCH_LOAD_CTES
        + "".join(p.ctes for p in parts)
        + BATCH_LOAD_COLUMNS
        + "".join(p.columns for p in parts)
        + BATCH_LOAD_FROM
        + "".join(p.joins for p in parts)
        + "\nORDER BY q.i\n"
    )


# Every accepted operation's writes, arrays concatenated in operation order. Each wallet,
# hold and round appears once with its final state (the operations of one player planned
# in order over the same rows): rounds and holds the batch creates are inserted as the
# batch leaves them (a bet settled in the same batch: its hold POSTED, its round SETTLED),
# so no row is written twice by one statement. $1 scope (= client = actor).
BATCH_APPLY_PARTS: tuple[tuple[str, str], ...] = (
    (
        "wal",
        """
WITH wal AS (
    UPDATE wallets w
    SET balance = v.balance, held = v.held, turnover = w.turnover + v.turnover,
        updated_at = now()
    FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
         AS v(id, balance, held, turnover)
    WHERE w.id = v.id AND w.id = ANY($2::bigint[])
    RETURNING w.id
)""",
    ),
    (
        "house",
        """
, house AS (
    INSERT INTO house_accounts (currency, kind)
    SELECT DISTINCT t.currency, t.house FROM unnest($7::text[], $8::text[]) AS t(house, currency)
    WHERE NOT EXISTS (SELECT 1 FROM house_accounts a
                      WHERE a.currency = t.currency AND a.kind = t.house)
    ON CONFLICT DO NOTHING
)""",
    ),
    (
        "tr",
        """
, tr AS (
    INSERT INTO ledger_transfers (operation_id, player_id, wallet_id, house_account, currency,
                                  amount, kind, balance_after, reference, idempotency_key, actor)
    SELECT t.operation_id, t.player_id, t.wallet_id, t.house, t.currency, t.amount, t.kind,
           t.balance_after, t.reference, t.key, $1::text
    FROM unnest($6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[],
                $12::uuid[], $13::uuid[], $14::text[], $15::text[])
         AS t(wallet_id, house, currency, amount, kind, balance_after, operation_id, player_id,
              reference, key)
)""",
    ),
    (
        "rnd",
        """
, rnd AS (
    -- New rounds, ids allocated by LOAD. No ON CONFLICT (a speculative insert costs an
    -- index probe and a second WAL record per row): a round created since LOAD's snapshot
    -- is a unique violation, and set_batch runs the batch one by one (the single path
    -- decides), as it did when ON CONFLICT left the row out.
    INSERT INTO game_rounds (id, client, round_ref, player_id, currency, status, stake_real,
                             stake_bonus, win_real, win_bonus, derived)
    SELECT r.id, $1::text, r.ref, r.player_id, r.currency, r.status, r.stake_real,
           r.stake_bonus, r.win_real, r.win_bonus, coalesce(r.derived::jsonb, '{}'::jsonb)
    FROM unnest($16::bigint[], $17::text[], $18::uuid[], $19::text[], $20::text[],
                $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[], $25::text[])
         AS r(id, ref, player_id, currency, status, stake_real, stake_bonus, win_real,
              win_bonus, derived)
    RETURNING id
)""",
    ),
    (
        "rup",
        """
, rup AS (
    -- Rounds LOAD locked: their final figures (a bet into an open round: unchanged ones).
    UPDATE game_rounds g
    SET status = v.status, stake_real = v.stake_real, stake_bonus = v.stake_bonus,
        win_real = v.win_real, win_bonus = v.win_bonus,
        derived = coalesce(v.derived::jsonb, g.derived), updated_at = now()
    FROM unnest($26::bigint[], $27::text[], $28::bigint[], $29::bigint[], $30::bigint[],
                $31::bigint[], $32::text[])
         AS v(id, status, stake_real, stake_bonus, win_real, win_bonus, derived)
    WHERE g.id = v.id AND g.id = ANY($26::bigint[])
    RETURNING g.id
)""",
    ),
    (
        "hin",
        """
, hin AS (
    INSERT INTO ledger_holds (id, player_id, purpose, client, game_round_id, transaction_id,
                              reference, currency, real_wallet_id, bonus_wallet_id,
                              real_amount, bonus_amount, expires_at, status, finalized_at)
    SELECT h.id, h.player_id, h.purpose, $1::text, h.round_id, h.transaction_id, h.reference,
           h.currency, h.real_wallet_id, h.bonus_wallet_id, h.real_amount, h.bonus_amount,
           now() + make_interval(secs => h.expires), h.status,
           CASE WHEN h.status <> 'PENDING' THEN now() END
    FROM unnest($33::bigint[], $34::uuid[], $35::text[], $36::bigint[], $37::text[], $38::text[],
                $39::text[], $40::bigint[], $41::bigint[], $42::bigint[], $43::bigint[],
                $44::float8[], $45::text[])
         AS h(id, player_id, purpose, round_id, transaction_id, reference, currency,
              real_wallet_id, bonus_wallet_id, real_amount, bonus_amount, expires, status)
    RETURNING id
)""",
    ),
    (
        "hup",
        """
, hup AS (
    UPDATE ledger_holds h SET status = v.status, finalized_at = now()
    FROM unnest($46::bigint[], $47::text[]) AS v(id, status)
    WHERE h.id = v.id AND h.id = ANY($46::bigint[])
    RETURNING h.id
)""",
    ),
    (
        "gtx",
        """
, gtx AS (
    -- A transaction id seen since LOAD's snapshot: a unique violation, as for ``rnd``.
    INSERT INTO game_transactions (client, transaction_id, kind, game_round_id, hold_id)
    SELECT $1::text, g.transaction_id, g.kind, g.round_id, g.hold_id
    FROM unnest($48::text[], $49::text[], $50::bigint[], $51::bigint[])
         AS g(transaction_id, kind, round_id, hold_id)
    RETURNING 1
)""",
    ),
    (
        "ev",
        """
, ev AS (
    INSERT INTO outbox_events (event_id, type, source, subject, data)
    SELECT gen_random_uuid(), e.type, 'urn:pms', e.subject, e.data::jsonb
    FROM unnest($52::text[], $53::text[], $54::text[]) AS e(type, subject, data)
)""",
    ),
    (
        "idem",
        """
, idem AS (
    -- The hash too: a key whose first use in the batch was refused (claim given back)
    -- is stored with the operation that used it next, as a single call would store it.
    UPDATE idempotency_keys k SET request_hash = v.hash, response = v.response
    FROM unnest($55::text[], $56::text[], $57::text[], $58::text[])
         AS v(operation, key, hash, response)
    -- ``= ANY``: primary-key probes (as ``wal``'s), not a scan of every key.
    WHERE k.scope = $1::text AND k.operation = v.operation AND k.key = v.key
      AND k.key = ANY($56::text[])
)""",
    ),
    (
        "unclaim",
        """
, unclaim AS (
    -- Keys claimed by LOAD whose every operation was refused: given back, as a single
    -- call's rollback gives them back.
    DELETE FROM idempotency_keys k
    USING unnest($59::text[], $60::text[]) AS v(operation, key)
    WHERE k.scope = $1::text AND k.operation = v.operation AND k.key = v.key
      AND k.key = ANY($60::text[])
)""",
    ),
    (
        "aud",
        """
, aud AS (
    INSERT INTO audit_log (actor, principal_kind, action, target, outcome, ip, request_id,
                           user_agent, details)
    SELECT $1::text, split_part($1::text, ':', 1), a.action, a.target, a.outcome, $64::text,
           a.request_id, $66::text, a.details::jsonb
    FROM unnest($61::text[], $62::text[], $63::text[], $67::text[], $65::text[])
         AS a(action, target, outcome, details, request_id)
)""",
    ),
)
BATCH_APPLY_CORE_PARAMETERS = 67
BATCH_CORE_PARTS = (1 << len(BATCH_APPLY_PARTS)) - 1  # every core part

# Result columns by the part they count (0 when the family leaves the part out).
_COUNTED = (("wallets", "wal"), ("rounds_inserted", "rnd"), ("rounds_updated", "rup"),
            ("holds_inserted", "hin"), ("holds_updated", "hup"),
            ("game_transactions", "gtx"))  # fmt: skip


def _core_ctes(names: Sequence[str]) -> str:
    text = "".join(sql for name, sql in BATCH_APPLY_PARTS if name in names)
    return "\nWITH" + text.removeprefix("\nWITH").removeprefix("\n,")


def _core_columns(names: Sequence[str]) -> str:
    counts = ",\n       ".join(  # constant names only
        f"(SELECT count(*) FROM {part}) AS {column}" if part in names  # noqa: S608
        else f"0::bigint AS {column}"
        for column, part in _COUNTED
    )  # fmt: skip
    return f"""
SELECT {counts},
       -- Restores what LOAD changed (BATCH_LOAD_COLUMNS).
       set_config('plan_cache_mode', coalesce(
           nullif(current_setting('pms.batch_plan_cache_mode', true), ''),
           current_setting('plan_cache_mode')), true) AS plan_cache_mode"""


class BatchApplyStatements(ApplyFamilies):
    """The batched APPLY by family, as ``write_repository.ApplyStatements`` for single
    operations: only the parts the batch writes (a left-out part would have got empty
    arrays and written nothing), its parameters renumbered."""

    core_parts = BATCH_APPLY_PARTS
    core_parameters = BATCH_APPLY_CORE_PARAMETERS

    def ctes(self, names: Sequence[str]) -> str:
        return _core_ctes(names)

    def columns(self, names: Sequence[str]) -> str:
        return _core_columns(names)

    def key(self, b: BatchWrites) -> int:
        """The family of ``b``: a part whose arrays would all be empty is left out."""
        present = (
            ("wal", b.wallets), ("house", b.operations and any(w.transfers for w in b.operations)),
            ("rnd", b.new_rounds), ("rup", b.round_updates), ("hin", b.new_holds),
            ("hup", b.hold_updates), ("gtx", b.game_transactions),
            ("ev", any(w.events for w in b.operations)), ("idem", b.answers),
            ("unclaim", b.unclaimed), ("aud", b.audits),
        )  # fmt: skip
        key = 0
        for name, rows in present:
            if rows:
                key |= self.bit[name]
        if key & self.bit["house"]:
            key |= self.bit["tr"]
        offset = 0
        for j, p in enumerate(self.parts):
            args = b.extension_args[offset : offset + p.parameters]
            offset += p.parameters
            # An extension's arrays all empty: its part writes nothing (``always``: SQL
            # that writes from the core's arguments).
            if p.always or any(not isinstance(a, list) or a for a in args):
                key |= 1 << (self.shift + j)
        return key

    def joined_args(self, key: int, extension_args: Sequence[Any]) -> list[Any]:
        """The arguments of the extensions ``key`` joins (numbered after the core's in
        that order, as ``compose_apply`` numbers their parts)."""
        args: list[Any] = []
        offset = 0
        for j, p in enumerate(self.parts):
            if self.joins(key, j):
                args.extend(extension_args[offset : offset + p.parameters])
            offset += p.parameters
        return args


# --- LOAD -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchClaims:
    """The distinct keys of a batch (first use's request hash), sorted: two batches claim
    shared keys in one order."""

    scope: str
    operations: list[str]
    keys: list[str]
    hashes: list[str]


@dataclass
class BatchLoaded:
    claimed: set[tuple[str, str]]  # (operation, key) this batch claimed
    players: dict[uuid.UUID, Mapping[str, Any]]  # the player rows (extension columns)
    wallets: dict[uuid.UUID, list[dict[str, Any]]]
    seen: dict[str, str]  # transaction id -> kind, of the ids asked for
    hold_ids: list[int] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)  # as the single LOAD's rows
    rounds: list[dict[str, Any]] = field(default_factory=list)
    round_ids: list[int] = field(default_factory=list)  # for the rounds bets create


@dataclass(frozen=True)
class BatchRows:
    """What the batch's operations name besides wallets: transaction ids to look up, how
    many new holds, holds by id, rounds by reference (and which of these bets name), bets by
    transaction id."""

    transaction_ids: Sequence[str] = ()
    holds: int = 0
    hold_ids: Sequence[int] = ()
    round_refs: Sequence[str] = ()
    bet_round_refs: Sequence[str] = ()
    bet_transaction_ids: Sequence[str] = ()


async def load(
    conn: asyncpg.Connection, sql: str, claims: BatchClaims, players: Sequence[uuid.UUID],
    rows: BatchRows,
) -> BatchLoaded:  # fmt: skip
    result = await conn.fetch(
        sql, claims.scope, claims.operations, claims.keys, claims.hashes, list(players),
        claims.scope, list(rows.transaction_ids), rows.holds, list(rows.hold_ids),
        list(rows.round_refs), list(rows.bet_round_refs), list(rows.bet_transaction_ids),
    )  # fmt: skip
    first = result[0]
    wallets: dict[uuid.UUID, list[dict[str, Any]]] = {}
    named = {str(p): p for p in players}  # the ids asked for, not one uuid.UUID per wallet row
    for player, id_, kind, currency, balance, held in orjson.loads(first["wallets"] or "[]"):
        wallets.setdefault(named.get(player) or uuid.UUID(player), []).append(
            {"id": id_, "kind": kind, "currency": currency, "balance": balance, "held": held}
        )
    return BatchLoaded(
        claimed={(o, k) for o, k in json.loads(first["claimed"] or "[]")},
        players={r["player_id"]: r for r in result if r["player_status"] is not None},
        wallets=wallets,
        seen=json.loads(first["seen"] or "{}"),
        hold_ids=list(first["hold_ids"] or ()),
        holds=orjson.loads(first["holds"] or "[]"),
        rounds=orjson.loads(first["rounds"] or "[]"),
        round_ids=list(first["round_ids"] or ()),
    )


REPLAY_MANY_SQL = """
SELECT operation, key, request_hash, response FROM idempotency_keys
WHERE scope = $1 AND (operation, key) IN (SELECT * FROM unnest($2::text[], $3::text[]))
"""


async def stored_many(
    conn: asyncpg.Connection, scope: str, wanted: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """The stored (request hash, response) of keys another transaction claimed."""
    rows = await conn.fetch(REPLAY_MANY_SQL, scope, [o for o, _ in wanted], [k for _, k in wanted])
    return {(r["operation"], r["key"]): (r["request_hash"], r["response"]) for r in rows}


# --- APPLY ----------------------------------------------------------------------------------


@dataclass
class BatchWrites:
    """Every accepted operation's writes (``Writes``: transfers and events), the final
    state of each wallet, round and hold, the game transactions, the keys' answers, the
    keys given back, and the extensions' parameters."""

    operations: list[Writes] = field(default_factory=list)
    wallets: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    # id, ref, player, currency, status, stake real/bonus, win real/bonus, derived (JSON)
    new_rounds: list[tuple[Any, ...]] = field(default_factory=list)
    # id, status, stake real/bonus, win real/bonus, derived (JSON or None: kept)
    round_updates: list[tuple[Any, ...]] = field(default_factory=list)
    # id, player, purpose, round id, transaction id, reference, currency, real wallet,
    # bonus wallet, real amount, bonus amount, expires in seconds, status
    new_holds: list[tuple[Any, ...]] = field(default_factory=list)
    hold_updates: list[tuple[int, str]] = field(default_factory=list)
    game_transactions: list[tuple[str, str, int | None, int | None]] = field(
        default_factory=list
    )  # transaction id, kind, round id, hold id
    answers: list[tuple[str, str, str, str]] = field(default_factory=list)  # op, key, hash, text
    unclaimed: list[tuple[str, str]] = field(default_factory=list)
    # action, player, outcome, details, request id (each operation's caller's)
    audits: list[tuple[str, uuid.UUID, str, str, str | None]] = field(default_factory=list)
    extension_args: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class BatchApplied:
    wallets: int
    rounds_inserted: int
    rounds_updated: int
    holds_inserted: int
    holds_updated: int
    game_transactions: int


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def apply(
    conn: asyncpg.Connection, statements: BatchApplyStatements, scope: str, b: BatchWrites
) -> BatchApplied:
    """Run ``b``'s family of the batched APPLY."""
    key = statements.key(b)
    family = statements.family(key)
    args = _args(scope, b) + statements.joined_args(key, b.extension_args)
    row = await conn.fetchrow(family.sql, *[args[i] for i in family.picks])
    assert row is not None
    return BatchApplied(
        row["wallets"], row["rounds_inserted"], row["rounds_updated"], row["holds_inserted"],
        row["holds_updated"], row["game_transactions"],
    )  # fmt: skip


def _args(scope: str, b: BatchWrites) -> list[Any]:
    """The core's arguments ($1..$67): a family takes the ones its parts use."""
    ops = b.operations
    ids = sorted(b.wallets)
    transfers = _columns([
        (t.wallet_id, t.house, t.currency, t.amount, t.kind, t.balance_after, w.operation_id,
         w.player_id, w.reference, w.idempotency_key)
        for w in ops for t in w.transfers
    ], 10)  # fmt: skip
    events = _columns([(t, str(w.player_id), d) for w in ops for t, d in w.events], 3)
    audits = _columns([(a, str(p), o, d, q) for a, p, o, d, q in b.audits], 5)
    return [
        scope,
        ids, [b.wallets[i][0] for i in ids], [b.wallets[i][1] for i in ids],
        [b.wallets[i][2] for i in ids],
        *transfers, *_columns(b.new_rounds, 10), *_columns(b.round_updates, 7),
        *_columns(b.new_holds, 13), *_columns(b.hold_updates, 2),
        *_columns(b.game_transactions, 4), *events, *_columns(b.answers, 4),
        *_columns(b.unclaimed, 2), audits[0], audits[1], audits[2],
        client_ip_var.get(), audits[4], user_agent_var.get(), audits[3],
    ]  # fmt: skip
