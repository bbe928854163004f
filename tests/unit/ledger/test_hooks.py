"""The extension registry and the composition of its parts into the two statements."""

from __future__ import annotations

import pytest

from app.ledger import hooks
from app.ledger.repository import LoadParts, compose_load
from app.ledger.write_repository import APPLY_CORE_PARAMETERS, ApplyParts, compose_apply


class _Probe(hooks.ExtensionBase):
    def __init__(self, name: str, apply_parts: ApplyParts, load_parts: LoadParts) -> None:
        self.name = name
        self.apply_parts = apply_parts
        self.load_parts = load_parts


def test_extension_parameters_are_numbered_after_the_core_and_each_other():
    first = ApplyParts(ctes=", a AS (SELECT $e0::int, $e1::text)", columns=", 1 AS a", parameters=2)
    second = ApplyParts(ctes=", b AS (SELECT $e0::int)", columns=", 2 AS b", parameters=1)
    sql = compose_apply([first, second])
    n = APPLY_CORE_PARAMETERS
    assert f", a AS (SELECT ${n + 1}::int, ${n + 2}::text)" in sql
    assert f", b AS (SELECT ${n + 3}::int)" in sql
    assert "$e" not in sql
    # One statement: the extension CTEs sit between the core's and the final SELECT.
    assert (
        sql.index(", a AS") < sql.index("SELECT (SELECT count(*) FROM wal)") < sql.index("1 AS a")
    )


def test_an_extension_using_more_parameters_than_it_declares_is_refused():
    with pytest.raises(ValueError, match=r"\$e1"):
        compose_apply([ApplyParts(ctes=", x AS (SELECT $e1::int)", parameters=1)])


def test_load_parts_follow_the_core_locks():
    sql = compose_load(
        [LoadParts(ctes=", z AS (SELECT 1 AS v)", columns=", (SELECT v FROM z) AS z")]
    )
    assert sql.index("), r AS (") < sql.index(", z AS (") < sql.index("SELECT EXISTS")
    assert sql.rstrip().endswith("AS z")


def test_registration_is_idempotent_by_name_and_recomposes_the_statements():
    probe = _Probe("probe", ApplyParts(ctes=", p AS (SELECT $e0::int)", parameters=1), LoadParts())
    before = hooks.statements()
    try:
        hooks.register(probe)
        hooks.register(_Probe("probe", ApplyParts(), LoadParts()))  # same name: kept first
        assert [e for e in hooks.registered() if e.name == "probe"] == [probe]
        after = hooks.statements()
        assert after is not before and ", p AS (SELECT $" in after.apply.whole
        assert after.extensions[-1] is probe
        hooks.require("probe")
    finally:
        hooks.unregister("probe")
    assert ", p AS" not in hooks.statements().apply.whole
    with pytest.raises(RuntimeError, match="probe"):
        hooks.require("probe")


def test_the_composition_root_registers_the_bonus_extension():
    from pms.hooks import register_all

    register_all()
    register_all()
    names = [e.name for e in hooks.registered()]
    assert names.count("bonuses") == 1
    assert "pbu AS (" in hooks.statements().apply.whole and "pb AS (" in hooks.statements().load
