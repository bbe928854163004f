"""Every document's checks as ONE schema extension: the token limit, every validation rule
(depth, aliases, cost, directives, one password operation, introspection off outside
dev) and the parse and validation caches, plus the outside-dev exposure rules (no "Did you
mean" hints, ``_service { sdl }`` for services and staff only).

One extension instead of thirteen: Strawberry builds every extension per request and walks
each of them for every hook, which cost more CPU than the checks themselves (bench/README.md,
"Issue 16 item 3 / issue 10"). The rules are one tuple built once, so a cached validation is
keyed by the same rules on every request and still holds every limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.security import refuse_sdl, strip_suggestions

Rules = tuple[type[ASTValidationRule], ...]


def _scrub(errors: Sequence[GraphQLError] | None) -> None:
    for error in errors or ():
        error.message = strip_suggestions(error.message)


def document_checks(
    rules: Sequence[type[ASTValidationRule]], *, max_tokens: int, cache_size: int, exposed: bool
) -> type[SchemaExtension]:
    """The extension class for one schema. ``exposed`` (dev): introspection, suggestions
    and the SDL stay open to everyone."""
    all_rules: Rules = (
        *specified_rules,
        *rules,
        *(() if exposed else (NoSchemaIntrospectionCustomRule,)),
    )

    @lru_cache(maxsize=cache_size)
    def parsed(query: str) -> DocumentNode:
        return parse(query, max_tokens=max_tokens)

    @lru_cache(maxsize=cache_size)
    def validated(schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        errors = validate_document(schema, document, all_rules)
        if not exposed:
            _scrub(errors)  # once, before the errors are cached
        return errors

    @lru_cache(maxsize=cache_size)
    def checked(schema: GraphQLSchema, query: str) -> tuple[DocumentNode, list[GraphQLError]]:
        # Keyed by the query string, whose hash Python keeps: the key of ``validated``
        # is the document, and hashing a graphql-core AST walks every node per request.
        document = parsed(query)
        return document, validated(schema, document)

    class DocumentChecks(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            self.execution_context.validation_rules = all_rules
            yield
            if not exposed:
                result = self.execution_context.result
                _scrub(self.execution_context.pre_execution_errors)
                _scrub(result.errors if result is not None else None)

        def on_parse(self) -> Iterator[None]:
            ctx = self.execution_context
            if ctx.graphql_document is None and ctx.query:
                ctx.graphql_document = parsed(ctx.query)
            yield

        def on_validate(self) -> Iterator[None]:
            ctx = self.execution_context
            document = ctx.graphql_document
            assert document is not None
            schema = ctx.schema._schema
            if ctx.query:
                known, errors = checked(schema, ctx.query)
                if known is document:  # the document parsed from this very string
                    ctx.pre_execution_errors = errors
                    yield
                    return
            ctx.pre_execution_errors = validated(schema, document)
            yield

        def on_execute(self) -> Iterator[None]:
            if not exposed:
                refuse_sdl(self.execution_context)
            yield

    return DocumentChecks
