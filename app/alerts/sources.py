"""What a rule measures, from data the system already records: the per-minute counters
(app/core/counters.py, the alerts consumer) and the outbox itself.

A value of None means "not enough data to judge" (fewer than ``min_samples`` events): it
neither fires nor holds an alert open."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import repository
from app.alerts.models import AlertRule, RuleKind
from app.alerts.rules import FAILURE_METRICS

REVERSALS = "reversal"


def deposit_counter(currency: str) -> str:
    return f"deposit.{currency}"


async def measure(session: AsyncSession, rule: AlertRule, now: datetime) -> float | None:
    kind = RuleKind(rule.kind)
    if kind is RuleKind.OUTBOX_LAG:
        return await repository.oldest_pending_event_age(session, now)
    window_start = now - timedelta(seconds=rule.window_seconds)
    if kind is RuleKind.FAILURE_RATE:
        return await _failure_rate(session, rule, window_start, now)
    baseline_start = window_start - timedelta(seconds=rule.baseline_seconds or 0)
    if kind is RuleKind.DEPOSIT_SWING:
        return await _deposit_swing(session, rule, baseline_start, window_start, now)
    return await _reversal_spike(session, rule, baseline_start, window_start, now)


async def _failure_rate(
    session: AsyncSession, rule: AlertRule, since: datetime, until: datetime
) -> float | None:
    metric = FAILURE_METRICS[rule.metric]
    sums = await repository.counter_sums(session, (metric.failures, metric.attempts), since,
                                         until)  # fmt: skip
    attempts = sums[metric.attempts][0]
    if attempts < rule.min_samples or attempts == 0:
        return None
    return 100.0 * sums[metric.failures][0] / attempts


async def _deposit_swing(
    session: AsyncSession, rule: AlertRule, baseline_start: datetime, window_start: datetime,
    now: datetime,
) -> float | None:  # fmt: skip
    """|% change| of the window's average deposit against the trailing baseline's."""
    name = deposit_counter(rule.currency or "")
    window = (await repository.counter_sums(session, (name,), window_start, now))[name]
    baseline = (await repository.counter_sums(session, (name,), baseline_start,
                                              window_start))[name]  # fmt: skip
    if window[0] < rule.min_samples or baseline[0] < rule.min_samples:
        return None
    recent, usual = window[1] / window[0], baseline[1] / baseline[0]
    if usual == 0:
        return None
    return 100.0 * abs(recent - usual) / usual


async def _reversal_spike(
    session: AsyncSession, rule: AlertRule, baseline_start: datetime, window_start: datetime,
    now: datetime,
) -> float | None:  # fmt: skip
    """Reversals in the window / how many the baseline rate predicts for a window (at
    least one, so a quiet baseline does not turn a single reversal into a spike)."""
    window = (await repository.counter_sums(session, (REVERSALS,), window_start, now))[REVERSALS]
    baseline = (await repository.counter_sums(session, (REVERSALS,), baseline_start,
                                              window_start))[REVERSALS]  # fmt: skip
    if window[0] < rule.min_samples:
        return None
    expected = baseline[0] * rule.window_seconds / (rule.baseline_seconds or 1)
    return window[0] / max(expected, 1.0)
