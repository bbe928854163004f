"""Static query cost: how many objects a document may ask for, computed before execution.

Every object field counts as many nodes as its list sizes multiplied down the selection
(aliases each count: fifteen aliases of one field cost fifteen times). A list's size is
its ``first``/``last``/``limit`` argument (a literal, a variable's default, or the page
size cap when the variable has none), else the argument's schema default, else
``default_list_size``. Scalars are free; introspection (``__schema``...) is not counted,
it is bounded by the schema and off outside dev. Installed as a validation rule, so it
holds for HTTP and WebSocket alike and a cached validation keeps it.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)

SIZE_ARGUMENTS = ("first", "last", "limit")
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"


def max_cost_rule(max_cost: int, default_list_size: int, max_page_size: int) -> type[Any]:
    """A validation rule refusing operations that may return more than ``max_cost`` nodes."""

    class MaxQueryCost(ASTValidationRule):
        context: ValidationContext

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            schema = self.context.schema
            root = {
                OperationType.QUERY: schema.query_type,
                OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type,
            }[node.operation]
            if root is None:
                return
            walker = _CostWalker(self.context, node, default_list_size, max_page_size)
            cost = walker.cost(node.selection_set, root, 1, frozenset(), limit=max_cost)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"the query may return more than {max_cost} objects "
                        f"(its cost is at least {cost}); ask for smaller pages",
                        node,
                        extensions={"code": QUERY_TOO_COSTLY, "maxCost": max_cost},
                    )
                )

    return MaxQueryCost


class _CostWalker:
    def __init__(
        self,
        context: ValidationContext,
        operation: OperationDefinitionNode,
        default_list_size: int,
        max_page_size: int,
    ) -> None:
        self.fragments = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.schema = context.schema
        self.variable_defaults: dict[str, Any] = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or ()
        }
        self.default_list_size = default_list_size
        self.max_page_size = max_page_size

    def cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        multiplier: int,
        seen: frozenset[str],
        *,
        limit: int,
        sized_parent: bool = False,
    ) -> int:
        """Nodes under ``selection_set``; stops adding once past ``limit`` (cheap refusal)."""
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if total > limit:
                break
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, multiplier, seen, limit, sized_parent)
            elif isinstance(selection, InlineFragmentNode):
                target = self._type_condition(selection.type_condition, parent)
                total += self.cost(
                    selection.selection_set, target, multiplier, seen,
                    limit=limit, sized_parent=sized_parent,
                )  # fmt: skip
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # cycles are another rule's error
                    continue
                target = self._type_condition(fragment.type_condition, parent)
                total += self.cost(
                    fragment.selection_set, target, multiplier, seen | {name},
                    limit=limit, sized_parent=sized_parent,
                )  # fmt: skip
        return total

    def _field_cost(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        multiplier: int,
        seen: frozenset[str],
        limit: int,
        sized_parent: bool,
    ) -> int:
        if node.name.value.startswith("__"):
            return 0
        field = _field_of(parent, node.name.value)
        if field is None:
            return 0  # unknown field: FieldsOnCorrectTypeRule reports it
        named = get_named_type(field.type)
        if not is_composite_type(named):
            return 0
        size, sized = self._list_size(node, field, sized_parent)
        count = multiplier * size
        return count + self.cost(
            node.selection_set, named, count, seen, limit=limit, sized_parent=sized
        )

    def _list_size(
        self, node: FieldNode, field: GraphQLField, sized_parent: bool
    ) -> tuple[int, bool]:
        """(items this field returns per parent, whether it is a sized page object)."""
        is_list = isinstance(get_nullable_type(field.type), GraphQLList)
        for name in SIZE_ARGUMENTS:
            if name not in field.args:
                continue
            given = next((a for a in node.arguments or () if a.name.value == name), None)
            size = self._argument_value(given, field.args[name].default_value)
            return size, not is_list
        if not is_list:
            return 1, False
        # ``edges``/``nodes`` of a page: its size was counted on the paginated field.
        return (1 if sized_parent else self.default_list_size), False

    def _argument_value(self, given: Any, schema_default: Any) -> int:
        value = given.value if given is not None else None
        if isinstance(value, VariableNode):
            default = self.variable_defaults.get(value.name.value)
            value = default if default is not None else None
            if value is None:
                return self.max_page_size
        if isinstance(value, IntValueNode):
            return max(1, int(value.value))
        if value is None and isinstance(schema_default, int):
            return max(1, schema_default)
        return self.default_list_size

    def _type_condition(self, condition: Any, parent: GraphQLNamedType) -> GraphQLNamedType:
        if condition is None:
            return parent
        found = self.schema.get_type(condition.name.value)
        return found if found is not None else parent


def _field_of(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    fields = getattr(parent, "fields", None)
    if isinstance(parent, GraphQLObjectType) or fields is not None:
        return (fields or {}).get(name)
    return None


_RULES: dict[tuple[int, int, int], type[Any]] = {}


def cost_rule(settings: Any) -> type[Any]:
    """The rule for these settings, one class per limit (ValidationCache keys on rules)."""
    key = (settings.max_query_cost, settings.query_cost_default_list_size, settings.max_page_size)
    if key not in _RULES:
        _RULES[key] = max_cost_rule(*key)
    return _RULES[key]
