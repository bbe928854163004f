"""A GraphQL operation that met an unavailable dependency (PostgreSQL down, Redis down)
answers a typed ``SERVICE_UNAVAILABLE`` error instead of a masked "Unexpected error.", and
marks the HTTP request so the edge answers 503 with Retry-After (app/core/http_guard.py).
Installed after MaskErrors: extensions exit in reverse order, so this one sees the
errors before they are masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.core.logging import request_id_var
from app.core.outage import UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, is_unavailable, mark_unavailable

log = logging.getLogger(__name__)


def _typed(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        UNAVAILABLE_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": UNAVAILABLE_CODE, "requestId": request_id_var.get()},
    )


class DependencyOutage(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        if not any(is_unavailable(e.original_error) for e in errors):
            return
        first = next(e.original_error for e in errors if is_unavailable(e.original_error))
        log.warning("GraphQL operation met an unavailable dependency: %r", first)
        mark_unavailable()
        result.errors = [  # type: ignore[union-attr]
            _typed(e) if is_unavailable(e.original_error) else e for e in errors
        ]
