"""GraphQL hardening beyond the built-in limiters (OWASP GraphQL cheat sheet, graphql-cop):
a directive-repetition limit, introspection and "Did you mean" suggestions off outside dev."""

from __future__ import annotations

import re
from collections.abc import Iterator
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
from strawberry.extensions import SchemaExtension

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


class HideSuggestions(SchemaExtension):
    """Removes "Did you mean ...?" from every error message: it leaks schema names even
    with introspection off (graphql-cop "field suggestions")."""

    def _scrub(self, errors: list[GraphQLError] | None) -> None:
        for error in errors or []:
            error.message = strip_suggestions(error.message)

    def on_validate(self) -> Iterator[None]:
        yield
        self._scrub(self.execution_context.pre_execution_errors)

    def on_operation(self) -> Iterator[None]:
        yield
        self._scrub(self.execution_context.pre_execution_errors)
        result = self.execution_context.result
        if result is not None:
            self._scrub(result.errors)


class FederationSdlAccess(SchemaExtension):
    """Outside dev, ``_service { sdl }`` — the whole schema — answers only service clients
    (the federation gateway) and staff: introspection is off, and the SDL would otherwise
    bring it back for anyone. Setting the result before execution skips the resolvers."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        principal = getattr(ctx.context, "principal", None)
        if _selects_root_field(ctx.graphql_document, "_service") and not _may_read_sdl(principal):
            error = GraphQLError("Forbidden", extensions={"code": "FORBIDDEN"})
            ctx.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


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
