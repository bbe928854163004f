"""Fraud rules and cases. # permission: fraud:manage (COMPLIANCE, ADMIN) on each."""

from __future__ import annotations

import strawberry

from app.core import errors
from app.fraud import service
from app.fraud.errors import CaseNotOpen, InvalidFraudRule
from app.fraud.models import Decision
from app.identity.sessions import end_account_sessions
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_uuid
from schema.input_guard import FreeTextArg
from schema.inputs.fraud import FraudRuleInput
from schema.types.fraud import FraudCase, FraudDecisionEnum, FraudRule

ENDS_SESSIONS = frozenset({Decision.BLOCK, Decision.CLOSE_ACCOUNT})
SAVE_RULE = MutationSpec("SaveFraudRuleResult", (FraudRule,), (InvalidFraudRule,))
CASE = MutationSpec(
    "FraudCaseResult", (FraudCase,), (errors.ValidationFailed, errors.NotFound, CaseNotOpen)
)


@strawberry.type
class FraudMutations:
    @strawberry.mutation(
        graphql_type=SAVE_RULE.union,
        description="Validate and save the next version of a fraud rule.",
        extensions=[forbidden_result(P.FRAUD_MANAGE, audit=True)],
    )
    async def save_fraud_rule(self, info: Info, input: FraudRuleInput) -> object:
        rule = service.RuleInput(
            key=input.key, signal=input.signal, threshold=input.threshold, weight=input.weight,
            action=input.action, enabled=input.enabled, description=input.description,
        )  # fmt: skip
        actor = info.context.principal.key
        return await run(info, SAVE_RULE, lambda s: service.save_rule(s, rule, actor),
                         FraudRule.from_model)  # fmt: skip

    @strawberry.mutation(
        graphql_type=CASE.union,
        description="Give an open fraud case to a staff member (their principal key).",
        extensions=[forbidden_result(P.FRAUD_MANAGE, audit=True)],
    )
    async def assign_fraud_case(self, info: Info, case_id: strawberry.ID, assignee: str) -> object:
        actor = actor_of(info)
        return await run(info, CASE, lambda s: service.assign_case(
            s, parse_uuid(case_id, "caseId"), assignee, actor
        ), FraudCase.from_model)  # fmt: skip

    @strawberry.mutation(
        graphql_type=CASE.union,
        description="Decide an open fraud case (final): CLEAR, RESTRICT, BLOCK or CLOSE_ACCOUNT.",
        extensions=[forbidden_result(P.FRAUD_MANAGE, audit=True)],
    )
    async def decide_fraud_case(
        self,
        info: Info,
        case_id: strawberry.ID,
        decision: FraudDecisionEnum,
        note: FreeTextArg,
    ) -> object:
        actor = actor_of(info)
        chosen = Decision(decision.value)
        result = await run(info, CASE, lambda s: service.decide_case(
            s, parse_uuid(case_id, "caseId"), chosen, note, actor
        ), FraudCase.from_model)  # fmt: skip
        if isinstance(result, FraudCase) and chosen in ENDS_SESSIONS and info.context.identity:
            # Blocked or closed: every session of the player ends, as for a staff block.
            await end_account_sessions(info.context.identity, f"player:{result.player_id}",
                                       f"fraud case decision {chosen.value}")  # fmt: skip
        return result
