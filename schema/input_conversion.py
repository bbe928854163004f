"""Input objects built from a plan made once per type instead of per request.

Strawberry turns every input value into its dataclass by resolving each field's type
annotation and GraphQL name again on every request (~165 us for a six-field money
input on this machine). ``install`` gives every input type a ``from_input`` (Strawberry's
own hook for types that build their value) that does the same with the names and
converters resolved at startup: leaf fields (scalars, enums, optional or not) pass through
as graphql-core coerced them, every other field goes through Strawberry's own
``convert_argument`` as before. Types with ``Maybe`` fields keep Strawberry's path (its
null check for them is skipped for types with a ``from_input``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import strawberry
from strawberry.relay import GlobalID
from strawberry.schema.compat import is_scalar
from strawberry.types.arguments import InputContext, convert_argument
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.unset import UNSET

Convert = Callable[[object, InputContext, tuple[str | int, ...]], object]


def _passthrough(value: object, context: InputContext, path: tuple[str | int, ...]) -> object:
    return value


def leaf_type(type_: Any, scalar_registry: Mapping[object, Any]) -> bool:
    """A value of ``type_`` is used as graphql-core coerced it (a scalar or an enum,
    optional or not): ``convert_argument`` would hand it back unchanged."""
    inner = type_.of_type if isinstance(type_, StrawberryOptional) else type_
    leaf = inner is not GlobalID and (
        is_scalar(inner, scalar_registry) or has_enum_definition(inner)
    )
    return leaf and not isinstance(type_, StrawberryMaybe)


def _converter(type_: Any, scalar_registry: Mapping[object, Any]) -> Convert:
    if leaf_type(type_, scalar_registry):
        return _passthrough  # None and UNSET stay what they are, as in convert_argument
    planned = _nested(type_, scalar_registry)
    if planned is not None:
        return planned

    def convert(value: object, context: InputContext, path: tuple[str | int, ...]) -> object:
        return convert_argument(
            value, type_, context.scalar_registry, context.config, context.info, path=path
        )

    return convert


def converter(type_: Any, scalar_registry: Mapping[object, Any]) -> Convert:
    """The conversion of a value of ``type_`` (an argument's, say): ``convert_argument``'s
    steps, with input objects and lists of them resolved once (``_nested``)."""
    return _converter(type_, scalar_registry)


def _nested(type_: Any, scalar_registry: Mapping[object, Any]) -> Convert | None:
    """An input object or a list of them (optional or not) converted as ``convert_argument``
    does, without its per-value dispatch: None/UNSET as they are, an input object through
    its ``from_input`` (looked up per call: it is installed after this plan is made), a
    list item by item with its index in the path. None for any other type."""
    if isinstance(type_, StrawberryMaybe):
        return None
    inner = type_.of_type if isinstance(type_, StrawberryOptional) else type_
    if isinstance(inner, StrawberryList):
        if leaf_type(inner.of_type, scalar_registry):
            return None  # convert_argument copies such a list: its own path
        item = _converter(inner.of_type, scalar_registry)

        def convert_list(
            value: object, context: InputContext, path: tuple[str | int, ...]
        ) -> object:
            if value is None or value is UNSET:
                return value
            items = cast("Iterable[object]", value)
            return [item(x, context, (*path, i)) for i, x in enumerate(items)]

        return convert_list
    if not isinstance(inner, type):  # a LazyType and the like: convert_argument's path
        return None
    definition = getattr(inner, "__strawberry_definition__", None)
    if not isinstance(definition, StrawberryObjectDefinition) or not definition.is_input:
        return None

    def convert_input(value: object, context: InputContext, path: tuple[str | int, ...]) -> object:
        if value is None or value is UNSET:
            return value
        from_input = definition.from_input
        if from_input is None:
            return convert_argument(
                value, inner, context.scalar_registry, context.config, context.info, path=path
            )
        return from_input(inner, value, InputContext(  # type: ignore[arg-type]
            info=context.info, config=context.config, scalar_registry=context.scalar_registry,
            path=path,
        ))  # fmt: skip

    return convert_input


def _plan(
    definition: StrawberryObjectDefinition, schema: strawberry.Schema
) -> Callable[[type, Mapping[str, Any], InputContext], Any] | None:
    fields = definition.fields
    types = [field.resolve_type(type_definition=definition) for field in fields]
    if any(isinstance(t, StrawberryMaybe) for t in types):
        return None
    registry = schema.schema_converter.scalar_registry
    names = schema.config.name_converter
    steps = tuple(
        (names.from_field(field), field.python_name, _converter(type_, registry))
        for field, type_ in zip(fields, types, strict=True)
    )
    # As Strawberry does: every field without a default starts as None; graphql-core has
    # already refused a missing required field.
    nulls = {
        field.python_name: None
        for field in fields
        if field.default_value is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    }

    def from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        kwargs: dict[str, Any] = dict(nulls)
        for graphql_name, python_name, convert in steps:
            if graphql_name in value:
                kwargs[python_name] = convert(
                    value[graphql_name], context, (*context.path, graphql_name)
                )
        return cls(**kwargs)

    return from_input


def install(schema: strawberry.Schema) -> None:
    """Give every input type of ``schema`` without its own ``from_input`` a planned one."""
    for graphql_type in schema.schema_converter.type_map.values():
        definition = graphql_type.definition
        if (
            isinstance(definition, StrawberryObjectDefinition)
            and definition.is_input
            and definition.from_input is None
        ):
            definition.from_input = _plan(definition, schema)
