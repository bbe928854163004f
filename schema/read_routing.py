"""Which database a GraphQL operation reads: a query may read a streaming replica
(app/core/replicas.py); a mutation reads and writes the primary and leaves the caller's
read-your-writes mark, so its next queries read the primary too. Subscriptions stay on
the primary: they answer events the primary just committed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.core.db import reads_from
from app.core.outage import is_unavailable
from app.core.principal import PrincipalKind
from schema.context import Context


def _caller(ctx: Context) -> str | None:
    """Whose writes a read must see; anonymous callers share no identity."""
    principal = ctx.principal
    return None if principal.kind is PrincipalKind.ANONYMOUS else principal.key


class ReadRouting(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        router = getattr(ctx, "reads", None)
        if router is None:
            yield
            return
        kind = self.execution_context.operation_type
        if kind is OperationType.MUTATION:
            try:
                yield
            finally:  # also after an error: part of it may have committed
                await router.wrote(_caller(ctx))
        elif kind is OperationType.QUERY:
            replica = await router.target(_caller(ctx))
            with reads_from(replica):
                yield
            if replica is not None and self._met_outage():
                router.replicas.mark_down(replica)
        else:
            yield

    def _met_outage(self) -> bool:
        errors = getattr(self.execution_context.result, "errors", None) or []
        return any(is_unavailable(e.original_error) for e in errors)
