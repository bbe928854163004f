"""Background work of the bonus engine, safe in many replicas at once.

Expiry locks a player's wallets with SKIP LOCKED (the ledger's lock order: wallets by id,
then the player's active bonuses), so a busy or already-claimed player waits for the next
round; trigger jobs and cashback are idempotent by the award's unique occurrence key.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from app.bonuses import engine, triggers
from app.bonuses.models import BonusStatus
from app.core.db import Database
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import repository
from app.ledger.service import _Op, _Wallet

log = logging.getLogger(__name__)

_EXPIRED_PLAYERS = """
SELECT DISTINCT player_id FROM player_bonuses
WHERE status = 'ACTIVE' AND expires_at <= now()
LIMIT $1
"""

_LOCK_PLAYER = """
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
       (SELECT jsonb_agg(to_jsonb(pb) ORDER BY id) FROM pb)::text AS bonuses
"""


async def expire_bonuses(db: Database, settings: Settings, batch: int = 100) -> int:
    """Expire active bonuses past their expiry; their money returns to the house."""
    async with db.read_session() as session:
        conn = await repository.driver(session)
        players = [r["player_id"] for r in await conn.fetch(_EXPIRED_PLAYERS, batch)]
    expired = 0
    for player_id in players:
        async with db.transaction() as session:
            expired += await _expire_player(await repository.driver(session), player_id)
    return expired


async def _expire_player(conn: Any, player_id: uuid.UUID) -> int:
    row = await conn.fetchrow(_LOCK_PLAYER, player_id)
    wallets = json.loads(row["wallets"] or "[]")
    bonuses = json.loads(row["bonuses"] or "[]")
    if len(wallets) != row["wallet_count"] or not any(b["expired"] for b in bonuses):
        return 0  # another replica or a live operation has this player right now
    loaded = repository.Loaded(
        claimed=True,
        player_status=None,
        confirm_status=None,
        wallets=wallets,
        holds=[],
        rounds=[],
        seen_transaction=None,
        new_hold_id=None,
        bonuses=bonuses,
    )
    writes = repository.Writes(uuid.uuid4(), player_id, Principal.system("bonus-expiry").key)
    op = _Op("expireBonuses", player_id, loaded, writes, {
        w["kind"]: _Wallet(w["id"], w["kind"], w["currency"], w["balance"], w["held"])
        for w in wallets
    })  # fmt: skip
    expired = [b for b in bonuses if b["expired"]]
    for bonus in expired:
        engine.close(op, bonus, BonusStatus.EXPIRED, "expired")
    op.finish()
    await repository.apply(conn, op.writes, None, None)
    log.info("expired %d bonus(es) of player %s", len(expired), player_id)
    return len(expired)


async def run_triggers(db: Database, settings: Settings) -> int:
    return (
        await triggers.birthdays(db, settings)
        + await triggers.turnover(db, settings)
        + await triggers.vip_activations(db, settings)
    )


async def yesterdays_cashback(db: Database, settings: Settings) -> int:
    return await triggers.cashback(db, settings, None, ended_on=datetime.now(UTC).date())
