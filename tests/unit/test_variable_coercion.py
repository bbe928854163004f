"""Variables of input types are coerced by plans (schema/variable_coercion.py) and their
input objects converted by plans (schema/input_conversion.py): the same values, the same
``Undefined`` and the same errors as graphql-core's and Strawberry's own paths, on random
valid and invalid values of every input type of the built schema."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import graphql.execution.values as gql_values
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
)
from graphql.language.parser import MAX_NESTING_DEPTH
from strawberry.types.arguments import InputContext, convert_argument

from app.core.settings import Settings
from pms.schema import build_schema
from schema import input_conversion
from schema import variable_coercion as vc

SCHEMA = build_schema(Settings(_env_file=None, env="test"))
INPUTS = [
    t
    for t in SCHEMA._schema.type_map.values()
    if isinstance(t, GraphQLInputObjectType) and not t.name.startswith("__")
]
ODD = [None, Undefined, "", "x", "10.50", "EUR", 0, 7, -3, 2.5, float("nan"), True, [], {},
       ["a"], {"k": 1}, "2026-12-02T04:00:00+00:00",
       "00000000-0000-0000-0000-000000000001"]  # fmt: skip


def _leaf_value(type_: Any, rng: random.Random) -> Any:
    if isinstance(type_, GraphQLEnumType) and rng.random() < 0.7:
        return rng.choice(list(type_.values))
    if isinstance(type_, GraphQLScalarType) and rng.random() < 0.6:
        typical = {"String": "text", "ID": rng.choice(["id-1", 12]), "Int": rng.randint(-5, 99),
                   "Float": 1.5, "Boolean": rng.random() < 0.5}  # fmt: skip
        return typical.get(type_.name, rng.choice(ODD))
    return rng.choice(ODD)


def _value(type_: GraphQLInputType, rng: random.Random, depth: int = 0) -> Any:
    """A value of ``type_``, valid most of the time, with every way to be wrong."""
    if isinstance(type_, GraphQLNonNull):
        return None if rng.random() < 0.03 else _value(type_.of_type, rng, depth)
    if rng.random() < 0.05:
        return rng.choice([None, Undefined])
    if isinstance(type_, GraphQLList):
        if rng.random() < 0.15:
            return _value(type_.of_type, rng, depth + 1)  # a non-list value: a list of one
        return [_value(type_.of_type, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if isinstance(type_, GraphQLInputObjectType):
        if rng.random() < 0.03 or depth > 6:
            return rng.choice(ODD)
        value: dict[str, Any] = {}
        names = list(type_.fields)
        chosen = [rng.choice(names)] if type_.is_one_of else names
        if type_.is_one_of and rng.random() < 0.1:
            chosen = rng.sample(names, min(2, len(names)))
        for name in chosen:
            field = type_.fields[name]
            required = isinstance(field.type, GraphQLNonNull)
            if type_.is_one_of or (required and rng.random() > 0.02) or rng.random() < 0.5:
                value[name] = _value(field.type, rng, depth + 1)
        if rng.random() < 0.03:
            value["unknownField"] = 1
        return value
    return _leaf_value(type_, rng)


def _outcome(coerce: Any, *args: Any) -> tuple[str, Any]:
    try:
        result = coerce(*args)
    except Exception as exc:  # the same exception either way
        return "raised", (type(exc), str(exc))
    return ("undefined", None) if result is Undefined else ("value", result)


def _shapes(named: GraphQLInputObjectType) -> list[GraphQLInputType]:
    return [named, GraphQLNonNull(named), GraphQLList(named),
            GraphQLNonNull(GraphQLList(GraphQLNonNull(named)))]  # fmt: skip


def test_every_input_type_of_the_schema_is_planned() -> None:
    assert INPUTS and all(vc.plan_for(t) is not None for t in INPUTS)
    assert gql_values.coerce_input_value is vc.coerce_input_value  # type: ignore[attr-defined]
    assert gql_values.input_is_nested_too_deeply is vc.input_is_nested_too_deeply


@pytest.mark.parametrize("seed", range(3))
def test_planned_coercion_equals_graphql_cores_on_random_values(seed: int) -> None:
    rng = random.Random(seed)
    kinds: set[str] = set()
    for named in INPUTS:
        for type_ in _shapes(named):
            for _ in range(40):
                value = _value(type_, rng)
                planned = _outcome(vc.coerce_input_value, value, type_)
                generic = _outcome(vc._generic_coerce, value, type_)
                assert planned == generic, (named.name, value)
                assert not vc.input_is_nested_too_deeply(value, type_)
                assert not vc._generic_too_deep(value, type_)
                kinds.add(planned[0])
    assert kinds >= {"value", "undefined"}  # both valid and invalid values were tried


def test_a_type_nested_deeper_than_the_limit_keeps_graphql_cores_path() -> None:
    type_: Any = SCHEMA._schema.type_map["WalletBatchOperation"]
    for _ in range(MAX_NESTING_DEPTH):
        type_ = GraphQLList(type_)
    assert vc.plan_for(type_) is None
    deep: Any = {"reserveBet": {"playerId": "p"}}
    for _ in range(MAX_NESTING_DEPTH):
        deep = [deep]
    assert vc.input_is_nested_too_deeply(deep, type_)  # graphql-core's check: too deep
    # Two lists fewer (WalletBatchOperation > ReserveBetInput nests 2): planned, and
    # graphql-core's check can never fail for it.
    shallower, value = type_.of_type.of_type, deep[0][0]
    assert vc.plan_for(shallower) is not None
    assert not vc._generic_too_deep(value, shallower)


BATCH = """mutation($ops: [WalletBatchOperation!]!) { walletBatch(operations: $ops) {
  __typename } }"""
RESERVE = {"playerId": "p", "amount": "1.00", "currency": "EUR", "gameRoundId": "r",
           "transactionId": "t", "idempotencyKey": "k"}  # fmt: skip
BAD_BATCHES = [
    [{"reserveBet": {**RESERVE, "amount": 5}}],  # a number for a String
    [{"reserveBet": {k: v for k, v in RESERVE.items() if k != "currency"}}],  # missing
    [{"reserveBet": {**RESERVE, "stake": "1"}}],  # an unknown field
    [{"reserveBet": RESERVE, "deposit": None}],  # two members of a @oneOf
    [{"reserveBet": None}],  # a null member
    [{}],
    [RESERVE],
    [{"reserveBet": RESERVE}, {"settleBet": {"playerId": "p", "winAmount": "1"}}],
    "not a list",
    None,
]


def _errors(variables: dict[str, Any]) -> list[tuple[str, Any]]:
    result = asyncio.run(SCHEMA.execute(BATCH, variable_values=variables))
    assert result.data is None
    return [(e.message, e.path) for e in result.errors or ()]


@pytest.mark.parametrize("ops", BAD_BATCHES)
def test_bad_batch_items_get_graphql_cores_errors(
    ops: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = _errors({"ops": ops})
    monkeypatch.setattr(gql_values, "coerce_input_value", vc._generic_coerce)
    monkeypatch.setattr(gql_values, "input_is_nested_too_deeply", vc._generic_too_deep)
    assert planned and planned == _errors({"ops": ops})


def test_planned_conversion_equals_strawberrys_on_random_batches() -> None:
    rng = random.Random(7)
    mutation: Any = SCHEMA.schema_converter.type_map["Mutation"].definition
    field = next(f for f in mutation.fields
                 if f.python_name == "wallet_batch")  # fmt: skip
    argument = next(a for a in field.arguments if a.python_name == "operations")
    registry, config = SCHEMA.schema_converter.scalar_registry, SCHEMA.config
    plan = input_conversion.converter(argument.type, registry)
    type_ = SCHEMA._schema.mutation_type.fields["walletBatch"].args["operations"].type  # type: ignore[union-attr]
    converted = 0
    while converted < 200:
        kind, coerced = _outcome(vc.coerce_input_value, _value(type_, rng), type_)
        if kind != "value":
            continue
        context = InputContext(info=None, config=config, scalar_registry=registry, path=())
        ours = plan(coerced, context, ("operations",))
        theirs = convert_argument(coerced, argument.type, registry, config, None,
                                  path=("operations",))  # fmt: skip
        assert ours == theirs
        converted += len(coerced)
