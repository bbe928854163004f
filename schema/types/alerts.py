"""Alert rules, alerts and their history as staff see them; the alert error types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.alerts.errors import AlertNotOpen as AlertNotOpenError
from app.alerts.errors import InvalidAlertRule
from app.alerts.models import AlertAction, AlertStatus, RuleKind
from app.alerts.models import AlertHistory as HistoryRow
from app.alerts.models import AlertRule as RuleRow
from app.alerts.service import AlertView
from schema.errors import UserError

AlertRuleKindEnum = RuleKind
strawberry.enum(RuleKind, name="AlertRuleKind")
AlertStatusEnum = AlertStatus
strawberry.enum(AlertStatus, name="AlertStatus")
AlertActionEnum = AlertAction
strawberry.enum(AlertAction, name="AlertAction")


@strawberry.type(description="An alert rule was rejected (unknown kind or metric, a window or "
                             "threshold out of range); nothing was saved.")  # fmt: skip
class InvalidAlertRuleError(UserError):
    field: str

    @classmethod
    def from_domain(cls, exc: InvalidAlertRule) -> InvalidAlertRuleError:
        return cls(code=exc.code, message=exc.message, field=exc.field)


@strawberry.type(description="The alert is resolved (or acknowledged) already; nothing changed.")
class AlertNotOpen(UserError):
    @classmethod
    def from_domain(cls, exc: AlertNotOpenError) -> AlertNotOpen:
        return cls(code=exc.code, message=exc.message)


@strawberry.type(description="One version of an alert rule (saving writes the next one).")
class AlertRule:
    id: strawberry.ID
    key: str
    version: int
    kind: AlertRuleKindEnum
    metric: str
    currency: str | None
    window_seconds: int
    baseline_seconds: int | None
    threshold: float = strawberry.field(description="Fires above this (after forEvaluations).")
    clear_threshold: float = strawberry.field(description="Clears at or below this.")
    for_evaluations: int = strawberry.field(
        description="Consecutive evaluations needed to fire, and to clear."
    )
    min_samples: int
    enabled: bool
    description: str
    created_by: str
    created_at: datetime | None

    @classmethod
    def from_model(cls, row: RuleRow) -> AlertRule:
        return cls(
            id=strawberry.ID(str(row.id)), key=row.key, version=row.version,
            kind=RuleKind(row.kind), metric=row.metric, currency=row.currency,
            window_seconds=row.window_seconds, baseline_seconds=row.baseline_seconds,
            threshold=row.threshold, clear_threshold=row.clear_threshold,
            for_evaluations=row.for_evaluations, min_samples=row.min_samples,
            enabled=row.enabled, description=row.description, created_by=row.created_by,
            created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="One step of an alert's life: who, when, the value seen then.")
class AlertHistoryEntry:
    action: AlertActionEnum
    actor: str
    at: datetime
    value: float | None
    note: str

    @classmethod
    def from_model(cls, row: HistoryRow) -> AlertHistoryEntry:
        assert row.at is not None
        return cls(action=AlertAction(row.action), actor=row.actor, at=row.at, value=row.value,
                   note=row.note)  # fmt: skip


@strawberry.type(description="An alert fired by a rule, with its whole history.")
class Alert:
    id: strawberry.ID
    rule_key: str
    kind: AlertRuleKindEnum
    metric: str
    status: AlertStatusEnum
    value: float = strawberry.field(description="The measured value when it fired.")
    last_value: float | None = strawberry.field(description="The latest value measured.")
    threshold: float
    fired_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None = strawberry.field(
        description="A staff member, or `system` when the condition cleared by itself."
    )
    history: list[AlertHistoryEntry]

    @classmethod
    def from_view(cls, view: AlertView) -> Alert:
        row = view.alert
        assert row.fired_at is not None
        return cls(
            id=strawberry.ID(str(row.id)), rule_key=row.rule_key, kind=RuleKind(row.kind),
            metric=row.metric, status=AlertStatus(row.status), value=row.value,
            last_value=row.last_value, threshold=row.threshold, fired_at=row.fired_at,
            acknowledged_at=row.acknowledged_at, acknowledged_by=row.acknowledged_by,
            resolved_at=row.resolved_at, resolved_by=row.resolved_by,
            history=[AlertHistoryEntry.from_model(h) for h in view.history],
        )  # fmt: skip


@strawberry.type(description="A change of an alert, live: what happened and the alert now.")
class AlertEvent:
    type: str = strawberry.field(description="alert.fired, alert.acknowledged or alert.resolved")
    alert: Alert
