"""Every SQL statement of the alerts domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.alerts.models import OPEN_STATUSES, Alert, AlertHistory, AlertRule, AlertRuleState

# One evaluator at a time across replicas (a transaction-scoped advisory lock).
EVALUATOR_LOCK = "pms.alerts.evaluate"


async def try_evaluator_lock(session: AsyncSession) -> bool:
    result = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": EVALUATOR_LOCK}
    )
    return bool(result.scalar())


async def add_counts(session: AsyncSession, rows: Sequence[tuple[datetime, str, int, int]]) -> None:
    """Add (bucket, name, count, total) to the counters; one statement for all rows."""
    if not rows:
        return
    await session.execute(
        text(
            "INSERT INTO alert_counters (name, bucket, count, total)"
            " SELECT * FROM unnest(CAST(:names AS text[]), CAST(:buckets AS timestamptz[]),"
            " CAST(:counts AS bigint[]), CAST(:totals AS bigint[]))"
            " ON CONFLICT (name, bucket) DO UPDATE SET"
            " count = alert_counters.count + excluded.count,"
            " total = alert_counters.total + excluded.total"
        ),
        {"names": [r[1] for r in rows], "buckets": [r[0] for r in rows],
         "counts": [r[2] for r in rows], "totals": [r[3] for r in rows]},
    )  # fmt: skip


async def counter_sums(
    session: AsyncSession, names: Sequence[str], since: datetime, until: datetime
) -> dict[str, tuple[int, int]]:
    """(count, total) per counter name over buckets in [since, until)."""
    result = await session.execute(
        text(
            "SELECT name, coalesce(sum(count), 0), coalesce(sum(total), 0) FROM alert_counters"
            " WHERE name = ANY(:names) AND bucket >= :since AND bucket < :until GROUP BY name"
        ),
        {"names": list(names), "since": since, "until": until},
    )
    sums = {name: (int(c), int(t)) for name, c, t in result.all()}
    return {name: sums.get(name, (0, 0)) for name in names}


async def purge_counters(session: AsyncSession, before: datetime) -> None:
    await session.execute(text("DELETE FROM alert_counters WHERE bucket < :b"), {"b": before})


async def oldest_pending_event_age(session: AsyncSession, now: datetime) -> float:
    """Seconds since the oldest undelivered outbox event was written (0: none pending).
    Reads the pending partial index: the oldest id is the first row."""
    result = await session.execute(
        text("SELECT time FROM outbox_events WHERE published_at IS NULL ORDER BY id LIMIT 1")
    )
    oldest = result.scalar()
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


async def latest_rule(session: AsyncSession, key: str) -> AlertRule | None:
    """The newest version of ``key``, with the key locked for this transaction (two first
    saves of one key would otherwise both write version 1)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"pms.alert_rule:{key}"}
    )
    stmt = (
        select(AlertRule)
        .where(col(AlertRule.key) == key)
        .order_by(col(AlertRule.version).desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().first()


async def rules(session: AsyncSession, *, all_versions: bool = False) -> Sequence[AlertRule]:
    if all_versions:
        stmt = select(AlertRule).order_by(col(AlertRule.key), col(AlertRule.version))
    else:
        stmt = (
            select(AlertRule)
            .ext(distinct_on(col(AlertRule.key)))
            .order_by(col(AlertRule.key), col(AlertRule.version).desc())
        )
    return list((await session.execute(stmt)).scalars())


async def states(session: AsyncSession) -> dict[str, AlertRuleState]:
    rows = (await session.execute(select(AlertRuleState))).scalars()
    return {row.rule_key: row for row in rows}


async def alert_for_update(session: AsyncSession, alert_id: uuid.UUID) -> Alert | None:
    stmt = select(Alert).where(col(Alert.id) == alert_id).with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def alerts(
    session: AsyncSession,
    *,
    statuses: Sequence[str] | None,
    rule_key: str | None,
    since: datetime | None,
    limit: int,
) -> Sequence[Alert]:
    stmt = select(Alert).order_by(col(Alert.fired_at).desc(), col(Alert.id)).limit(limit)
    if statuses:
        stmt = stmt.where(col(Alert.status).in_(list(statuses)))
    if rule_key is not None:
        stmt = stmt.where(col(Alert.rule_key) == rule_key)
    if since is not None:
        stmt = stmt.where(col(Alert.fired_at) >= since)
    return list((await session.execute(stmt)).scalars())


async def history(
    session: AsyncSession, alert_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AlertHistory]]:
    by_alert: dict[uuid.UUID, list[AlertHistory]] = {a: [] for a in alert_ids}
    if not alert_ids:
        return by_alert
    stmt = (
        select(AlertHistory)
        .where(col(AlertHistory.alert_id).in_(list(alert_ids)))
        .order_by(col(AlertHistory.id))
    )
    for row in (await session.execute(stmt)).scalars():
        by_alert[row.alert_id].append(row)
    return by_alert


async def open_counts_by_kind(session: AsyncSession) -> dict[str, int]:
    stmt = (
        select(col(Alert.kind), func.count())
        .where(col(Alert.status).in_(OPEN_STATUSES))
        .group_by(col(Alert.kind))
    )
    rows: Any = (await session.execute(stmt)).all()
    return {kind: int(n) for kind, n in rows}
