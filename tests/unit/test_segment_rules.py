"""The segment rule language: validation and compilation to parameterised SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from app.core.settings import Settings
from app.segments import rules


def leaf(attr="country", op="eq", value="DE"):
    return {"attr": attr, "op": op, "value": value}


def nested(depth: int):
    node = leaf()
    for _ in range(depth - 1):
        node = {"not": node}
    return node


@pytest.mark.parametrize(
    ("rule", "reason", "path"),
    [
        (leaf(attr="email"), "UNKNOWN_ATTRIBUTE", "$.attr"),
        (leaf(op="like"), "UNKNOWN_OPERATOR", "$.op"),
        (leaf(op="gt"), "UNSUPPORTED_OPERATOR", "$.op"),
        (leaf("vipLevel", "gte", "3"), "INVALID_VALUE", "$.value"),
        (leaf("vipLevel", "gte", True), "INVALID_VALUE", "$.value"),
        (leaf("country", "in", []), "INVALID_VALUE", "$.value"),
        (leaf("country", "in", ["DE", 1]), "INVALID_VALUE", "$.value"),
        ({"and": [leaf(), {"or": [leaf(attr="x")]}]}, "UNKNOWN_ATTRIBUTE", "$.and[1].or[0].attr"),
        (nested(6), "TOO_DEEP", "$.not.not.not.not.not"),
        ({"or": [leaf()] * 60}, "TOO_MANY_NODES", "$.or[49]"),
        ({"and": []}, "MALFORMED", "$"),
        ({"attr": "country", "op": "eq", "value": "DE", "sql": "1=1"}, "MALFORMED", "$"),
        ([leaf()], "MALFORMED", "$"),
    ],
)
def test_invalid_rules_name_the_problem(rule, reason, path):
    with pytest.raises(rules.InvalidRule) as exc:
        rules.validate(rule)
    assert (exc.value.reason, exc.value.path, exc.value.code) == (
        reason, path, "INVALID_SEGMENT_RULE",
    )  # fmt: skip


def test_depth_limit_is_inclusive():
    rules.validate(nested(5))


def test_values_are_bound_parameters_never_interpolated():
    hostile = "DE'; DROP TABLE players; --"
    rule = {"and": [leaf(value=hostile), leaf("tags", "contains", "vip"),
                    leaf("netDeposits", "gte", 10000)]}  # fmt: skip
    rules.validate(rule)
    stmt = (
        select(rules.P.c.id)
        .select_from(rules.BASE)
        .where(rules.compile_rule(rule, Settings(_env_file=None)))
    )
    compiled = stmt.compile(dialect=postgresql.dialect())
    assert hostile not in str(compiled)
    assert hostile in compiled.params.values()


def test_every_rule_attribute_names_a_permission_of_the_matrix():
    from app.segments.rules import ATTRIBUTES
    from permissions.roles import Permission
    from permissions.segments import attribute_permission

    assert {a: attribute_permission(a) for a in ("riskLevel", "country", "betCount")} == {
        "riskLevel": Permission.KYC_READ,
        "country": Permission.PLAYER_READ,
        "betCount": Permission.SEGMENT_READ,
    }
    assert all(Permission(a.permission) for a in ATTRIBUTES.values())


def test_attributes_used_lists_every_leaf_with_its_path():
    from app.segments.rules import attributes_used

    risk = {"attr": "riskLevel", "op": "eq", "value": "HIGH"}
    rule = {"and": [{"attr": "country", "op": "eq", "value": "DE"}, {"not": {"or": [risk]}}]}
    assert list(attributes_used(rule)) == [
        ("country", "$.and[0].attr"),
        ("riskLevel", "$.and[1].not.or[0].attr"),
    ]
    assert list(attributes_used("nonsense")) == []
