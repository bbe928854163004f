"""The composition of the ONE GraphQL schema of PMS: the root Query, Mutation and
Subscription types (one class per domain, merged) and ``build_schema``, an Apollo
Federation v2 subgraph with the parse and validation caches and the security limits
installed as validation rules. The only module that knows every resolver package."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, Info

from app.core.settings import Settings
from app.observability import tracing
from app.observability.graphql import OperationMetrics
from resolvers.mutations.alerts import AlertMutations
from resolvers.mutations.bonus import BonusMutations
from resolvers.mutations.consents import ConsentMutations
from resolvers.mutations.exports import ExportMutations
from resolvers.mutations.fraud import FraudMutations
from resolvers.mutations.gdpr import GdprMutations
from resolvers.mutations.identity import IdentityMutations
from resolvers.mutations.kyc import KycMutations
from resolvers.mutations.ledger import LedgerMutations
from resolvers.mutations.ledger_batch import WalletBatchMutations
from resolvers.mutations.players import PlayerMutations
from resolvers.mutations.regulator import RegulatorMutations
from resolvers.mutations.responsible import ResponsibleMutations
from resolvers.mutations.segments import SegmentMutations
from resolvers.mutations.webhooks import WebhookMutations
from resolvers.queries.alerts import AlertQueries
from resolvers.queries.analytics import AnalyticsQueries
from resolvers.queries.audit import AuditQueries
from resolvers.queries.bonus import BonusQueries
from resolvers.queries.consents import ConsentQueries
from resolvers.queries.exports import ExportQueries
from resolvers.queries.fraud import FraudQueries
from resolvers.queries.identity import IdentityQueries
from resolvers.queries.ledger import LedgerQueries
from resolvers.queries.players import PlayerQueries
from resolvers.queries.preview import PreviewQueries
from resolvers.queries.segments import SegmentQueries
from resolvers.queries.webhooks import WebhookQueries
from resolvers.subscriptions.alerts import AlertSubscriptions
from resolvers.subscriptions.players import PlayerSubscriptions
from resolvers.subscriptions.responsible import ResponsibleSubscriptions
from schema import field_plans, input_conversion, input_guard, variable_coercion
from schema.documents import document_checks
from schema.entities import guarded_entities
from schema.errors import MaskUnexpected, is_unexpected
from schema.extension_runner import PlannedRunner
from schema.outage import DependencyOutage
from schema.password_work import OnePasswordOperationPerDocument
from schema.query_cost import cost_rule
from schema.read_routing import ReadRouting
from schema.security import max_directives_rule

log = logging.getLogger("pms.graphql")

Query = merge_types(
    "Query",
    (PlayerQueries, IdentityQueries, LedgerQueries, BonusQueries, SegmentQueries,
     WebhookQueries, FraudQueries, AuditQueries, AnalyticsQueries, AlertQueries, ExportQueries,
     PreviewQueries, ConsentQueries),
)  # fmt: skip
Mutation = merge_types(
    "Mutation",
    (PlayerMutations, IdentityMutations, LedgerMutations, WalletBatchMutations, BonusMutations,
     KycMutations, SegmentMutations, WebhookMutations, ResponsibleMutations, FraudMutations,
     GdprMutations, RegulatorMutations, AlertMutations, ExportMutations, ConsentMutations),
)  # fmt: skip
Subscription = merge_types(
    "Subscription", (PlayerSubscriptions, ResponsibleSubscriptions, AlertSubscriptions)
)


class PMSSchema(strawberry.federation.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Strawberry logs every error at ERROR level. Unexpected ones are logged (with the
        request id and the trace) where they are masked, schema/errors.py; what is left is the
        client's doing (a refused field, a bad argument, a validation error): INFO."""
        for error in errors:
            if not is_unexpected(error):
                log.info("graphql error for the client: %s", error.message)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> PlannedRunner:
        """The extensions' hooks planned once per class (schema/extension_runner.py)."""
        return PlannedRunner(execution_context, extensions)

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """``_entities`` through the entity rules and the representation limit."""
        resolve = super().entities_resolver
        return guarded_entities(info, representations, lambda reps: resolve(info, reps))


def build_schema(settings: Settings) -> strawberry.federation.Schema:
    # The limiters create their rule classes in __init__: built once here, so the rules
    # are the same objects on every request and the validation cache hits.
    rules = [
        max_directives_rule(settings.max_directives_per_location),
        OnePasswordOperationPerDocument,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        cost_rule(settings),
    ]
    # Outside dev: no introspection, no "Did you mean" hints, the SDL for services and
    # staff only. DisableValidation is never installed (tests/e2e/test_hardening.py).
    checks = document_checks(
        rules,
        max_tokens=settings.max_tokens,
        cache_size=settings.document_cache_size,
        exposed=settings.is_dev,
    )
    schema = PMSSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        federation_version="2.7",
        extensions=[
            OperationMetrics,  # first: it times and sees the outcome of everything below
            *tracing.graphql_extensions(),
            checks,
            MaskUnexpected,
            DependencyOutage,  # after MaskUnexpected: it must see the errors unmasked
            ReadRouting,  # a query's reads may go to a replica (app/core/replicas.py)
        ],
    )
    field_plans.install(schema)  # before the guard: it wraps the planned resolvers
    input_guard.install(schema)  # every string argument and input field, one check
    input_conversion.install(schema)
    variable_coercion.install(schema)  # variables of input types coerced by a plan
    return schema
