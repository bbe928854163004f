"""Alert rules and alerts: save a rule (validated, versioned), list alerts with their
history, acknowledge and resolve (staff), fire and clear (the evaluator). Every change of
an alert is a history row and an event (``alert.*``) in the same transaction. Takes a
session; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import repository, rules
from app.alerts.errors import AlertNotOpen, InvalidAlertRule
from app.alerts.models import (
    OPEN_STATUSES,
    Alert,
    AlertAction,
    AlertHistory,
    AlertRule,
    AlertStatus,
)
from app.core import metrics
from app.core.errors import FieldProblem, NotFound, ValidationFailed
from app.events import outbox

SYSTEM = "system"
NOTE_MAX = 2000
EVENT_OF = {
    AlertAction.FIRED: "alert.fired",
    AlertAction.ACKNOWLEDGED: "alert.acknowledged",
    AlertAction.CLEARED: "alert.resolved",
    AlertAction.RESOLVED: "alert.resolved",
}


async def save_rule(session: AsyncSession, rule: rules.RuleInput, actor: str) -> AlertRule:
    """Validate and store the next version of rule ``key`` (version 1 when new)."""
    kind = rules.check(rule)
    if kind.value == "FAILURE_RATE" and rule.threshold > 100:
        raise InvalidAlertRule("threshold", "a failure rate is a percentage: at most 100")
    key = rule.key.strip()
    latest = await repository.latest_rule(session, key)
    row = AlertRule(
        key=key, version=(latest.version + 1) if latest else 1, kind=kind.value,
        metric=rule.metric, currency=rule.currency, window_seconds=rule.window_seconds,
        baseline_seconds=rule.baseline_seconds, threshold=float(rule.threshold),
        clear_threshold=float(
            rule.threshold if rule.clear_threshold is None else rule.clear_threshold
        ),
        for_evaluations=rule.for_evaluations, min_samples=rule.min_samples,
        enabled=rule.enabled, description=rule.description, created_by=actor,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await outbox.record(session, "alert.rule_saved", None, {
        "ruleId": str(row.id), "key": key, "version": row.version, "kind": row.kind,
        "metric": row.metric, "threshold": row.threshold, "enabled": row.enabled,
        "actor": actor,
    })  # fmt: skip
    return row


async def list_rules(session: AsyncSession, *, all_versions: bool = False) -> Sequence[AlertRule]:
    return await repository.rules(session, all_versions=all_versions)


@dataclass
class AlertView:
    alert: Alert
    history: list[AlertHistory] = field(default_factory=list)


async def list_alerts(
    session: AsyncSession,
    *,
    statuses: Sequence[str] | None = None,
    rule_key: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[AlertView]:
    rows = await repository.alerts(
        session, statuses=statuses, rule_key=rule_key, since=since, limit=limit
    )
    history = await repository.history(session, [r.id for r in rows])
    return [AlertView(r, history[r.id]) for r in rows]


async def get_alert(session: AsyncSession, alert_id: uuid.UUID) -> AlertView | None:
    row = await session.get(Alert, alert_id)
    if row is None:
        return None
    return AlertView(row, (await repository.history(session, [row.id]))[row.id])


async def acknowledge(
    session: AsyncSession, alert_id: uuid.UUID, actor: str, note: str = ""
) -> AlertView:
    alert = await _locked(session, alert_id)
    if alert.status != AlertStatus.FIRING:
        raise AlertNotOpen(f"the alert is {alert.status.lower()} already")
    alert.status = AlertStatus.ACKNOWLEDGED.value
    alert.acknowledged_at, alert.acknowledged_by = datetime.now(UTC), actor
    return await _step(session, alert, AlertAction.ACKNOWLEDGED, actor, _note(note))


async def resolve(
    session: AsyncSession, alert_id: uuid.UUID, actor: str, note: str = ""
) -> AlertView:
    alert = await _locked(session, alert_id)
    if alert.status not in OPEN_STATUSES:
        raise AlertNotOpen("the alert is resolved already")
    return await _close(session, alert, AlertAction.RESOLVED, actor, _note(note))


async def fire(session: AsyncSession, rule: AlertRule, value: float) -> Alert:
    """A new FIRING alert of ``rule`` (the evaluator decided it; it holds the lock)."""
    alert = Alert(
        rule_id=rule.id, rule_key=rule.key, kind=rule.kind, metric=rule.metric,
        status=AlertStatus.FIRING.value, value=value, threshold=rule.threshold,
        last_value=value, fired_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(alert)
    await session.flush()
    await _step(session, alert, AlertAction.FIRED, SYSTEM, "", value)
    metrics.inc_after_commit(session, metrics.ALERTS_FIRED.labels(rule.kind))
    return alert


async def clear(session: AsyncSession, alert_id: uuid.UUID, value: float | None) -> bool:
    """Resolve an open alert whose condition recovered; False if staff closed it first."""
    alert = await _locked(session, alert_id)
    if alert.status not in OPEN_STATUSES:
        return False
    alert.last_value = value
    await _close(session, alert, AlertAction.CLEARED, SYSTEM, "", value)
    return True


async def _locked(session: AsyncSession, alert_id: uuid.UUID) -> Alert:
    alert = await repository.alert_for_update(session, alert_id)
    if alert is None:
        raise NotFound("no such alert")
    return alert


def _note(note: str) -> str:
    if len(note) > NOTE_MAX:
        raise ValidationFailed([FieldProblem("note", f"at most {NOTE_MAX} characters")])
    return note


async def _close(
    session: AsyncSession, alert: Alert, action: AlertAction, actor: str, note: str,
    value: float | None = None,
) -> AlertView:  # fmt: skip
    alert.status = AlertStatus.RESOLVED.value
    alert.resolved_at, alert.resolved_by = datetime.now(UTC), actor
    return await _step(session, alert, action, actor, note, value)


async def _step(
    session: AsyncSession, alert: Alert, action: AlertAction, actor: str, note: str,
    value: float | None = None,
) -> AlertView:  # fmt: skip
    session.add(AlertHistory(alert_id=alert.id, action=action.value, actor=actor, value=value,
                             note=note, at=datetime.now(UTC)))  # fmt: skip
    await session.flush()
    data = _event_data(alert, action, actor)
    await outbox.record(session, EVENT_OF[action], f"alert:{alert.id}", data)
    history = (await repository.history(session, [alert.id]))[alert.id]
    return AlertView(alert, history)


def _event_data(alert: Alert, action: AlertAction, actor: str) -> dict[str, Any]:
    return {
        "alertId": str(alert.id), "ruleKey": alert.rule_key, "kind": alert.kind,
        "metric": alert.metric, "status": alert.status, "action": action.value,
        "value": alert.value, "lastValue": alert.last_value, "threshold": alert.threshold,
        "actor": actor,
    }  # fmt: skip
