"""At most one password-hashing mutation per GraphQL document (issue 10 item 11): each one
costs an argon2id hash (tens of ms of CPU and 64 MiB), so fifteen aliased
``registerPlayer``/``login`` fields made one anonymous request cost fifteen. A validation
rule, so the document is refused before anything runs (no hash at all) and the answer is
cached with the document; over WebSocket it applies per operation alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
)

CODE = "TOO_MANY_PASSWORD_OPERATIONS"
# Root mutation fields that compute or verify an argon2 hash.
PASSWORD_FIELDS = frozenset(
    {"registerPlayer", "login", "staffLogin", "createStaff", "createServiceClient"}
)


class OnePasswordOperationPerDocument(ASTValidationRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation != OperationType.MUTATION:
            return
        hashing = [f for f in self._root_fields(node.selection_set, set())
                   if f.name.value in PASSWORD_FIELDS]  # fmt: skip
        if len(hashing) > 1:
            names = ", ".join(sorted(PASSWORD_FIELDS))
            self.report_error(
                GraphQLError(
                    f"at most one password operation ({names}) per request",
                    hashing[1:],
                    extensions={"code": CODE},
                )
            )

    def _root_fields(self, selection_set: SelectionSetNode, seen: set[str]) -> Iterator[FieldNode]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._root_fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = self.context.get_fragment(selection.name.value)
                if fragment is not None:
                    yield from self._root_fields(fragment.selection_set, seen)
