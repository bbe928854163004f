"""The periodic-task registry: every domain's background work, run in every replica by
``app.core.tasks.TaskRunner`` (the ASGI lifespan and ``pms worker``).

Each task must be safe to run concurrently in many replicas (row locks with SKIP LOCKED,
advisory locks, idempotent updates): there is no leader election.
"""

from __future__ import annotations

import uuid

from app.alerts import evaluator as alerts_evaluator
from app.analytics.consumer import consume_events as consume_analytics_events
from app.audit import tasks as audit_tasks
from app.bonuses import tasks as bonus_tasks
from app.core import jobs
from app.core.db import Database
from app.core.settings import Settings
from app.core.tasks import PeriodicTask
from app.events.retention import purge_outbox
from app.events.runtime import EventsRuntime
from app.exports import jobs as export_jobs
from app.fraud.consumer import consume_events as consume_fraud_events
from app.gdpr.erasure import purge_retained
from app.identity.runtime import IdentityRuntime
from app.identity.sessions import end_account_sessions
from app.identity.store import purge_expired
from app.imports import uploads
from app.ledger import tasks as ledger_tasks
from app.playstyle.consumer import consume_money_events
from app.responsible import service as responsible
from app.retention import partitions as retention_partitions
from app.retention import purge as retention_purge
from app.segments.tasks import run_recompute


def registered_tasks(settings: Settings, events: EventsRuntime) -> list[PeriodicTask]:
    """Every periodic task of this process. Add yours here."""
    tasks = [
        PeriodicTask(
            "ledger.expire_holds", settings.hold_expiry_interval_seconds, ledger_tasks.expire_holds
        ),
        PeriodicTask(
            "ledger.purge_idempotency_keys",
            settings.idempotency_purge_interval_seconds,
            ledger_tasks.purge_idempotency_keys,
        ),
        PeriodicTask(
            "segments-recompute", settings.segment_recompute_interval_seconds, run_recompute
        ),
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
        PeriodicTask("responsible.end_breaks", settings.rg_break_end_interval_seconds, _end_breaks),
        PeriodicTask(
            "fraud.consume_events", settings.fraud_consume_interval_seconds, consume_fraud
        ),
        PeriodicTask("audit.tree", settings.audit_tree_interval_seconds, audit_tasks.maintain),
        PeriodicTask("outbox.purge", settings.outbox_purge_interval_seconds, purge_outbox),
        PeriodicTask("gdpr.purge_retained", settings.gdpr_purge_interval_seconds, _gdpr_purge),
        PeriodicTask(
            "retention.partitions",
            settings.retention_partition_interval_seconds,
            retention_partitions.ensure_task,
        ),
        PeriodicTask(
            "retention.purge", settings.retention_purge_interval_seconds, retention_purge.purge_task
        ),
        PeriodicTask(
            "analytics.consume_events",
            settings.analytics_consume_interval_seconds,
            consume_analytics_events,
        ),
        PeriodicTask("alerts.evaluate", settings.alert_evaluate_interval_seconds, _evaluate_alerts),
        PeriodicTask("jobs.run", settings.job_poll_seconds, run_jobs),
        *events.tasks(),
    ]
    if settings.export_schedule:
        tasks.append(PeriodicTask(
            "exports.schedule", settings.export_schedule_check_seconds, export_jobs.schedule
        ))  # fmt: skip
    if not settings.redis_url:  # Redis expires session state itself
        tasks.append(PeriodicTask("identity.purge_session_state", 300.0, _purge_session_state))
    return tasks


async def consume_fraud(db: Database, settings: Settings) -> int:
    """Fraud scoring; a player an AUTO_BLOCK rule blocked has every session ended (the
    status path refuses their debits already), like a staff block."""
    identity = IdentityRuntime(lambda: db, settings)

    async def end_sessions(players: list[uuid.UUID]) -> None:
        for player_id in players:
            await end_account_sessions(identity, f"player:{player_id}", "fraud auto-block")

    try:
        return await consume_fraud_events(db, settings, end_sessions)
    finally:
        await identity.stop()


async def _evaluate_alerts(db: Database, settings: Settings) -> None:
    await alerts_evaluator.run(db, settings)


# Background jobs by kind (app/core/jobs.py): exports and imports started over the API.
JOB_HANDLERS: dict[str, jobs.Handler] = {
    export_jobs.JOB_KINDS[k]: export_jobs.run_job for k in export_jobs.JOB_KINDS
} | {uploads.JOB_KIND: uploads.run_job}


async def run_jobs(db: Database, settings: Settings) -> int:
    return await jobs.run_all(db, settings, JOB_HANDLERS)


async def _gdpr_purge(db: Database, settings: Settings) -> None:
    await purge_retained(db, settings)


async def _purge_session_state(db: Database, settings: Settings) -> None:
    await purge_expired(db)


async def _end_breaks(db: Database, settings: Settings) -> None:
    """Breaks that are over: the players may play again."""
    async with db.transaction() as session:
        await responsible.end_breaks(session, settings)
