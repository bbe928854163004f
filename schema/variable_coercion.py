"""Variable coercion planned once per input type instead of per value.

graphql-core coerces every variable value by walking its type on every request: for each
input object it asks ``is_non_null_type`` / ``is_list_type`` / ``is_input_object_type``
again, looks each field up, checks ``is_required_input_field`` and its default; and before
that it walks the value a second time to check its nesting depth. A ``walletBatch`` of 100
operations spends 15 coercion calls per item there (bench/README.md "batch4").

``install`` plans, for every input object type of the schema whose type graph is acyclic,
the same steps as closures made once per (wrapping, type), and routes graphql-core's
variable coercion (``graphql.execution.values``) through them for those types only:

* the result is the same: every step is graphql-core's ``coerce_input_value`` with its
  branches resolved at plan time (leaf values through the scalar's or enum's own
  ``coerce_input_value``, defaults through ``coerce_default_value``, the type's
  ``out_type``, @oneOf's checks); ``Undefined`` where it answers ``Undefined``;
* errors are graphql-core's own: an invalid value coerces to ``Undefined``, and graphql-core
  then runs its ``validate_input_value`` for the messages, exactly as before;
* the nesting check is answered at plan time: a value of an acyclic type nests no deeper
  than the type (the check follows the type only), so a type (with the variable's list
  wrappers) no deeper than ``MAX_NESTING_DEPTH`` never fails it; deeper ones keep it.

Other types (recursive ones, bare scalars) keep graphql-core's path. tests/unit/schema/
test_variable_coercion.py compares both paths on random valid and invalid values of every
planned type of the built schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

import graphql.execution.values as gql_values
import strawberry
from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    Undefined,
    is_required_input_field,
)
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.type.scalars import coerce_id, coerce_string
from graphql.utilities.coerce_input_value import coerce_default_value

Coerce = Callable[[Any], Any]
Shape = tuple[str, ...]  # the wrappers from the outside in: "!" non-null, "[]" list

_generic_coerce = gql_values.coerce_input_value  # type: ignore[attr-defined]
_generic_too_deep = gql_values.input_is_nested_too_deeply
# Input object types planned (acyclic) with their values' deepest nesting, from every
# installed schema.
_planned: WeakKeyDictionary[GraphQLInputObjectType, int] = WeakKeyDictionary()
_plans: WeakKeyDictionary[GraphQLNamedType, dict[Shape, Coerce]] = WeakKeyDictionary()


def _unwrap(type_: GraphQLInputType) -> tuple[Shape, Any]:
    shape: list[str] = []
    while True:
        if isinstance(type_, GraphQLNonNull):
            shape.append("!")
        elif isinstance(type_, GraphQLList):
            shape.append("[]")
        else:
            return tuple(shape), type_
        type_ = type_.of_type


def plan_for(type_: GraphQLInputType) -> Coerce | None:
    """The planned coercion of ``type_``, or None where graphql-core's path stays."""
    shape, named = _unwrap(type_)
    depth = _planned.get(named)
    if depth is None or shape.count("[]") + depth > MAX_NESTING_DEPTH:
        return None
    by_shape = _plans.setdefault(named, {})
    plan = by_shape.get(shape)
    if plan is None:
        plan = by_shape[shape] = _wrapped(shape, _object(named))
    return plan


def coerce_input_value(input_value: Any, type_: GraphQLInputType) -> Any:
    plan = plan_for(type_)
    return _generic_coerce(input_value, type_) if plan is None else plan(input_value)


def input_is_nested_too_deeply(value: Any, type_: GraphQLInputType) -> bool:
    return False if plan_for(type_) is not None else _generic_too_deep(value, type_)


def _wrapped(shape: Shape, inner: Coerce) -> Coerce:
    plan = inner
    for wrapper in reversed(shape):
        plan = _non_null(plan) if wrapper == "!" else _list(plan)
    return plan


def _non_null(inner: Coerce) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return Undefined
        return inner(value)

    return coerce


def _list(item: Coerce) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not is_iterable(value):  # a non-list value is a list of one
            one = item(value)
            return Undefined if one is Undefined else [one]
        items = []
        for element in value:
            coerced = item(element)
            if coerced is Undefined:
                return Undefined
            items.append(coerced)
        return items

    return coerce


def _leaf(type_: Any) -> Coerce:
    leaf = type_.coerce_input_value

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        try:
            return leaf(value)
        except Exception:  # graphql-core's own rule: invalid, no value
            return Undefined

    return coerce


def _field_plan(type_: GraphQLInputType) -> Coerce:
    shape, named = _unwrap(type_)
    if isinstance(named, GraphQLInputObjectType):
        inner = _plans.setdefault(named, {}).get(())
        if inner is None:
            inner = _plans[named][()] = _object(named)
    else:
        inner = _leaf(named)
    return _wrapped(shape, inner)


def _text_field(type_: GraphQLInputType) -> bool:
    """A String or ID field (optional or not): graphql-core's own scalars."""
    shape, named = _unwrap(type_)
    leaf = getattr(named, "coerce_input_value", None)
    return shape in ((), ("!",)) and leaf in (coerce_string, coerce_id)


_NO_DEFAULT = object()


def _default(field: Any) -> Any:
    """What a missing optional field becomes: a constant where graphql-core's
    ``coerce_default_value`` answers one without work, else the call itself."""
    if field.default is None:
        return Undefined if field.default_value is Undefined else field.default_value
    return _NO_DEFAULT


def _object(type_: GraphQLInputObjectType) -> Coerce:
    fields = type_.fields
    custom_out = "out_type" in vars(type_)
    out_type = type_.out_type
    one_of = type_.is_one_of
    # (name, out name, coercion, required, default, field, String/ID), made at first use:
    # a field's type is complete only once the schema is (types may name later ones).
    steps: list[tuple[str, str, Coerce, bool, Any, Any, bool]] = []

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, dict):
            return Undefined
        if not steps:
            steps.extend((name, field.out_name or name, _field_plan(field.type),
                          is_required_input_field(field), _default(field), field,
                          _text_field(field.type))
                         for name, field in fields.items())  # fmt: skip
        defined = 0
        for key, item in value.items():
            if item is Undefined:
                continue
            defined += 1
            if key not in fields:
                return Undefined
        coerced: dict[str, Any] = {}
        for name, out, plan, required, default, field, text in steps:
            item = value.get(name, Undefined)
            if item is Undefined:
                if required:
                    return Undefined
                if default is _NO_DEFAULT:
                    default = coerce_default_value(field)
                if default is not Undefined:
                    coerced[out] = default
            elif text and item.__class__ is str:
                coerced[out] = item  # String and ID give a string back as it is
            else:
                item = plan(item)
                if item is Undefined:
                    return Undefined
                coerced[out] = item
        if one_of and (defined != 1 or len(coerced) != 1 or next(iter(coerced.values())) is None):
            return Undefined
        return out_type(coerced) if custom_out else coerced

    return coerce


def _depth(type_: Any, seen: frozenset[Any]) -> int | None:
    """The deepest nesting ``input_is_nested_too_deeply`` can reach in ``type_``'s values,
    or None for a recursive type."""
    shape, named = _unwrap(type_)
    depth = shape.count("[]")
    if not isinstance(named, GraphQLInputObjectType):
        return depth
    if named in seen:
        return None
    deepest = 0
    for field in named.fields.values():
        inner = _depth(field.type, seen | {named})
        if inner is None:
            return None
        deepest = max(deepest, inner)
    return depth + 1 + deepest


def install(schema: strawberry.Schema) -> None:
    """Plan every acyclic input object type of ``schema`` and route graphql-core's
    variable coercion through the plans (idempotent; other types keep its path)."""
    for type_ in schema._schema.type_map.values():
        if isinstance(type_, GraphQLInputObjectType) and not type_.name.startswith("__"):
            depth = _depth(type_, frozenset())
            if depth is not None:
                _planned[type_] = depth
    gql_values.coerce_input_value = coerce_input_value  # type: ignore[attr-defined]
    gql_values.input_is_nested_too_deeply = input_is_nested_too_deeply
