"""Schema change control (issue 17 item 10): the committed SDL is the schema the code
builds, changes breaking the last release are reported, deprecations carry a reason."""

from __future__ import annotations

import subprocess
import sys

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from pms import sdl

VAGUE = ("", "No longer supported")  # graphql-core's default for a bare @deprecated


def test_committed_schema_graphql_is_current():
    committed = sdl.SCHEMA_FILE.read_text()
    assert committed == sdl.current_sdl(), "the schema changed: run `make schema` and commit"


def test_no_breaking_changes_against_the_last_release():
    changes = sdl.breaking_changes(sdl.RELEASE_FILE.read_text(), sdl.current_sdl())
    assert [c.description for c in changes] == [], (
        "breaking for clients of the last release (README: schema change control)"
    )


def test_breaking_changes_are_found():
    old = "type Query { player(id: ID!): Player }\ntype Player { id: ID! email: String }"
    new = "type Query { player(id: ID!, tenant: ID!): Player }\ntype Player { id: ID! }"
    described = sorted(c.description for c in sdl.breaking_changes(old, new))
    assert described == [
        "A required argument Query.player(tenant:) was added.",
        "Field Player.email was removed.",
    ]


def test_breaking_check_command_exits_non_zero_on_a_break(tmp_path, monkeypatch):
    release = tmp_path / "schema.release.graphql"
    release.write_text(sdl.current_sdl() + "\ntype Gone { id: ID! }\n")
    monkeypatch.setattr(sdl, "RELEASE_FILE", release)
    assert sdl.main(["--breaking"]) == 1
    clean = subprocess.run([sys.executable, "-m", "pms.sdl", "--breaking"], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert clean.returncode == 0 and "0 breaking change(s)" in clean.stdout


def deprecations(schema):
    """(coordinate, reason) of every deprecated field, argument and enum value."""
    for name, kind in schema.type_map.items():
        if isinstance(kind, GraphQLEnumType):
            yield from ((f"{name}.{v}", e.deprecation_reason) for v, e in kind.values.items())
        if not isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            continue
        for field_name, field in kind.fields.items():
            yield f"{name}.{field_name}", getattr(field, "deprecation_reason", None)
            for arg_name, arg in getattr(field, "args", {}).items():
                yield f"{name}.{field_name}({arg_name}:)", arg.deprecation_reason


def test_every_deprecation_carries_a_reason():
    found = list(deprecations(sdl.graphql_schema(sdl.current_sdl())))
    assert len(found) > 100  # the walk sees the schema
    vague = [c for c, reason in found if reason is not None and reason.strip() in VAGUE]
    assert vague == [], "say why and what to use instead: @deprecated(reason: ...)"


def test_a_deprecation_without_reason_is_caught():
    schema = sdl.graphql_schema(
        'type Query { a: Int @deprecated b: Int @deprecated(reason: "use c") }'
    )
    reasons = dict(deprecations(schema))
    assert reasons["Query.a"].strip() in VAGUE and reasons["Query.b"] == "use c"
