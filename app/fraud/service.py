"""Anti-fraud rules: rules as versioned data, scoring an observation against them (hits,
cases, actions), case assignment and decisions. Takes a session; never commits."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.errors import NotFound, ValidationFailed
from app.core.settings import Settings
from app.events import outbox
from app.fraud import repository
from app.fraud.errors import CaseNotOpen, InvalidFraudRule
from app.fraud.models import Action, CaseStatus, Decision, FraudCase, FraudHit, FraudRule, Signal
from app.fraud.signals import Observation
from app.players import service as players
from app.players.models import PlayerStatus

KEY_MAX = 64
NOTE_MAX = 2000


@dataclass(frozen=True)
class RuleInput:
    key: str
    signal: str
    threshold: float
    weight: int
    action: str
    enabled: bool = True
    description: str = ""


def _check_rule(rule: RuleInput) -> tuple[Signal, Action]:
    key = rule.key.strip()
    if not 1 <= len(key) <= KEY_MAX or not key.replace("_", "").replace("-", "").isalnum():
        raise InvalidFraudRule("key", "1-64 letters, digits, '-' or '_'")
    if rule.signal not in Signal._value2member_map_:
        raise InvalidFraudRule("signal", f"unknown signal {rule.signal[:40]!r}")
    if rule.action not in Action._value2member_map_:
        raise InvalidFraudRule("action", f"unknown action {rule.action[:40]!r}")
    if not math.isfinite(rule.threshold) or not 0 <= rule.threshold <= 1e9:
        raise InvalidFraudRule("threshold", "a finite number from 0 to 1e9")
    if not 0 <= rule.weight <= 100:
        raise InvalidFraudRule("weight", "0 to 100")
    if len(rule.description) > 500:
        raise InvalidFraudRule("description", "at most 500 characters")
    return Signal(rule.signal), Action(rule.action)


async def save_rule(session: AsyncSession, rule: RuleInput, actor: str) -> FraudRule:
    """Validate and store the next version of rule ``key`` (version 1 when new)."""
    signal, action = _check_rule(rule)
    key = rule.key.strip()
    latest = await repository.latest_rule(session, key)
    row = FraudRule(
        key=key, version=(latest.version + 1) if latest else 1, signal=signal.value,
        threshold=float(rule.threshold), weight=rule.weight, action=action.value,
        enabled=rule.enabled, description=rule.description, created_by=actor,
    )  # fmt: skip
    await repository.add(session, row)
    await outbox.record(session, "fraud.rule_saved", None, {
        "ruleId": str(row.id), "key": key, "version": row.version, "signal": signal.value,
        "threshold": row.threshold, "weight": row.weight, "action": action.value,
        "enabled": row.enabled, "actor": actor,
    })  # fmt: skip
    return row


async def list_rules(session: AsyncSession, *, all_versions: bool = False) -> Sequence[FraudRule]:
    return await repository.rules(session, all_versions=all_versions)


@dataclass(frozen=True)
class DryRunHit:
    player_id: uuid.UUID
    value: float
    observations: int


async def dry_run(
    session: AsyncSession, signal: str, threshold: float, days: int, limit: int = 500
) -> list[DryRunHit]:
    """Who a rule on ``signal`` at ``threshold`` would have hit over the last ``days``."""
    _check_rule(RuleInput("dry-run", signal, threshold, 0, Action.FLAG.value))
    if not 1 <= days <= 366:
        raise InvalidFraudRule("days", "1 to 366")
    rows = await repository.dry_run(session, signal, threshold, days, min(max(limit, 1), 1000))
    return [DryRunHit(r.player_id, float(r.value), int(r.observations)) for r in rows]


# --- scoring ----------------------------------------------------------------------------


class RuleCache:
    """The latest rule versions, read in one statement once per consumer round (a saved
    rule takes effect on the next round, seconds later) instead of once per observation."""

    def __init__(self) -> None:
        self._by_signal: dict[str, list[Any]] | None = None
        # Players an AUTO_BLOCK rule blocked this round: their sessions end after it.
        self.blocked: set[uuid.UUID] = set()

    async def _rules(self, session: AsyncSession) -> dict[str, list[Any]]:
        if self._by_signal is None:
            self._by_signal = {}
            for rule in await repository.latest_rules(session):
                self._by_signal.setdefault(rule.signal, []).append(rule)
        return self._by_signal

    async def for_signal(self, session: AsyncSession, signal: str) -> Sequence[Any]:
        return (await self._rules(session)).get(signal, [])

    async def may_block(self, session: AsyncSession) -> bool:
        """Whether a rule of this round can change a player's status (AUTO_BLOCK). Read
        with the rules the round scores by, so a rule saved meanwhile cannot block a
        player whose row this round locked for reading only."""
        rules = (await self._rules(session)).values()
        return any(r.enabled and r.action == Action.AUTO_BLOCK for by in rules for r in by)


# Below these values an observation says nothing (a stake under twice the usual, a win rate
# under the expected RTP): not stored, so a dry run cannot go below them. Most bets of
# most players stay under them, which keeps scoring at a few statements per event.
OBSERVATION_FLOORS = {Signal.STAKE_JUMP: 2.0, Signal.WIN_RATE: 1.0}


async def observe(
    session: AsyncSession, settings: Settings, player_id: uuid.UUID, obs: Observation,
    event_id: uuid.UUID | None, at: datetime, rules: RuleCache | None = None,
) -> list[str]:  # fmt: skip
    """Record ``obs`` and apply every enabled rule it crosses; the keys of new hits."""
    if obs.value < OBSERVATION_FLOORS.get(obs.signal, float("-inf")):
        return []
    await repository.add_observation(
        session, player_id, obs.signal.value, obs.value, obs.evidence, event_id, at
    )
    fired: list[str] = []
    rules = rules or RuleCache()
    for rule in await rules.for_signal(session, obs.signal.value):
        if not rule.enabled or obs.value < rule.threshold:
            continue
        hit_id, new = await repository.upsert_hit(session, {
            "p": player_id, "rule": rule.id, "key": rule.key, "signal": obs.signal.value,
            "value": obs.value, "weight": rule.weight, "action": rule.action,
            "evidence": obs.evidence, "at": at,
        })  # fmt: skip
        if new:
            await _on_new_hit(session, player_id, rule, hit_id, obs)
            fired.append(rule.key)
            if rule.action == Action.AUTO_BLOCK:
                rules.blocked.add(player_id)
    return fired


async def _on_new_hit(
    session: AsyncSession, player_id: uuid.UUID, rule: Any, hit_id: int, obs: Observation
) -> None:
    case_id, opened = await repository.open_case(session, player_id)
    await repository.link_hit(session, hit_id, case_id)
    subject = str(player_id)
    base = {
        "playerId": subject, "caseId": str(case_id), "rule": rule.key,
        "ruleVersion": rule.version, "signal": obs.signal.value, "value": obs.value,
    }  # fmt: skip
    if opened:
        await outbox.record(session, "fraud.case_opened", subject, base)
    await outbox.record(session, "fraud.rule_hit", subject, {**base, "action": rule.action})
    action = Action(rule.action)
    if action is Action.ALERT:
        await outbox.record(session, "fraud.alert", subject, {**base, "evidence": obs.evidence})
    elif action is Action.STEP_UP_MFA:
        await repository.set_flag(session, player_id, step_up=True)
    elif action is Action.HOLD_WITHDRAWALS:
        await repository.set_flag(session, player_id, hold=True)
    elif action is Action.AUTO_BLOCK:
        await _block(session, player_id, f"fraud rule {rule.key} v{rule.version}",
                     f"fraud:rule:{rule.key}")  # fmt: skip


async def _block(session: AsyncSession, player_id: uuid.UUID, reason: str, actor: str) -> None:
    """Through the players' status path (the ledger refuses a blocked player's debits)."""
    player = await players.get_player(session, player_id)
    if player is None or player.status in (PlayerStatus.BLOCKED, PlayerStatus.CLOSED):
        return
    await players.set_status(session, player_id, PlayerStatus.BLOCKED, reason, actor)


async def scores(
    session: AsyncSession, player_ids: Sequence[uuid.UUID], days: int
) -> dict[uuid.UUID, int]:
    """Risk score 0-100: the weights of the distinct rules hit in the last ``days``."""
    return await repository.scores(session, player_ids, days)


async def signals_of(
    session: AsyncSession, player_ids: Sequence[uuid.UUID], days: int
) -> Sequence[FraudHit]:
    return await repository.hits_of(session, player_ids, days)


async def step_up_required(session: AsyncSession, player_id: str) -> bool:
    """The identity sign-in hook (registered by pms.hooks)."""
    try:
        pid = uuid.UUID(player_id)
    except ValueError:
        return False
    return await repository.step_up_flag(session, pid)


# --- cases ------------------------------------------------------------------------------


async def list_cases(
    session: AsyncSession, *, status: CaseStatus | None = None,
    player_id: uuid.UUID | None = None, assignee: str | None = None, limit: int = 50,
) -> Sequence[FraudCase]:  # fmt: skip
    return await repository.cases(
        session, status=status, player_id=player_id, assignee=assignee,
        limit=min(max(limit, 1), 200),
    )  # fmt: skip


async def case_hits(session: AsyncSession, case_id: uuid.UUID) -> Sequence[FraudHit]:
    return await repository.hits_of_case(session, case_id)


async def _open_case(session: AsyncSession, case_id: uuid.UUID) -> FraudCase:
    case = await repository.lock_case(session, case_id)
    if case is None:
        raise NotFound("no such fraud case")
    if case.status != CaseStatus.OPEN:
        raise CaseNotOpen("the case was decided already")
    return case


async def assign_case(
    session: AsyncSession, case_id: uuid.UUID, assignee: str, actor: audit.Actor
) -> FraudCase:
    assignee = assignee.strip()
    if not 1 <= len(assignee) <= 80:
        raise ValidationFailed.single("assignee", "1 to 80 characters")
    case = await _open_case(session, case_id)
    previous, case.assignee = case.assignee, assignee
    case.updated_at = datetime.now().astimezone()
    await session.flush()
    await audit.record(session, actor, "fraud.assign_case", str(case.player_id), audit.SUCCESS,
                       {"caseId": str(case.id), "from": previous, "to": assignee})  # fmt: skip
    await outbox.record(session, "fraud.case_assigned", str(case.player_id),
                        {"playerId": str(case.player_id), "caseId": str(case.id),
                         "assignee": assignee})  # fmt: skip
    return case


async def decide_case(
    session: AsyncSession, case_id: uuid.UUID, decision: Decision, note: str, actor: audit.Actor
) -> FraudCase:
    """Final: CLEAR lifts the fraud flags, RESTRICT holds withdrawals and asks for a second
    factor, BLOCK and CLOSE_ACCOUNT go through the players' status path."""
    note = note.strip()
    if not 3 <= len(note) <= NOTE_MAX:
        raise ValidationFailed.single("note", f"say why, in 3 to {NOTE_MAX} characters")
    # The player row first, then the case: the consumer's order (it opens and touches
    # cases under the player row lock). The other way round, a decision holding the case
    # and waiting for the row deadlocked with a round holding the row and touching the case.
    pid = await repository.case_player(session, case_id)
    if pid is None:
        raise NotFound("no such fraud case")
    await players.lock_player(session, pid)
    case = await _open_case(session, case_id)
    reason = f"fraud case {case.id}: {decision.value.lower()}"
    if decision is Decision.CLEAR:
        await repository.clear_flags(session, pid)
    elif decision is Decision.RESTRICT:
        await repository.set_flag(session, pid, step_up=True, hold=True)
    elif decision is Decision.BLOCK:
        await _block(session, pid, reason, actor.key)
    else:
        player = await players.get_player(session, pid)
        if player is not None and player.status != PlayerStatus.CLOSED:
            await players.set_status(session, pid, PlayerStatus.CLOSED, reason, actor.key)
    now = datetime.now().astimezone()
    case.status, case.decision, case.note = CaseStatus.DECIDED.value, decision.value, note
    case.decided_by, case.decided_at, case.updated_at = actor.key, now, now
    await session.flush()
    await audit.record(session, actor, "fraud.decide_case", str(pid), audit.SUCCESS,
                       {"caseId": str(case.id), "decision": decision.value})  # fmt: skip
    await outbox.record(session, "fraud.case_decided", str(pid),
                        {"playerId": str(pid), "caseId": str(case.id),
                         "decision": decision.value, "actor": actor.key})  # fmt: skip
    return case
