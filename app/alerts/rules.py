"""The rule catalogue (which metrics each kind reads) and the validation of a rule before
it is saved: one place that knows what a valid rule is."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.alerts.errors import InvalidAlertRule
from app.alerts.models import RuleKind
from app.core.currencies import CURRENCY_EXPONENTS

KEY_MAX = 64
DESCRIPTION_MAX = 500
MIN_WINDOW = 60  # the counters are per minute
MAX_WINDOW = 86_400
MAX_BASELINE = 30 * 86_400
MAX_THRESHOLD = 1e9
MAX_FOR_EVALUATIONS = 100


@dataclass(frozen=True)
class FailureMetric:
    """A failure rate: ``failures`` / ``attempts`` counters (app/core/counters.py names)."""

    failures: str
    attempts: str
    meaning: str


FAILURE_METRICS: dict[str, FailureMetric] = {
    "registration_errors": FailureMetric(
        "mutation.registerPlayer.error", "mutation.registerPlayer", "refused registrations"
    ),
    "kyc_rejections": FailureMetric("kyc.rejected", "kyc.decided", "KYC decisions: rejected"),
    "webhook_dead_letters": FailureMetric(
        "webhook.dead", "webhook.finished", "webhook deliveries dead-lettered"
    ),
    "wallet_errors": FailureMetric(
        "wallet.error", "wallet.operation", "money operations refused or failed"
    ),
}
# Each other kind reads one metric.
METRICS_OF: dict[RuleKind, frozenset[str]] = {
    RuleKind.FAILURE_RATE: frozenset(FAILURE_METRICS),
    RuleKind.DEPOSIT_SWING: frozenset({"average_deposit"}),
    RuleKind.REVERSAL_SPIKE: frozenset({"reversals"}),
    RuleKind.OUTBOX_LAG: frozenset({"outbox_lag"}),
}
NEEDS_BASELINE = frozenset({RuleKind.DEPOSIT_SWING, RuleKind.REVERSAL_SPIKE})


@dataclass(frozen=True)
class RuleInput:
    key: str
    kind: str
    metric: str
    threshold: float
    clear_threshold: float | None = None  # default: the threshold (no band)
    window_seconds: int = 900
    baseline_seconds: int | None = None
    currency: str | None = None
    for_evaluations: int = 1
    min_samples: int = 1
    enabled: bool = True
    description: str = ""


def check(rule: RuleInput) -> RuleKind:
    """The rule's kind if every field is valid; else ``InvalidAlertRule`` naming the field."""
    key = rule.key.strip()
    if not 1 <= len(key) <= KEY_MAX or not key.replace("_", "").replace("-", "").isalnum():
        raise InvalidAlertRule("key", "1-64 letters, digits, '-' or '_'")
    if rule.kind not in RuleKind._value2member_map_:
        raise InvalidAlertRule("kind", f"unknown rule kind {rule.kind[:40]!r}")
    kind = RuleKind(rule.kind)
    if rule.metric not in METRICS_OF[kind]:
        known = ", ".join(sorted(METRICS_OF[kind]))
        raise InvalidAlertRule("metric", f"unknown metric {rule.metric[:40]!r} for {kind}: {known}")
    _check_windows(kind, rule)
    _check_thresholds(rule)
    if kind is RuleKind.DEPOSIT_SWING and rule.currency not in CURRENCY_EXPONENTS:
        raise InvalidAlertRule("currency", "a deposit swing needs a known ISO 4217 currency")
    if kind is not RuleKind.DEPOSIT_SWING and rule.currency is not None:
        raise InvalidAlertRule("currency", "only a deposit swing takes a currency")
    if not 1 <= rule.for_evaluations <= MAX_FOR_EVALUATIONS:
        raise InvalidAlertRule("forEvaluations", f"1 to {MAX_FOR_EVALUATIONS}")
    if not 1 <= rule.min_samples <= 1_000_000:
        raise InvalidAlertRule("minSamples", "1 to 1000000")
    if len(rule.description) > DESCRIPTION_MAX:
        raise InvalidAlertRule("description", f"at most {DESCRIPTION_MAX} characters")
    return kind


def _check_windows(kind: RuleKind, rule: RuleInput) -> None:
    if kind is RuleKind.OUTBOX_LAG:
        if rule.baseline_seconds is not None:
            raise InvalidAlertRule("baselineSeconds", "an outbox lag rule has no baseline")
        return  # the window is unused: the lag is measured now
    if not MIN_WINDOW <= rule.window_seconds <= MAX_WINDOW:
        raise InvalidAlertRule("windowSeconds", f"{MIN_WINDOW} to {MAX_WINDOW} seconds")
    if kind in NEEDS_BASELINE:
        baseline = rule.baseline_seconds
        if baseline is None or not rule.window_seconds < baseline <= MAX_BASELINE:
            raise InvalidAlertRule(
                "baselineSeconds", f"longer than the window, at most {MAX_BASELINE} seconds"
            )
    elif rule.baseline_seconds is not None:
        raise InvalidAlertRule("baselineSeconds", "only swings and spikes have a baseline")


def _check_thresholds(rule: RuleInput) -> None:
    if not math.isfinite(rule.threshold) or not 0 < rule.threshold <= MAX_THRESHOLD:
        raise InvalidAlertRule("threshold", "a finite number above 0, at most 1e9")
    clear = rule.clear_threshold
    if clear is not None and (not math.isfinite(clear) or not 0 <= clear <= rule.threshold):
        raise InvalidAlertRule("clearThreshold", "from 0 to the threshold")
