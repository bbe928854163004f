"""Every field but the subscriptions runs a resolver planned at build time
(schema/field_plans.py); the behaviour behind them is what the permission, hardening and
wallet tests check through HTTP."""

from __future__ import annotations

from graphql import GraphQLObjectType

from app.core.settings import Settings
from pms.schema import build_schema
from schema.field_plans import _plan, planned_fields


def test_only_subscriptions_keep_strawberrys_resolvers() -> None:
    schema = build_schema(Settings(_env_file=None, env="test"))
    kept = [
        f"{type_.name}.{name}"
        for type_ in schema._schema.type_map.values()
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if _plan(field, schema) is None
    ]
    assert kept and all(name.startswith("Subscription.") for name in kept)
    counts = planned_fields(schema)
    assert counts["resolver"] > 100 and counts["attribute"] > 500


def test_money_mutations_run_the_guard_over_a_planned_resolver() -> None:
    schema = build_schema(Settings(_env_file=None, env="test"))
    field = schema._schema.mutation_type.fields["reserveBet"]  # type: ignore[union-attr]
    inner = [c.cell_contents for c in field.resolve.__closure__ or ()]  # type: ignore[union-attr]
    assert any(getattr(f, "__qualname__", "") == "_planned.<locals>.resolve" for f in inner)


def test_a_rule_guarded_column_is_planned_without_strawberrys_chain() -> None:
    """Player.login (a column behind ``required(player:read, owner_ok)``) gets the rule's
    own attribute resolver: the owner and staff see it, another player is refused with
    the error Strawberry's permission extension raises; email (masked) keeps the chain."""
    import uuid
    from types import SimpleNamespace

    import pytest

    from app.core.principal import Principal, PrincipalKind

    schema = build_schema(Settings(_env_file=None, env="test"))
    fields = schema._schema.type_map["Player"].fields  # type: ignore[union-attr]
    login = fields["login"].resolve
    assert login is not None and login.__qualname__.endswith("attribute_resolver.<locals>.resolve")
    assert fields["email"].resolve.__qualname__ == "_planned.<locals>.resolve"  # type: ignore[union-attr]

    player_id = str(uuid.uuid4())
    source = SimpleNamespace(id=player_id, login="Lucky7", owner_id=lambda: player_id)

    def as_(principal: Principal) -> SimpleNamespace:
        return SimpleNamespace(context=SimpleNamespace(principal=principal))

    owner = Principal(PrincipalKind.PLAYER, id=player_id)
    other = Principal(PrincipalKind.PLAYER, id=str(uuid.uuid4()))
    staff = Principal(PrincipalKind.STAFF, id="s1", roles=frozenset({"SUPPORT"}))
    assert login(source, as_(owner)) == "Lucky7"
    assert login(source, as_(staff)) == "Lucky7"
    with pytest.raises(Exception, match="Forbidden"):
        login(source, as_(other))
