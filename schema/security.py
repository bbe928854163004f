"""GraphQL hardening beyond the built-in limiters (OWASP GraphQL cheat sheet, graphql-cop):
a directive-repetition limit, no "Did you mean" suggestions and the SDL for services and
staff only outside dev (applied by schema/documents.py with introspection off)."""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationContext,
)
from graphql import ExecutionResult as GraphQLExecutionResult

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def max_directives_rule(limit: int) -> type[ASTValidationRule]:
    """Refuses more than ``limit`` directives on one location (``@a@a@a...`` overloading)."""

    class MaxDirectivesPerLocation(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)

        def enter(self, node: Any, *args: Any) -> None:
            directives = getattr(node, "directives", None)
            if directives and len(directives) > limit:
                self.report_error(
                    GraphQLError(f"more than {limit} directives on one location", directives[0])
                )

    return MaxDirectivesPerLocation


def strip_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


def refuse_sdl(ctx: Any) -> None:
    """Outside dev, ``_service { sdl }`` — the whole schema — answers only service clients
    (the federation gateway) and staff: introspection is off, and the SDL would otherwise
    bring it back for anyone. Setting the result before execution skips the resolvers."""
    principal = getattr(ctx.context, "principal", None)
    if _selects_root_field(ctx.graphql_document, "_service") and not _may_read_sdl(principal):
        error = GraphQLError("Forbidden", extensions={"code": "FORBIDDEN"})
        ctx.result = GraphQLExecutionResult(data=None, errors=[error])


def _may_read_sdl(principal: Any) -> bool:
    from app.core.principal import PrincipalKind

    kinds = {PrincipalKind.SERVICE, PrincipalKind.STAFF, PrincipalKind.SYSTEM}
    return principal is not None and principal.kind in kinds


def _selects_root_field(document: DocumentNode | None, name: str) -> bool:
    if document is None:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def selects(selection_set: Any, seen: frozenset[str]) -> bool:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value == name:
                return True
            if isinstance(selection, InlineFragmentNode) and selects(selection.selection_set, seen):
                return True
            if isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if (
                    fragment
                    and fragment.name.value not in seen
                    and selects(fragment.selection_set, seen | {fragment.name.value})
                ):
                    return True
        return False

    return any(
        selects(d.selection_set, frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )
