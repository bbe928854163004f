"""Alert mutations: save a rule, acknowledge and resolve an alert. # permission:
alert:manage (ADMIN, COMPLIANCE) on each; every call audited."""

from __future__ import annotations

import strawberry

from app.alerts import rules, service
from app.alerts.errors import AlertNotOpen, InvalidAlertRule
from app.core import errors
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_uuid
from schema.input_guard import FreeTextArg
from schema.inputs.alerts import AlertRuleInput
from schema.types.alerts import Alert, AlertRule

SAVE_RULE = MutationSpec("SaveAlertRuleResult", (AlertRule,), (InvalidAlertRule,))
ALERT = MutationSpec(
    "AlertResult", (Alert,), (errors.ValidationFailed, errors.NotFound, AlertNotOpen)
)


@strawberry.type
class AlertMutations:
    @strawberry.mutation(
        graphql_type=SAVE_RULE.union,
        description="Validate and save the next version of an alert rule.",
        extensions=[forbidden_result(P.ALERT_MANAGE, audit=True)],
    )
    async def save_alert_rule(self, info: Info, input: AlertRuleInput) -> object:
        rule = rules.RuleInput(
            key=input.key, kind=input.kind.value, metric=input.metric, threshold=input.threshold,
            clear_threshold=input.clear_threshold, window_seconds=input.window_seconds,
            baseline_seconds=input.baseline_seconds, currency=input.currency,
            for_evaluations=input.for_evaluations, min_samples=input.min_samples,
            enabled=input.enabled, description=input.description,
        )  # fmt: skip
        actor = info.context.principal.key
        return await run(info, SAVE_RULE, lambda s: service.save_rule(s, rule, actor),
                         AlertRule.from_model)  # fmt: skip

    @strawberry.mutation(
        graphql_type=ALERT.union,
        description="Take a firing alert on (it stays open until resolved or cleared).",
        extensions=[forbidden_result(P.ALERT_MANAGE, audit=True)],
    )
    async def acknowledge_alert(
        self, info: Info, id: strawberry.ID, note: FreeTextArg = ""
    ) -> object:
        actor = info.context.principal.key
        return await run(info, ALERT, lambda s: service.acknowledge(
            s, parse_uuid(id, "id"), actor, note
        ), Alert.from_view)  # fmt: skip

    @strawberry.mutation(
        graphql_type=ALERT.union,
        description="Close an open alert (firing or acknowledged).",
        extensions=[forbidden_result(P.ALERT_MANAGE, audit=True)],
    )
    async def resolve_alert(self, info: Info, id: strawberry.ID, note: FreeTextArg = "") -> object:
        actor = info.context.principal.key
        return await run(info, ALERT, lambda s: service.resolve(
            s, parse_uuid(id, "id"), actor, note
        ), Alert.from_view)  # fmt: skip
