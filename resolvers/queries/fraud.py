"""Fraud rules, cases and dry runs. # permission: fraud:read (COMPLIANCE, ADMIN) on each."""

from __future__ import annotations

import strawberry

from app.fraud import service
from app.fraud.errors import InvalidFraudRule
from app.fraud.models import CaseStatus
from permissions.roles import Permission as P
from permissions.rules import nullable
from schema.context import Info
from schema.ids import try_uuid
from schema.inputs.fraud import FraudCaseFilter
from schema.types.fraud import DryRunHit, FraudCase, FraudRule


def _status(raw: str | None) -> CaseStatus | None:
    return CaseStatus(raw) if raw is not None and raw in CaseStatus._value2member_map_ else None


@strawberry.type
class FraudQueries:
    @strawberry.field(
        description="Fraud rules: the latest version of each, or every version.",
        extensions=[nullable(P.FRAUD_READ)],
    )
    async def fraud_rules(self, info: Info, all_versions: bool = False) -> list[FraudRule]:
        async with info.context.db.read_session() as session:
            rows = await service.list_rules(session, all_versions=all_versions)
        return [FraudRule.from_model(r) for r in rows]

    @strawberry.field(
        description="Fraud cases, most recently updated first (at most 200).",
        extensions=[nullable(P.FRAUD_READ)],
    )
    async def fraud_cases(
        self, info: Info, filter: FraudCaseFilter | None = None, first: int = 50
    ) -> list[FraudCase]:
        flt = filter or FraudCaseFilter()
        player = try_uuid(flt.player_id) if flt.player_id else None
        if (flt.player_id and player is None) or (flt.status and _status(flt.status) is None):
            return []  # an impossible filter matches nothing
        async with info.context.db.read_session() as session:
            rows = await service.list_cases(
                session, status=_status(flt.status), player_id=player, assignee=flt.assignee,
                limit=first,
            )  # fmt: skip
        return [FraudCase.from_model(r) for r in rows]

    @strawberry.field(
        description="Who a rule on this signal and threshold would have hit over the last "
        "`days` days of observations (nothing is written). Null for an unknown signal.",
        extensions=[nullable(P.FRAUD_READ)],
    )
    async def fraud_rule_dry_run(
        self, info: Info, signal: str, threshold: float, days: int = 30
    ) -> list[DryRunHit] | None:
        try:
            async with info.context.db.read_session() as session:
                hits = await service.dry_run(session, signal, threshold, days)
        except InvalidFraudRule:
            return None
        return [DryRunHit(player_id=strawberry.ID(str(h.player_id)), value=h.value,
                          observations=h.observations) for h in hits]  # fmt: skip
