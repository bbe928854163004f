"""Federation ``_entities`` behind the permission rules: at most
``max_entity_representations`` per request (a typed error above), and each representation
resolved only when its type's ``@entity`` rule (permissions/entities.py) lets the caller
see it; otherwise that entry is null, exactly like the root field."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLError

from permissions.entities import entity_rule, may_see, may_try
from permissions.rules import Rule
from schema.context import Info

Resolve = Callable[[list[Any]], list[Any]]


def too_many(limit: int) -> GraphQLError:
    return GraphQLError(
        f"at most {limit} representations per request",
        extensions={"code": "TOO_MANY_REPRESENTATIONS", "limit": limit},
    )


def _rule_for(info: Info, representation: Any) -> Rule | None:
    type_name = representation.get("__typename") if isinstance(representation, dict) else None
    strawberry_type = info.schema.schema_converter.type_map.get(str(type_name))
    definition = getattr(strawberry_type, "definition", None)
    return entity_rule(getattr(definition, "origin", None))


async def _checked(info: Info, rule: Rule, pending: Any) -> Any:
    loaded = await pending
    if loaded is None or isinstance(loaded, BaseException):
        return loaded
    return loaded if may_see(rule, info.context.principal, loaded) else None


def guarded_entities(info: Info, representations: Sequence[Any], resolve: Resolve) -> list[Any]:
    limit = info.context.settings.max_entity_representations
    if len(representations) > limit:
        raise too_many(limit)
    principal = info.context.principal
    results: list[Any] = []
    for representation in representations:
        rule = _rule_for(info, representation)
        if rule is None or not may_try(rule, principal):
            results.append(None)
            continue
        (result,) = resolve([representation])
        if inspect.isawaitable(result):
            results.append(_checked(info, rule, result))
        elif result is None or isinstance(result, BaseException):
            results.append(result)
        else:
            results.append(result if may_see(rule, principal, result) else None)
    return results
