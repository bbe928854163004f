"""Background work of the bonus engine, safe in many replicas at once.

Expiry locks a player's wallets with SKIP LOCKED (the ledger's lock order: wallets by id,
then the player's active bonuses), so a busy or already-claimed player waits for the next
round; trigger jobs and cashback are idempotent by the award's unique occurrence key.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from app.bonuses import engine, triggers
from app.bonuses import repository as repo
from app.bonuses.models import BonusStatus
from app.core.db import Database
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import kernel
from app.ledger.operation import Operation

log = logging.getLogger(__name__)


def plan_expire_bonuses(op: Operation, bonuses: list[dict[str, Any]]) -> int:
    """Close the player's expired bonuses; their money returns to the house."""
    op.loaded.extensions[engine.NAME] = engine.BonusRows(bonuses)
    expired = [b for b in bonuses if b["expired"]]
    for bonus in expired:
        engine.close(op, bonus, BonusStatus.EXPIRED, "expired")
    return len(expired)


EXPIRE_BONUSES = kernel.SystemOperation(
    name="expireBonuses",
    actor=Principal.system("bonus-expiry").key,
    candidates_sql=repo.EXPIRED_BONUS_PLAYERS_SQL,
    lock_sql=repo.LOCK_EXPIRING_BONUSES_SQL,
    plan=plan_expire_bonuses,
    requires=(engine.NAME,),
)


async def expire_bonuses(db: Database, settings: Settings, batch: int = 100) -> int:
    """Expire active bonuses past their expiry; their money returns to the house."""
    return await kernel.run_system_operation(db, EXPIRE_BONUSES, batch)


async def run_triggers(db: Database, settings: Settings) -> int:
    return (
        await triggers.birthdays(db, settings)
        + await triggers.turnover(db, settings)
        + await triggers.vip_activations(db, settings)
    )


async def yesterdays_cashback(db: Database, settings: Settings) -> int:
    return await triggers.cashback(db, settings, None, ended_on=datetime.now(UTC).date())
