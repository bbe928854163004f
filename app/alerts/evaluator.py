"""The periodic evaluation of every enabled rule (pms/tasks.py), safe in every replica:

1. each process flushes its own counter buffer (additive upserts: no lock needed);
2. the alerts consumer turns committed deposit and reversal events into counters;
3. one replica at a time (``pg_try_advisory_xact_lock``; the others skip this round)
   measures each rule and applies its hysteresis: fire after ``for_evaluations``
   consecutive values above ``threshold``, clear after as many at or below
   ``clear_threshold`` (or without data). A rule evaluated less than half an interval ago
   by another replica is skipped, so N replicas do not count N evaluations per interval.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import consumer, repository, service, sources
from app.alerts.models import OPEN_STATUSES, Alert, AlertRule, AlertRuleState, RuleKind
from app.core import counters, metrics
from app.core.db import Database
from app.core.settings import Settings

log = logging.getLogger(__name__)


async def flush_counters(db: Database) -> int:
    """This process's buffered counts -> ``alert_counters``; put back if the write fails."""
    rows = counters.drain()
    if not rows:
        return 0
    try:
        async with db.transaction() as session:
            await repository.add_counts(
                session, [(at, name, c, t) for (at, name), (c, t) in sorted(rows.items())]
            )
    except Exception:
        counters.restore(rows)
        raise
    return len(rows)


async def run(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """The periodic task: flush, consume, evaluate. Returns how many alerts changed."""
    await flush_counters(db)
    await consumer.consume_events(db, settings)
    changed = await evaluate(db, settings, now)
    await refresh_gauges(db)
    return changed


async def evaluate(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """One round over the latest version of every enabled rule, if no other replica is
    evaluating right now. ``now``: the evaluation time (tests move it forward)."""
    at = now or datetime.now(UTC)
    min_gap = timedelta(seconds=settings.alert_evaluate_interval_seconds / 2)
    changed = 0
    async with db.transaction() as session:
        if not await repository.try_evaluator_lock(session):
            return 0
        states = await repository.states(session)
        for rule in await repository.rules(session):
            state = states.get(rule.key)
            if state is None:
                state = AlertRuleState(rule_key=rule.key)
                session.add(state)
            elif state.evaluated_at is not None and state.evaluated_at > at - min_gap:
                continue
            if not rule.enabled:
                continue
            value = await sources.measure(session, rule, at)
            changed += await _apply(session, rule, state, value)
            state.last_value, state.evaluated_at = value, at
        if _purge_due():
            await repository.purge_counters(
                session, at - timedelta(days=settings.alert_counter_retention_days)
            )
    return changed


_PURGE_EVERY_SECONDS = 3600.0
_last_purge: float | None = None


def _purge_due() -> bool:
    """Old counters go once an hour per process, not every round (a scan of the table)."""
    global _last_purge
    now = time.monotonic()
    if _last_purge is not None and now - _last_purge < _PURGE_EVERY_SECONDS:
        return False
    _last_purge = now
    return True


async def _apply(
    session: AsyncSession, rule: AlertRule, state: AlertRuleState, value: float | None
) -> int:
    """Hysteresis for one rule; 1 if an alert fired or cleared."""
    open_alert = await session.get(Alert, state.alert_id) if state.alert_id else None
    if open_alert is not None and open_alert.status not in OPEN_STATUSES:
        open_alert, state.alert_id, state.breaches = None, None, 0  # staff resolved it
    if open_alert is None:
        state.recoveries = 0
        state.breaches = state.breaches + 1 if value is not None and value > rule.threshold else 0
        if state.breaches < rule.for_evaluations:
            return 0
        alert = await service.fire(session, rule, value or 0.0)
        state.alert_id, state.breaches = alert.id, 0
        log.warning("alert %s fired: %s = %s (threshold %s)", rule.key, rule.metric, value,
                    rule.threshold)  # fmt: skip
        return 1
    open_alert.last_value = value
    recovered = value is None or value <= rule.clear_threshold
    state.recoveries = state.recoveries + 1 if recovered else 0
    if state.recoveries < rule.for_evaluations:
        return 0
    await service.clear(session, open_alert.id, value)
    state.alert_id, state.recoveries = None, 0
    return 1


async def refresh_gauges(db: Database) -> None:
    """Open alerts by kind, and the age of the oldest undelivered outbox event, measured
    by every replica (a stuck relay does not update the relay's own lag gauge)."""
    async with db.read_session() as session:
        counts = await repository.open_counts_by_kind(session)
        age = await repository.oldest_pending_event_age(session, datetime.now(UTC))
    for kind in RuleKind:
        metrics.ALERTS_OPEN.labels(kind.value).set(counts.get(kind.value, 0))
    metrics.OUTBOX_OLDEST_PENDING.set(age)
