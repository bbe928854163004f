"""Periodic background work that runs in every replica (hold expiry, purges, relays).

Each task must be safe to run concurrently in many replicas (row locks with SKIP LOCKED,
idempotent updates): there is no leader election.
"""

from __future__ import annotations

from app.core.db import Database
from app.core.settings import Settings
from app.core.tasks import PeriodicTask, TaskRunner

__all__ = ["PeriodicTask", "TaskRunner", "registered_tasks"]


def registered_tasks(settings: Settings) -> list[PeriodicTask]:
    """Every domain's periodic tasks. Add yours here."""
    from app.bonuses import tasks as bonus_tasks
    from app.ledger import tasks as ledger_tasks
    from app.playstyle.consumer import consume_money_events
    from app.segments.tasks import recompute_segments_task

    tasks = [
        PeriodicTask(
            "ledger.expire_holds", settings.hold_expiry_interval_seconds, ledger_tasks.expire_holds
        ),
        PeriodicTask(
            "ledger.purge_idempotency_keys",
            settings.idempotency_purge_interval_seconds,
            ledger_tasks.purge_idempotency_keys,
        ),
        recompute_segments_task(settings),
        PeriodicTask(
            "playstyle.consume_money_events",
            settings.playstyle_consume_interval_seconds,
            consume_money_events,
        ),
        PeriodicTask(
            "bonus.expire", settings.bonus_expiry_interval_seconds, bonus_tasks.expire_bonuses
        ),
        PeriodicTask(
            "bonus.triggers", settings.bonus_trigger_interval_seconds, bonus_tasks.run_triggers
        ),
        PeriodicTask(
            "bonus.cashback",
            settings.bonus_cashback_interval_seconds,
            bonus_tasks.yesterdays_cashback,
        ),
    ]
    if not settings.redis_url:  # Redis expires session state itself
        tasks.append(PeriodicTask("identity.purge_session_state", 300.0, _purge_session_state))
    return tasks


async def _purge_session_state(db: Database, settings: Settings) -> None:
    from app.identity.store import purge_expired

    await purge_expired(db)
