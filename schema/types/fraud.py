"""Anti-fraud types: risk signals (Player.riskScore / riskSignals resolvers), rules, cases,
dry-run hits and the typed errors. Everything here needs fraud:read (COMPLIANCE, ADMIN)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from app.core.principal import PrincipalKind
from app.fraud import service
from app.fraud.errors import CaseNotOpen, InvalidFraudRule, WithdrawalsOnHold
from app.fraud.models import Decision
from app.fraud.models import FraudCase as CaseRow
from app.fraud.models import FraudHit as HitRow
from app.fraud.models import FraudRule as RuleRow
from permissions.rules import actor_of
from schema.context import Info
from schema.errors import UserError
from schema.loaders import BatchLoader
from schema.reads import audit_read


@strawberry.enum(name="FraudDecision", description="A fraud case decision (final).")
class FraudDecisionEnum(Enum):
    CLEAR = Decision.CLEAR.value
    RESTRICT = Decision.RESTRICT.value
    BLOCK = Decision.BLOCK.value
    CLOSE_ACCOUNT = Decision.CLOSE_ACCOUNT.value


@strawberry.type(description="A fraud rule was rejected (unknown signal or action, a value "
                             "out of range); nothing was saved.")  # fmt: skip
class InvalidFraudRuleError(UserError):
    field: str

    @classmethod
    def from_domain(cls, exc: InvalidFraudRule) -> InvalidFraudRuleError:
        return cls(code=exc.code, message=exc.message, field=exc.field)


@strawberry.type(description="The fraud case was decided already; nothing changed.")
class FraudCaseNotOpen(UserError):
    @classmethod
    def from_domain(cls, exc: CaseNotOpen) -> FraudCaseNotOpen:
        return cls(code=exc.code, message=exc.message)


@strawberry.type(description="Withdrawals of this player are held for a fraud review.")
class WithdrawalsHeld(UserError):
    @classmethod
    def from_domain(cls, exc: WithdrawalsOnHold) -> WithdrawalsHeld:
        return cls(code=exc.code, message=exc.message)


@strawberry.type(description="A rule that fired for a player, with its evidence.")
class RiskSignal:
    rule: str
    signal: str
    value: float
    weight: int
    action: str
    evidence: JSON
    case_id: strawberry.ID | None
    hit_at: datetime

    @classmethod
    def from_model(cls, row: HitRow) -> RiskSignal:
        return cls(
            rule=row.rule_key, signal=row.signal, value=row.value, weight=row.weight,
            action=row.action, evidence=cast(JSON, row.evidence),
            case_id=strawberry.ID(str(row.case_id)) if row.case_id else None, hit_at=row.hit_at,
        )  # fmt: skip


@strawberry.type(description="One version of a fraud rule.")
class FraudRule:
    id: strawberry.ID
    key: str
    version: int
    signal: str
    threshold: float
    weight: int
    action: str
    enabled: bool
    description: str
    created_by: str
    created_at: datetime | None

    @classmethod
    def from_model(cls, row: RuleRow) -> FraudRule:
        return cls(
            id=strawberry.ID(str(row.id)), key=row.key, version=row.version, signal=row.signal,
            threshold=row.threshold, weight=row.weight, action=row.action, enabled=row.enabled,
            description=row.description, created_by=row.created_by, created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="A player a rule would have hit in a dry run.")
class DryRunHit:
    player_id: strawberry.ID
    value: float = strawberry.field(description="The strongest observation in the period")
    observations: int


@strawberry.type(description="A fraud case of one player: the hits that opened or joined it.")
class FraudCase:
    id: strawberry.ID
    player_id: strawberry.ID
    status: str
    assignee: str | None
    decision: str | None
    note: str | None
    decided_by: str | None
    opened_at: datetime | None
    updated_at: datetime | None
    decided_at: datetime | None

    @strawberry.field(description="The rule hits of this case, oldest first.")
    async def hits(self, info: Info) -> list[RiskSignal]:
        rows = await info.context.loaders.get(HitsByCase).load(uuid.UUID(str(self.id)))
        return [RiskSignal.from_model(r) for r in rows]

    @classmethod
    def from_model(cls, row: CaseRow) -> FraudCase:
        return cls(
            id=strawberry.ID(str(row.id)), player_id=strawberry.ID(str(row.player_id)),
            status=row.status, assignee=row.assignee, decision=row.decision, note=row.note,
            decided_by=row.decided_by, opened_at=row.opened_at, updated_at=row.updated_at,
            decided_at=row.decided_at,
        )  # fmt: skip


# --- loaders (one statement per list of players) -----------------------------------------


class HitsByCase(BatchLoader[uuid.UUID, list[HitRow]]):
    async def fetch(self, session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[list[HitRow]]:
        return [list(await service.case_hits(session, k)) for k in keys]


# Keys are (player id, score window in days): the window is the request's setting.
ScoreKey = tuple[uuid.UUID, int]


class RiskScoreByPlayer(BatchLoader[ScoreKey, int]):
    async def fetch(self, session: AsyncSession, keys: Sequence[ScoreKey]) -> list[int]:
        found: dict[ScoreKey, int] = {}
        for days in {d for _, d in keys}:
            ids = [p for p, d in keys if d == days]
            found.update(
                {(p, days): s for p, s in (await service.scores(session, ids, days)).items()}
            )
        return [found.get(k, 0) for k in keys]


class RiskSignalsByPlayer(BatchLoader[ScoreKey, list[HitRow]]):
    async def fetch(self, session: AsyncSession, keys: Sequence[ScoreKey]) -> list[list[HitRow]]:
        grouped: dict[ScoreKey, list[HitRow]] = {k: [] for k in keys}
        for days in {d for _, d in keys}:
            ids = [p for p, d in keys if d == days]
            for row in await service.signals_of(session, ids, days):
                grouped[(row.player_id, days)].append(row)
        return [grouped[k] for k in keys]


def _key(root: Any, info: Info) -> ScoreKey:
    return uuid.UUID(str(root.id)), info.context.settings.fraud_score_window_days


def _audit_read(info: Info, root: Any) -> Awaitable[None] | None:
    """A staff read of a risk field is a sensitive read, audited like ``player.read``
    (whichever path asked: root field, nested, ``_entities``). Registered before the
    field's first await, so every risk field of a page lands in one audit batch."""
    if info.context.principal.kind is not PrincipalKind.STAFF:
        return None
    return audit_read(info.context.loaders, actor_of(info), "fraud.risk_read", str(root.id),
                      {"field": info.field_name})  # fmt: skip


async def risk_score(root: Any, info: Info) -> int | None:
    """permission: fraud:read. 0-100: the weights of the rules hit in the score window."""
    audited = _audit_read(info, root)
    score = await info.context.loaders.get(RiskScoreByPlayer).load(_key(root, info))
    if audited is not None:
        await audited
    return score


async def risk_signals(root: Any, info: Info) -> list[RiskSignal]:
    """permission: fraud:read. The rules hit in the score window, newest first."""
    audited = _audit_read(info, root)
    rows = await info.context.loaders.get(RiskSignalsByPlayer).load(_key(root, info))
    if audited is not None:
        await audited
    return [RiskSignal.from_model(r) for r in rows]
