"""Every SQL statement of the anti-fraud package. The consumer's statements run for every
money event, so they are raw SQL (one round trip each)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.fraud.models import CaseStatus, FraudCase, FraudHit, FraudRule

# --- baselines ------------------------------------------------------------------------


@dataclass
class Baseline:
    minute: datetime | None = None
    minute_count: int = 0
    rate_ewma: float | None = None
    stake_ewma: float | None = None
    stake_count: int = 0
    stake_total: int = 0
    win_total: int = 0
    previous_minute_count: int = 0  # the minute before ``minute``'s (0 if not just before)


LOCK_BASELINE = """
WITH ins AS (
    INSERT INTO fraud_baselines (player_id, minute_count, stake_count, stake_total, win_total)
    VALUES (:p, 0, 0, 0, 0) ON CONFLICT DO NOTHING
)
SELECT minute, minute_count, rate_ewma, stake_ewma, stake_count, stake_total, win_total,
       previous_minute_count
FROM fraud_baselines WHERE player_id = :p FOR UPDATE
"""
SAVE_BASELINE = """
INSERT INTO fraud_baselines (player_id, minute, minute_count, rate_ewma, stake_ewma,
                             stake_count, stake_total, win_total, previous_minute_count)
VALUES (:p, :minute, :minute_count, :rate_ewma, :stake_ewma, :stake_count, :stake_total,
        :win_total, :previous_minute_count)
ON CONFLICT (player_id) DO UPDATE SET minute = EXCLUDED.minute,
    minute_count = EXCLUDED.minute_count, rate_ewma = EXCLUDED.rate_ewma,
    stake_ewma = EXCLUDED.stake_ewma, stake_count = EXCLUDED.stake_count,
    stake_total = EXCLUDED.stake_total, win_total = EXCLUDED.win_total,
    previous_minute_count = EXCLUDED.previous_minute_count
"""


async def lock_baseline(session: AsyncSession, player_id: uuid.UUID) -> Baseline:
    """The player's baseline, locked (the row is created on the first bet). A row inserted
    by this very statement is not visible to its SELECT, hence the default."""
    row = (await session.execute(text(LOCK_BASELINE), {"p": player_id})).first()
    if row is None:
        return Baseline()
    return Baseline(*row)


async def save_baseline(session: AsyncSession, player_id: uuid.UUID, b: Baseline) -> None:
    await session.execute(text(SAVE_BASELINE), {"p": player_id, **b.__dict__})


async def stake_total(session: AsyncSession, player_id: uuid.UUID) -> int:
    q = text("SELECT stake_total FROM fraud_baselines WHERE player_id = :p")
    return int((await session.execute(q, {"p": player_id})).scalar() or 0)


# --- activity and identifiers ---------------------------------------------------------

ADD_ACTIVITY = """
INSERT INTO fraud_activity (player_id, kind, amount, mark, ref, at)
VALUES (:p, :kind, :amount, :mark, :ref, :at)
"""
COUNT_ACTIVITY = """
SELECT count(*) FROM fraud_activity
WHERE player_id = :p AND kind = :kind
  AND at > CAST(:at AS timestamptz) - make_interval(secs => CAST(:window AS float8))
  AND at <= CAST(:at AS timestamptz)
"""
COUNT_REF_ACTIVITY = """
SELECT count(*), count(DISTINCT player_id) FROM fraud_activity
WHERE kind = :kind AND ref = :ref
  AND at > CAST(:at AS timestamptz) - make_interval(secs => CAST(:window AS float8))
  AND at <= CAST(:at AS timestamptz)
"""
# Who rolled back: the client that placed the bet (pending bet) or opened the round.
ROLLBACK_CLIENT = """
SELECT coalesce(
    (SELECT client FROM ledger_holds WHERE id = CAST(:hold AS bigint)),
    (SELECT client FROM game_rounds WHERE round_ref = :round AND player_id = :p
     ORDER BY id DESC LIMIT 1))
"""
LAST_ACTIVITY = """
SELECT amount, mark, at FROM fraud_activity
WHERE player_id = :p AND kind = :kind AND at > :since AND at <= :before
ORDER BY at DESC, id DESC LIMIT 1
"""
SEEN_IDENTIFIER = """
INSERT INTO fraud_identifiers (kind, value_hash, player_id, first_seen, last_seen)
VALUES (:kind, :h, :p, :at, :at)
ON CONFLICT (kind, value_hash, player_id) DO UPDATE SET last_seen = EXCLUDED.last_seen
RETURNING (xmax = 0) AS new
"""
SHARING = """
SELECT player_id FROM fraud_identifiers WHERE kind = :kind AND value_hash = :h
ORDER BY first_seen, player_id
"""


async def add_activity(
    session: AsyncSession, player_id: uuid.UUID, kind: str, at: datetime, *,
    amount: int = 0, mark: int = 0, ref: str | None = None,
) -> None:  # fmt: skip
    params = {"p": player_id, "kind": kind, "amount": amount, "mark": mark, "ref": ref, "at": at}
    await session.execute(text(ADD_ACTIVITY), params)


async def count_activity(
    session: AsyncSession, player_id: uuid.UUID, kind: str, at: datetime, window: float
) -> int:
    params = {"p": player_id, "kind": kind, "at": at, "window": window}
    return int((await session.execute(text(COUNT_ACTIVITY), params)).scalar() or 0)


async def count_ref_activity(
    session: AsyncSession, kind: str, ref: str, at: datetime, window: float
) -> tuple[int, int]:
    """(facts, distinct players) of ``kind`` with ``ref`` in the window, all players."""
    params = {"kind": kind, "ref": ref, "at": at, "window": window}
    row = (await session.execute(text(COUNT_REF_ACTIVITY), params)).one()
    return int(row[0]), int(row[1])


async def rollback_client(
    session: AsyncSession, player_id: uuid.UUID, hold_id: str | None, round_ref: str | None
) -> str | None:
    params = {"p": player_id, "hold": hold_id, "round": round_ref}
    found = (await session.execute(text(ROLLBACK_CLIENT), params)).scalar()
    return str(found) if found else None


async def last_activity(
    session: AsyncSession, player_id: uuid.UUID, kind: str, since: datetime, before: datetime
) -> Row[Any] | None:
    params = {"p": player_id, "kind": kind, "since": since, "before": before}
    return (await session.execute(text(LAST_ACTIVITY), params)).first()


async def seen_identifier(
    session: AsyncSession, player_id: uuid.UUID, kind: str, value_hash: str, at: datetime
) -> bool:
    """Record the identifier for the player; True when it is new for this player."""
    params = {"kind": kind, "h": value_hash, "p": player_id, "at": at}
    return bool((await session.execute(text(SEEN_IDENTIFIER), params)).scalar())


async def sharing(session: AsyncSession, kind: str, value_hash: str) -> list[uuid.UUID]:
    rows = await session.execute(text(SHARING), {"kind": kind, "h": value_hash})
    return [r[0] for r in rows]


# --- observations, rules, hits --------------------------------------------------------

ADD_OBSERVATION = """
INSERT INTO fraud_observations (player_id, signal, value, evidence, event_id, observed_at)
VALUES (:p, :signal, :value, CAST(:evidence AS JSONB), :e, :at)
"""
LATEST_RULES = """
SELECT DISTINCT ON (key) id, key, version, signal, threshold, weight, action, enabled
FROM fraud_rules ORDER BY key, version DESC
"""
UPSERT_HIT = """
INSERT INTO fraud_hits (player_id, rule_id, rule_key, signal, value, weight, action, evidence,
                        hit_at)
VALUES (:p, :rule, :key, :signal, :value, :weight, :action, CAST(:evidence AS JSONB), :at)
ON CONFLICT (player_id, rule_id) DO UPDATE SET
    value = GREATEST(fraud_hits.value, EXCLUDED.value),
    evidence = CASE WHEN EXCLUDED.value > fraud_hits.value THEN EXCLUDED.evidence
                    ELSE fraud_hits.evidence END,
    hit_at = EXCLUDED.hit_at
RETURNING id, (xmax = 0) AS new
"""
OPEN_CASE = """
INSERT INTO fraud_cases (id, player_id, status, opened_at, updated_at)
VALUES (:id, :p, 'OPEN', now(), now())
ON CONFLICT (player_id) WHERE status = 'OPEN' DO UPDATE SET updated_at = now()
RETURNING id, (xmax = 0) AS new
"""
SET_FLAG = """
INSERT INTO fraud_flags (player_id, step_up_mfa, hold_withdrawals, updated_at)
VALUES (:p, :step_up, :hold, now())
ON CONFLICT (player_id) DO UPDATE SET
    step_up_mfa = fraud_flags.step_up_mfa OR EXCLUDED.step_up_mfa,
    hold_withdrawals = fraud_flags.hold_withdrawals OR EXCLUDED.hold_withdrawals,
    updated_at = now()
"""
CLEAR_FLAGS = "DELETE FROM fraud_flags WHERE player_id = :p"
SCORES = """
SELECT player_id, LEAST(100, SUM(weight))::int AS score FROM (
    SELECT DISTINCT ON (player_id, rule_key) player_id, weight FROM fraud_hits
    WHERE player_id = ANY(:ids) AND hit_at > now() - make_interval(days => CAST(:days AS int))
    ORDER BY player_id, rule_key, hit_at DESC
) h GROUP BY player_id
"""
DRY_RUN = """
SELECT player_id, max(value) AS value, count(*) AS observations
FROM fraud_observations
WHERE signal = :signal AND value >= :threshold
  AND observed_at > now() - make_interval(days => CAST(:days AS int))
GROUP BY player_id ORDER BY max(value) DESC, player_id LIMIT :limit
"""


async def add_observation(
    session: AsyncSession, player_id: uuid.UUID, signal: str, value: float,
    evidence: dict[str, Any], event_id: uuid.UUID | None, at: datetime,
) -> None:  # fmt: skip
    params = {"p": player_id, "signal": signal, "value": value,
              "evidence": json.dumps(evidence), "e": event_id, "at": at}  # fmt: skip
    await session.execute(text(ADD_OBSERVATION), params)


async def latest_rules(session: AsyncSession) -> Sequence[Row[Any]]:
    """The latest version of each rule (disabled ones included)."""
    return (await session.execute(text(LATEST_RULES))).all()


async def upsert_hit(session: AsyncSession, params: dict[str, Any]) -> tuple[int, bool]:
    params = {**params, "evidence": json.dumps(params["evidence"])}
    row = (await session.execute(text(UPSERT_HIT), params)).one()
    return int(row[0]), bool(row[1])


async def open_case(session: AsyncSession, player_id: uuid.UUID) -> tuple[uuid.UUID, bool]:
    row = (await session.execute(text(OPEN_CASE), {"id": uuid.uuid4(), "p": player_id})).one()
    return row[0], bool(row[1])


async def link_hit(session: AsyncSession, hit_id: int, case_id: uuid.UUID) -> None:
    q = text("UPDATE fraud_hits SET case_id = :c WHERE id = :h")
    await session.execute(q, {"c": case_id, "h": hit_id})


async def set_flag(
    session: AsyncSession, player_id: uuid.UUID, *, step_up: bool = False, hold: bool = False
) -> None:
    await session.execute(text(SET_FLAG), {"p": player_id, "step_up": step_up, "hold": hold})


async def clear_flags(session: AsyncSession, player_id: uuid.UUID) -> None:
    await session.execute(text(CLEAR_FLAGS), {"p": player_id})


async def step_up_flag(session: AsyncSession, player_id: uuid.UUID) -> bool:
    q = text("SELECT step_up_mfa FROM fraud_flags WHERE player_id = :p")
    return bool((await session.execute(q, {"p": player_id})).scalar())


async def scores(
    session: AsyncSession, player_ids: Sequence[uuid.UUID], days: int
) -> dict[uuid.UUID, int]:
    rows = await session.execute(text(SCORES), {"ids": list(player_ids), "days": days})
    return {r[0]: int(r[1]) for r in rows}


async def hits_of(
    session: AsyncSession, player_ids: Sequence[uuid.UUID], days: int
) -> Sequence[FraudHit]:
    q = (
        select(FraudHit)
        .where(col(FraudHit.player_id).in_(list(player_ids)))
        .where(
            text("hit_at > now() - make_interval(days => CAST(:days AS int))").bindparams(days=days)
        )
        .order_by(col(FraudHit.hit_at).desc(), col(FraudHit.id).desc())
    )
    return (await session.execute(q)).scalars().all()


async def dry_run(
    session: AsyncSession, signal: str, threshold: float, days: int, limit: int
) -> Sequence[Row[Any]]:
    params = {"signal": signal, "threshold": threshold, "days": days, "limit": limit}
    return (await session.execute(text(DRY_RUN), params)).all()


# --- rules and cases (ordinary CRUD) --------------------------------------------------


async def latest_rule(session: AsyncSession, key: str) -> FraudRule | None:
    q = select(FraudRule).where(col(FraudRule.key) == key).order_by(col(FraudRule.version).desc())
    return (await session.execute(q.limit(1).with_for_update())).scalars().first()


async def add(session: AsyncSession, row: Any) -> None:
    session.add(row)
    await session.flush()


async def rules(session: AsyncSession, *, all_versions: bool) -> Sequence[FraudRule]:
    q = select(FraudRule).order_by(col(FraudRule.key), col(FraudRule.version).desc())
    rows = (await session.execute(q)).scalars().all()
    if all_versions:
        return rows
    latest: dict[str, FraudRule] = {}
    for row in rows:
        latest.setdefault(row.key, row)  # the first of each key is its highest version
    return list(latest.values())


async def case_player(session: AsyncSession, case_id: uuid.UUID) -> uuid.UUID | None:
    q = select(col(FraudCase.player_id)).where(col(FraudCase.id) == case_id)
    return (await session.execute(q)).scalar()


async def lock_case(session: AsyncSession, case_id: uuid.UUID) -> FraudCase | None:
    q = select(FraudCase).where(col(FraudCase.id) == case_id).with_for_update()
    return (await session.execute(q)).scalars().first()


async def cases(
    session: AsyncSession, *, status: CaseStatus | None, player_id: uuid.UUID | None,
    assignee: str | None, limit: int,
) -> Sequence[FraudCase]:  # fmt: skip
    q = select(FraudCase)
    if status is not None:
        q = q.where(col(FraudCase.status) == status.value)
    if player_id is not None:
        q = q.where(col(FraudCase.player_id) == player_id)
    if assignee is not None:
        q = q.where(col(FraudCase.assignee) == assignee)
    q = q.order_by(col(FraudCase.updated_at).desc(), col(FraudCase.id)).limit(limit)
    return (await session.execute(q)).scalars().all()


async def hits_of_case(session: AsyncSession, case_id: uuid.UUID) -> Sequence[FraudHit]:
    q = select(FraudHit).where(col(FraudHit.case_id) == case_id).order_by(col(FraudHit.id))
    return (await session.execute(q)).scalars().all()
