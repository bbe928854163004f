"""GraphQL hardening beyond the built-in limiters (OWASP GraphQL cheat sheet, graphql-cop):
a directive-repetition limit, introspection and "Did you mean" suggestions off outside dev."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import ASTValidationRule, GraphQLError, ValidationContext
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
