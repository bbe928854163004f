"""Background work of the ledger: void expired holds, purge old idempotency keys.

Both are safe in many replicas at once: expiry locks a player's wallets with
SKIP LOCKED (a busy or already-claimed player is left for the next round), and the
purge is a plain idempotent DELETE in small batches.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from sqlalchemy import text

from app.core.db import Database
from app.core.money import format_amount
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import repository
from app.ledger.models import HoldStatus
from app.ledger.service import canonical_json

log = logging.getLogger(__name__)

_EXPIRED_PLAYERS = """
SELECT DISTINCT player_id FROM ledger_holds
WHERE status = 'PENDING' AND expires_at IS NOT NULL AND expires_at <= now()
LIMIT $1
"""

# Same lock order as every money operation: all the player's wallets by id, then holds.
_LOCK_EXPIRED = """
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
       (SELECT jsonb_agg(to_jsonb(h) ORDER BY id) FROM h)::text AS holds
"""


async def expire_holds(db: Database, settings: Settings, batch: int = 100) -> int:
    """Void pending holds past their expiry; returns how many were voided."""
    async with db.read_session() as session:
        conn = await repository.driver(session)
        players = [r["player_id"] for r in await conn.fetch(_EXPIRED_PLAYERS, batch)]
    voided = 0
    for player_id in players:
        async with db.transaction() as session:
            voided += await _expire_player(await repository.driver(session), player_id)
    return voided


async def _expire_player(conn: Any, player_id: uuid.UUID) -> int:
    row = await conn.fetchrow(_LOCK_EXPIRED, player_id)
    wallets = json.loads(row["wallets"] or "[]")
    holds = json.loads(row["holds"] or "[]")
    if len(wallets) != row["wallet_count"] or not holds:
        return 0  # another replica or a live operation has this player right now
    by_id = {w["id"]: w for w in wallets}
    for h in holds:
        by_id[h["real_wallet_id"]]["held"] -= h["real_amount"]
        if h["bonus_wallet_id"] is not None:
            by_id[h["bonus_wallet_id"]]["held"] -= h["bonus_amount"]
    operation_id = uuid.uuid4()
    writes = repository.Writes(operation_id, player_id, Principal.system("hold-expiry").key)
    writes.wallets = {w["id"]: (w["balance"], w["held"], 0) for w in wallets}
    writes.hold_updates = [(h["id"], HoldStatus.EXPIRED) for h in holds]
    snapshot = [
        {"kind": w["kind"], "currency": w["currency"],
         "balance": format_amount(w["balance"], w["currency"]),
         "held": format_amount(w["held"], w["currency"]),
         "available": format_amount(w["balance"] - w["held"], w["currency"])}
        for w in wallets
    ]  # fmt: skip
    for h in holds:
        writes.events.append(("bet.cancelled", canonical_json({
            "playerId": str(player_id), "operationId": str(operation_id),
            "reservationId": str(h["id"]), "transactionId": h["transaction_id"],
            "reason": "EXPIRED",
        })))  # fmt: skip
    writes.events.append(("wallet.balance_changed", canonical_json({
        "playerId": str(player_id), "transactionId": str(operation_id),
        "operation": "expireHolds", "wallets": snapshot,
    })))  # fmt: skip
    await repository.apply(conn, writes, None, None)
    log.info("voided %d expired hold(s) of player %s", len(holds), player_id)
    return len(holds)


async def purge_idempotency_keys(db: Database, settings: Settings, batch: int = 5000) -> int:
    """Delete keys older than the retention period, a batch at a time."""
    statement = text("""
        DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM idempotency_keys
            WHERE created_at < now() - make_interval(days => :days)
            LIMIT :batch))
    """)
    total = 0
    while True:
        async with db.transaction() as session:
            result = await session.execute(
                statement, {"days": settings.idempotency_retention_days, "batch": batch}
            )
        deleted = result.rowcount or 0  # type: ignore[attr-defined]
        total += deleted
        if deleted < batch:
            return total
