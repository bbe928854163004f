"""Inputs of the alerts API."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.alerts.models import AlertStatus as AlertStatusEnum
from app.alerts.models import RuleKind as AlertRuleKindEnum
from schema.input_guard import free_text


@strawberry.input(description="An alert rule; saving writes its next version.")
class AlertRuleInput:
    key: str = strawberry.field(description="Stable name, 1-64 of [A-Za-z0-9_-].")
    kind: AlertRuleKindEnum
    metric: str = strawberry.field(
        description="FAILURE_RATE: registration_errors, kyc_rejections, webhook_dead_letters or "
        "wallet_errors; DEPOSIT_SWING: average_deposit; REVERSAL_SPIKE: reversals; "
        "OUTBOX_LAG: outbox_lag."
    )
    threshold: float = strawberry.field(
        description="Fire above: percent (rates, swings), a ratio to the baseline (spikes), "
        "seconds (outbox lag)."
    )
    clear_threshold: float | None = strawberry.field(
        default=None, description="Clear at or below (0..threshold); default the threshold."
    )
    window_seconds: int = strawberry.field(default=900, description="60 to 86400.")
    baseline_seconds: int | None = strawberry.field(
        default=None, description="Swings and spikes: the trailing window before it."
    )
    currency: str | None = strawberry.field(default=None, description="Deposit swings only.")
    for_evaluations: int = strawberry.field(
        default=1, description="Consecutive evaluations to fire and to clear (1-100)."
    )
    min_samples: int = strawberry.field(
        default=1, description="Fewer events in the window: no judgement (neither fires nor "
        "holds an alert open)."
    )  # fmt: skip
    enabled: bool = True
    description: str = free_text(default="")


@strawberry.input
class AlertFilter:
    status: list[AlertStatusEnum] | None = None
    rule_key: str | None = None
    fired_since: datetime | None = None
