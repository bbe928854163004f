"""Issue 10 item 16: one check refuses NUL and lone surrogates in every string input.

The schema walk sends NUL (and a lone surrogate) in every String/ID position of every
root query and mutation argument, as an ADMIN, and requires a refusal naming that
field: never "Unexpected error.", never a database error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)
from sqlalchemy import text

from pms.schema import build_schema
from schema.input_guard import _is_free_text as is_free_text
from tests.factories import create_player

SAMPLES: dict[str, Any] = {
    "String": "x",
    "ID": "1",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Date": "2000-01-01",
    "DateTime": "2026-01-01T00:00:00+00:00",
    "JSON": {},
    "_Any": {"__typename": "Player", "id": "1"},
}
BAD = {"nul": "a\x00b", "surrogate": "a\ud800b"}


def _is_one_of(type_: GraphQLInputObjectType) -> bool:
    """Strawberry marks @oneOf inputs with a directive on its own definition."""
    definition = (type_.extensions or {}).get("strawberry-definition")
    directives = getattr(definition, "directives", ()) or ()
    return bool(type_.is_one_of) or any(type(d).__name__ == "OneOf" for d in directives)


def _sample(type_: GraphQLInputType, depth: int = 0, path: tuple[Any, ...] = ()) -> Any:
    """A valid value; ``path`` picks the member of a @oneOf input on the way to a leaf."""
    if isinstance(type_, GraphQLNonNull):
        return _sample(type_.of_type, depth, path)
    if isinstance(type_, GraphQLList):
        return [_sample(type_.of_type, depth, path[1:] if path else ())]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLScalarType):
        return SAMPLES.get(type_.name, "x")
    assert isinstance(type_, GraphQLInputObjectType)
    head, rest = (path[0], path[1:]) if path else (None, ())
    if _is_one_of(type_):  # exactly one member: the one the path goes through, else the first
        name = head if head in type_.fields else next(iter(type_.fields))
        return {name: _sample(type_.fields[name].type, depth + 1, rest if name == head else ())}
    # Every field, optional ones too: the guard looks at all of them before any resolver.
    return {name: _sample(f.type, depth + 1, rest if name == head else ())
            for name, f in type_.fields.items()}  # fmt: skip


def _string_positions(
    type_: GraphQLInputType, path: tuple[Any, ...], free: bool = False
) -> Iterator[tuple[tuple[Any, ...], bool]]:
    """Every place a string can be written: (path into the variable value, free text?)."""
    named = get_named_type(type_)
    is_list = isinstance(type_, GraphQLList) or (
        isinstance(type_, GraphQLNonNull) and isinstance(type_.of_type, GraphQLList)
    )
    if is_list:
        path = (*path, 0)
    if isinstance(named, GraphQLScalarType) and named.name in ("String", "ID", "JSON"):
        yield path, free
    elif isinstance(named, GraphQLInputObjectType):
        for name, f in named.fields.items():
            yield from _string_positions(f.type, (*path, name), free or is_free_text(f))


def _put(value: Any, path: tuple[Any, ...], leaf: Any) -> Any:
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        inner = value[0] if isinstance(value, list) and value else None
        return [_put(inner, rest, leaf)]
    copy = dict(value or {})
    copy[head] = _put(copy.get(head), rest, leaf)
    return copy


def _client_path(arg: str, path: tuple[Any, ...]) -> str:
    parts: list[str] = [] if arg == "input" and path else [arg]
    for p in path:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p}]"
        else:
            parts.append(p)
    return ".".join(parts)


def _cases() -> Iterator[tuple[str, str, str, dict[str, Any], tuple[Any, ...]]]:
    """(field, document, argument, valid variables, path of one string in the argument)."""
    from app.core.settings import Settings

    schema = build_schema(Settings())._schema
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert isinstance(root, GraphQLObjectType)
        for field_name, field in root.fields.items():
            if not field.args or field_name == "_service":
                continue
            returns = get_named_type(field.type)
            selection = "" if is_leaf_type(returns) else " { __typename }"
            definitions = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
            arguments = ", ".join(f"{a}: ${a}" for a in field.args)
            document = f"{kind}({definitions}) {{ {field_name}({arguments}){selection} }}"
            base = {a: _sample(arg.type) for a, arg in field.args.items()}
            for arg_name, arg in field.args.items():
                for path, free in _string_positions(arg.type, (), is_free_text(arg)):
                    case_base = {**base, arg_name: _sample(arg.type, 0, path)}
                    if get_named_type(_type_at(arg.type, path)).name != "JSON":
                        yield field_name, document, arg_name, case_base, path
                    if free:
                        FREE_TEXT_CASES.append((field_name, document, arg_name, case_base, path))


def _type_at(type_: GraphQLInputType, path: tuple[Any, ...]) -> GraphQLInputType:
    for step in path:
        named = get_named_type(type_)
        if isinstance(step, str) and isinstance(named, GraphQLInputObjectType):
            type_ = named.fields[step].type
    return type_


FREE_TEXT_CASES: list[tuple[str, str, str, dict[str, Any], tuple[Any, ...]]] = []
CASES = list(_cases())


def test_the_walk_covers_the_reported_fields():
    names = {(f, a) for f, _, a, _, _ in CASES}
    for expected in [("login", "loginOrEmail"), ("staffLogin", "email"), ("players", "filter"),
                     ("setPlayerStatus", "reason"), ("deposit", "input")]:  # fmt: skip
        assert expected in names
    assert len(CASES) > 150


async def _send(client, document: str, variables: dict[str, Any], headers: dict[str, str]):
    # ensure_ascii: a lone surrogate travels as the JSON escape "\ud800", as a client sends it
    body = json.dumps({"query": document, "variables": variables}, ensure_ascii=True)
    return await client.post(
        "/graphql", content=body, headers={"content-type": "application/json", **headers}
    )


async def _refusals_missing(client, headers, cases, bad_value) -> list[str]:
    """The cases whose answer is not a refusal naming the field (or is unexpected)."""
    failures: list[str] = []
    for field_name, document, arg_name, base, path in cases:
        value = _put(base.get(arg_name), path, bad_value)
        variables = {**base, arg_name: value}
        response = await _send(client, document, variables, headers)
        expected = _client_path(arg_name, path)
        answer = response.json() if response.status_code == 200 else {}
        data = (answer.get("data") or {}).get(field_name)
        errors = answer.get("errors") or []
        named = (isinstance(data, dict) and data.get("__typename") == "ValidationError") or any(
            (e.get("extensions") or {}).get("field") == expected for e in errors
        )
        if response.status_code != 200 or "Unexpected error" in response.text or not named:
            failures.append(f"{field_name}({expected}): {response.status_code} {response.text}")
    return failures


@pytest.mark.parametrize("bad", sorted(BAD))
async def test_every_string_argument_refuses_bad_characters(client, auth, db, bad):
    headers = await auth.staff_headers("ADMIN")
    assert await _refusals_missing(client, headers, CASES, BAD[bad]) == []
    async with db.read_session() as session:
        written = await session.scalar(text("SELECT count(*) FROM players"))
    assert written == 0  # refused before any resolver ran: nothing was registered


PAN_SPELLINGS = ["4111111111111111", "psp-4111 1111 1111 1111", "ref 5555.5555.5555.4444"]


def test_free_text_covers_the_fields_the_issue_names():
    fields = {(f, _client_path(a, p)) for f, _, a, _, p in FREE_TEXT_CASES}
    for expected in [
        ("deposit", "paymentReference"), ("withdraw", "paymentReference"),
        ("setPlayerStatus", "reason"), ("chargeFee", "reason"), ("adjustBalance", "reason"),
        ("updatePlayerProfile", "addressLine1"), ("updatePlayerProfile", "addressLine2"),
        ("createSegment", "description"), ("updateSegment", "description"),
        ("grantFreeSpins", "reference"), ("creditTournament", "reference"),
        ("registerWebhookEndpoint", "description"), ("reviewKyc", "note"),
        ("cancelBonus", "reason"), ("setPlayerTags", "tags[0]"),
    ]:  # fmt: skip
        assert expected in fields


@pytest.mark.parametrize("pan", PAN_SPELLINGS)
async def test_every_free_text_field_refuses_card_numbers(client, auth, db, pan):
    headers = await auth.staff_headers("ADMIN")
    assert await _refusals_missing(client, headers, FREE_TEXT_CASES, pan) == []
    async with db.read_session() as session:
        assert await session.scalar(text("SELECT count(*) FROM players")) == 0


DEPOSIT = """
mutation($input: DepositInput!) {
  deposit(input: $input) {
    __typename
    ... on ValidationError { field message code }
  }
}
"""


async def test_refusal_names_the_field_as_a_validation_error(gql, auth):
    headers = await auth.service_headers("wallet:write")
    variables = {
        "input": {
            "playerId": "00000000-0000-0000-0000-000000000001", "amount": "1.00",
            "currency": "EUR", "paymentReference": "tok_1", "idempotencyKey": "k\x00",
        }
    }  # fmt: skip
    result = await gql(DEPOSIT, variables, **headers)
    answer = result["data"]["deposit"]
    assert answer == {
        "__typename": "ValidationError",
        "field": "idempotencyKey",
        "message": "invalid input: idempotencyKey: must not contain NUL",
        "code": "VALIDATION_ERROR",
    }


async def test_a_query_argument_is_refused_with_the_field_in_extensions(gql, auth):
    headers = await auth.staff_headers("SUPPORT")
    result = await gql(
        "query($s: String) { players(filter: {search: $s}) { totalCount } }",
        {"s": "bob\x00"},
        **headers,
    )
    assert result["data"] is None
    [error] = result["errors"]
    assert error["extensions"] == {"code": "VALIDATION_ERROR", "field": "filter.search"}
    assert "filter.search: must not contain NUL" in error["message"]


async def test_nested_field_arguments_are_guarded_too(gql, auth, db, settings):
    player = await create_player(db, settings)
    headers = await auth.staff_headers("ADMIN")
    query = """query($id: ID!, $kind: String) {
      player(id: $id) { ledger(first: 5, filter: {kind: $kind}) { totalCount } }
    }"""
    result = await gql(query, {"id": str(player.id), "kind": "DEPOSIT\x00"}, **headers)
    [error] = result["errors"]
    assert error["extensions"]["field"] == "filter.kind"
    assert error["path"] == ["player", "ledger"]


async def test_a_literal_in_the_document_is_guarded_like_a_variable(gql):
    result = await gql(
        'mutation { login(loginOrEmail: "bob\\u0000", password: "x") { __typename } }'
    )
    data, errors = result.get("data"), result.get("errors") or []
    named = (data or {}).get("login", {}) or {}
    assert named.get("__typename") == "ValidationError" or errors[0]["extensions"]["field"] == (
        "loginOrEmail"
    )
    assert "Unexpected error" not in json.dumps(result)


# --- REST: the same check, and typed parameters validated -------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("country=D%00", "country"),
        ("status=ACT%00IVE", "status"),
        ("country=%ED%A0%80", "country"),  # a lone surrogate in UTF-8: decoded as U+FFFD, unknown
        ("limit=1&after=%00", "after"),
        ("country=XX", "country"),
        ("country=de", "country"),
        ("status=DELETED", "status"),
    ],
)
async def test_rest_parameters_are_refused_with_400_naming_them(client, auth, query, field):
    headers = await auth.staff_headers("SUPPORT")
    response = await client.get(f"/players?{query}", headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", field)


async def test_rest_valid_filters_still_answer(client, auth, db, settings):
    await create_player(db, settings, country="DE")
    headers = await auth.staff_headers("SUPPORT")
    response = await client.get("/players?country=DE&status=ACTIVE", headers=headers)
    assert response.status_code == 200
    assert response.json()["total"] == 1
    response = await client.get("/players?country=FR", headers=headers)
    assert (response.status_code, response.json()["total"]) == (200, 0)


async def test_json_keys_are_checked_and_never_echoed(gql, auth):
    headers = await auth.staff_headers("MARKETER")
    query = """mutation($i: SegmentInput!) { createSegment(input: $i) {
      __typename ... on ValidationError { field message } } }"""
    for key in ["4111 1111 1111 1111", "a\x00"]:
        rule = {"attribute": "country", "op": "eq", "value": "DE", "extra": {key: 1}}
        result = await gql(query, {"i": {"name": "n", "rule": rule}}, **headers)
        answer = result["data"]["createSegment"]
        assert answer["__typename"] == "ValidationError"
        assert answer["field"] == "rule"
        assert key not in answer["message"]
