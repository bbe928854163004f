"""GraphQL operation metrics: a Strawberry schema extension counting and timing every
operation by name (bounded, see ``metrics.bounded_label``), type and outcome. ``error``
means the response carries GraphQL errors (refused, invalid, masked); a typed business
error in a result union is an answer, ``ok`` here, and counted by ``pms_mutation_results``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import OperationType
from strawberry.extensions import SchemaExtension

from app.core import metrics


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        name = metrics.bounded_label(ctx.operation_name)
        try:
            kind = ctx.operation_type.value
        except Exception:  # an unparsable document has no operation type
            kind = "invalid"
        result = ctx.result
        failed = bool(ctx.pre_execution_errors) or bool(result is not None and result.errors)
        metrics.child(metrics.GRAPHQL_OPERATIONS, name, kind, "error" if failed else "ok").inc()
        if kind != OperationType.SUBSCRIPTION.value:  # a subscription's "latency" is its life
            metrics.child(metrics.GRAPHQL_LATENCY, name, kind).observe(
                time.perf_counter() - started
            )
