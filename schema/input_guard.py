"""THE string check of every GraphQL input: each argument and input field of every field
(root, nested, federation ``_entities``, subscriptions) refuses NUL and lone surrogates,
and free text (``free_text()`` fields, ``FreeTextArg`` arguments) refuses card numbers.

Installed once on the built schema (``install``): it wraps the resolver of every field
that takes arguments, so no field can forget it and fields without arguments pay nothing.
A refusal names the field: a ``ValidationError`` union member where the field's result
has one, else a GraphQL error with ``extensions {code: VALIDATION_ERROR, field}``. It runs
before the resolver, so nothing is read or written with the bad value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Annotated, Any

import strawberry
from graphql import (
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLUnionType,
    default_field_resolver,
    get_named_type,
    get_nullable_type,
)

from app.core.errors import ValidationFailed
from app.core.text import forbidden_character, looks_like_pan
from schema.errors import ValidationError

FREE_TEXT = "pms.free_text"
_MARK = {FREE_TEXT: True}
PAN_MESSAGE = "looks like a card number; PMS takes payment tokens only, never card data"
_GUARDED = "__pms_input_guard__"

# For resolver arguments: ``reason: FreeTextArg`` (or Annotated[str | None, ...]).
FreeTextArg = Annotated[str, strawberry.argument(metadata=_MARK)]
OptionalFreeTextArg = Annotated[str | None, strawberry.argument(metadata=_MARK)]
FreeTextList = Annotated[list[str], strawberry.argument(metadata=_MARK)]

Problem = tuple[str, str]  # (field path as the client wrote it, what is wrong)
_UNKNOWN: tuple[None, bool] = (None, False)


def free_text(**kwargs: Any) -> Any:
    """An input field holding human-written text: it may never hold a card number."""
    return strawberry.field(metadata=_MARK, **kwargs)


def _is_free_text(definition: GraphQLArgument | GraphQLInputField | None) -> bool:
    if definition is None:
        return False
    backref = (definition.extensions or {}).get("strawberry-definition")
    metadata = getattr(backref, "metadata", None) or {}
    return bool(metadata.get(FREE_TEXT, False))


def check_value(
    value: Any, type_: GraphQLInputType | None, path: str, free: bool
) -> Problem | None:
    """The first problem in ``value`` (strings at any depth, JSON and ``_Any`` included)."""
    if isinstance(value, str):
        bad = forbidden_character(value)
        if bad is not None:
            return path, bad
        return (path, PAN_MESSAGE) if free and looks_like_pan(value) else None
    if isinstance(value, dict):
        return _check_object(value, type_, path, free)
    if isinstance(value, list | tuple):
        item_type = type_
        for i, item in enumerate(value):
            problem = check_value(item, item_type, f"{path}[{i}]", free)
            if problem is not None:
                return problem
        return None
    if free and isinstance(value, int) and not isinstance(value, bool):
        # A JSON number in free text (a segment rule value) is text to a reader too.
        return (path, PAN_MESSAGE) if looks_like_pan(str(value)) else None
    return None


@cache
def _fields_of(named: GraphQLInputObjectType) -> dict[str, tuple[GraphQLInputType, bool]]:
    """Each field's type and whether it is free text: once per input type, not per value."""
    return {key: (f.type, _is_free_text(f)) for key, f in named.fields.items()}


def _check_object(
    value: dict[Any, Any], type_: GraphQLInputType | None, path: str, free: bool
) -> Problem | None:
    named = get_named_type(type_) if type_ is not None else None
    if not isinstance(named, GraphQLInputObjectType):
        return _check_json_object(value, path, free)
    fields = _fields_of(named)
    for key, item in value.items():
        sub_type, sub_free = fields.get(key, _UNKNOWN)
        if item.__class__ is str and not (free or sub_free) and forbidden_character(item) is None:
            continue  # the common case: no path built, no call (a batch has ~600 of them)
        child = f"{path}.{key}" if path else str(key)
        problem = check_value(item, sub_type, child, free or sub_free)
        if problem is not None:
            return problem
    return None


def _check_json_object(value: dict[Any, Any], path: str, free: bool) -> Problem | None:
    """A JSON (or ``_Any``) object: its keys are the client's text too, so they are
    checked like values and never become part of the reported path (which is logged)."""
    for key, item in value.items():
        problem = check_value(str(key), None, path, free) or check_value(item, None, path, free)
        if problem is not None:
            return problem
    return None


def check_arguments(field: GraphQLField, kwargs: dict[str, Any]) -> Problem | None:
    for name, value in kwargs.items():
        definition = field.args.get(name)
        # The one ``input`` argument is implied: services name its fields bare.
        path = "" if name == "input" and isinstance(value, dict) else name
        problem = check_value(
            value, definition.type if definition else None, path, _is_free_text(definition)
        )
        if problem is not None:
            return problem
    return None


def _answers_validation_error(field: GraphQLField) -> bool:
    result = get_nullable_type(field.type)
    return isinstance(result, GraphQLUnionType) and any(
        member.name == "ValidationError" for member in result.types
    )


def _refusal(field: GraphQLField, problem: Problem) -> Any:
    path, message = problem
    if _answers_validation_error(field):
        return ValidationError.from_domain(ValidationFailed.single(path, message))
    raise GraphQLError(
        f"invalid input: {path}: {message}",
        extensions={"code": ValidationFailed.code, "field": path},
    )


def _guard(field: GraphQLField, resolve: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        problem = check_arguments(field, kwargs)
        if problem is not None:
            return _refusal(field, problem)
        return resolve(source, info, **kwargs)

    setattr(guarded, _GUARDED, True)
    return guarded


def _subscribe_guard(field: GraphQLField, subscribe: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        problem = check_arguments(field, kwargs)
        if problem is not None:
            path, message = problem
            raise GraphQLError(
                f"invalid input: {path}: {message}",
                extensions={"code": ValidationFailed.code, "field": path},
            )
        return subscribe(source, info, **kwargs)

    setattr(guarded, _GUARDED, True)
    return guarded


def _fields_with_arguments(schema: GraphQLSchema) -> Iterable[GraphQLField]:
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            yield from (f for f in type_.fields.values() if f.args)


def install(schema: strawberry.Schema) -> None:
    """Guard every field with arguments of ``schema`` (idempotent)."""
    for field in _fields_with_arguments(schema._schema):
        if getattr(field.resolve, _GUARDED, False):
            continue
        field.resolve = _guard(field, field.resolve or default_field_resolver)
        if field.subscribe is not None:
            field.subscribe = _subscribe_guard(field, field.subscribe)
