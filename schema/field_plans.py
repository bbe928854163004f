"""Field resolvers planned once at schema build time instead of per call.

For every call of a field with a resolver, Strawberry converts its arguments by looking
up each argument's GraphQL name and type again, asks every field extension for
``map_arguments``, chains the extensions with ``functools.reduce``/``partial`` and wraps
the resolver in two more closures (a money mutation: ~25 Python calls before our code
runs, bench/README.md "GraphQL execution of money mutations"). A field without a
resolver goes through three calls to end in ``getattr``. ``install`` replaces both on
the built schema with the same steps resolved once per field:

* a plain attribute field reads its attribute (Strawberry's default resolver is
  ``getattr``, kept);
* a resolver field gets its argument converters (leaves pass through as graphql-core
  coerced them; input objects and lists of them through their own plans of
  schema/input_conversion.py, the rest through Strawberry's ``convert_argument``), its
  reserved parameters (self, root/parent, info) and its extension chain (permission
  rules) built once, in Strawberry's order: the last extension outermost.

Fields this does not cover keep Strawberry's resolver: subscriptions, fields with
exception handlers, extensions that reshape arguments (``map_arguments``) or mix sync
and async, and field classes with their own ``get_result``. Installed before the input
guard, which wraps whatever resolver a field has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo
from strawberry.extensions.field_extension import FieldExtension
from strawberry.types.arguments import InputContext
from strawberry.types.field import StrawberryField

from schema.input_conversion import converter, leaf_type

Resolve = Callable[..., Any]


def _attribute(name: str) -> Resolve:
    def resolve(source: Any, info: GraphQLResolveInfo[Any], **_: Any) -> Any:
        return getattr(source, name)

    resolve._is_default = True  # type: ignore[attr-defined]  # tracing skips it, as before
    return resolve


def _converters(
    field: StrawberryField, schema: strawberry.Schema
) -> tuple[tuple[str, str, Callable[[Any, Any], Any] | None], ...]:
    """(GraphQL name, Python name, converter or None for a leaf) per argument."""
    registry = schema.schema_converter.scalar_registry
    config = schema.config
    steps: list[tuple[str, str, Callable[[Any, Any], Any] | None]] = []
    for argument in field.arguments:
        assert argument.python_name
        name = config.name_converter.from_argument(argument)
        if leaf_type(argument.type, registry):
            steps.append((name, argument.python_name, None))
            continue

        def convert(
            value: Any, info: Any, plan: Any = converter(argument.type, registry),
            path: tuple[str] = (name,),
        ) -> Any:  # fmt: skip
            return plan(value, InputContext(info=info, config=config, scalar_registry=registry,
                                            path=()), path)  # fmt: skip

        steps.append((name, argument.python_name, convert))
    return tuple(steps)


def _chain(field: StrawberryField) -> Resolve | None:
    """The resolver (or getattr) wrapped in the field's extensions; None where
    Strawberry's own path must stay."""
    resolver = field.base_resolver
    extensions = [e for e in field.extensions if e.has_resolver]
    if any(type(e).map_arguments is not FieldExtension.map_arguments for e in field.extensions):
        return None
    if field.is_async:
        if not all(e.supports_async for e in extensions):
            return None
        steps = [e.resolve_async for e in extensions]
    else:
        if not all(e.supports_sync for e in extensions):
            return None
        steps = [e.resolve for e in extensions]
    chained: Resolve
    if resolver is None:  # a plain field with a permission rule: the rule, then getattr
        name = field.python_name

        def chained(source: Any, info: Any, **kwargs: Any) -> Any:
            return getattr(source, name)

    else:
        self_parameter = resolver.self_parameter is not None
        info_parameter = resolver.info_parameter
        # As Strawberry: an ``info`` parameter is passed to the extensions apart from the
        # arguments and put back for the resolver; another name for it stays an argument.
        pops_info = info_parameter is not None and info_parameter.name == "info"
        call: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]

        def chained(source: Any, info: Any, **kwargs: Any) -> Any:
            if pops_info:
                kwargs["info"] = info
            return call(source, **kwargs) if self_parameter else call(**kwargs)

    for step in steps:
        chained = partial(step, chained)
    return chained


def _planned(field: StrawberryField, schema: strawberry.Schema) -> Resolve | None:
    chained = _chain(field)
    if chained is None:
        return None
    resolver = field.base_resolver
    steps = _converters(field, schema)
    info_class = schema.config.info_class
    reserved: dict[str, bool] = {}  # parameter name -> True for info, False for the source
    if resolver is not None:
        for parameter in (resolver.parent_parameter, resolver.root_parameter):
            if parameter is not None:
                reserved[parameter.name] = False
        if resolver.info_parameter is not None and resolver.info_parameter.name != "info":
            reserved[resolver.info_parameter.name] = True

    def resolve(source: Any, raw_info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        info = info_class(_raw_info=raw_info, _field=field)
        converted: dict[str, Any] = {}
        for graphql_name, python_name, convert in steps:
            if graphql_name in kwargs:
                value = kwargs[graphql_name]
                converted[python_name] = value if convert is None else convert(value, info)
        for name, is_info in reserved.items():
            converted[name] = info if is_info else source
        return chained(source, info, **converted)

    return resolve


def _plan(field: GraphQLField, schema: strawberry.Schema) -> Resolve | None:
    definition = (field.extensions or {}).get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or definition.is_subscription:
        return None
    if type(definition).get_result is not StrawberryField.get_result:
        return None
    if schema.schema_converter._get_field_exception_handlers(definition):
        return None
    if definition.is_basic_field:
        if definition.default_resolver is not getattr:
            return None
        return _attribute(definition.python_name)
    if definition.base_resolver is None and definition.default_resolver is not getattr:
        return None
    guarded = _guarded_attribute(definition)
    return guarded if guarded is not None else _planned(definition, schema)


def _guarded_attribute(field: StrawberryField) -> Resolve | None:
    """A resolver-less field whose one extension is a permission rule that plans its own
    attribute resolver (permissions/rules.py): the rule, then ``getattr``, with no
    ``Info``, argument or chain step per object (most data fields: Player's columns)."""
    if field.base_resolver is not None or len(field.extensions) != 1:
        return None
    plan = getattr(field.extensions[0], "attribute_resolver", None)
    return None if plan is None else cast(Resolve, plan(field.python_name))


def install(schema: strawberry.Schema) -> None:
    """Plan the resolver of every field of ``schema`` it covers (before the guard)."""
    for type_ in schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for field in type_.fields.values():
            resolve = _plan(field, schema)
            if resolve is not None:
                field.resolve = resolve


def planned_fields(schema: strawberry.Schema) -> Mapping[str, int]:
    """How many fields of each kind ``install`` would plan (for the tests)."""
    counts = {"attribute": 0, "resolver": 0, "strawberry": 0}
    for type_ in schema._schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            for field in type_.fields.values():
                resolve = _plan(field, schema)
                kind = (
                    "strawberry"
                    if resolve is None
                    else ("attribute" if getattr(resolve, "_is_default", False) else "resolver")
                )
                counts[kind] += 1
    return counts
