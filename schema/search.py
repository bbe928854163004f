"""Searching on a field needs the right to read that field in full: the fields a caller
may search are derived from the Player type's own field rules (permissions/rules.py), so
a masked or hidden field is never a search target (a masked email would otherwise be
recoverable one character at a time)."""

from __future__ import annotations

from functools import cache

from strawberry.types import get_object_definition
from strawberry.types.field import StrawberryField

from app.core.principal import Principal
from app.players.repository import SEARCHABLE
from permissions.rules import rule_of


@cache
def _player_fields() -> dict[str, StrawberryField]:
    from schema.types.player import Player  # the type module imports much of schema/

    fields = get_object_definition(Player, strict=True).fields
    return {f.python_name: f for f in fields if f.python_name in SEARCHABLE}


def player_search_fields(principal: Principal) -> frozenset[str]:
    """The Player fields ``principal`` reads in full on any player (no ownership: a
    search runs over everybody), i.e. the fields its search may match."""
    allowed = set()
    for name, field in _player_fields().items():
        rule = rule_of(field)
        if rule is not None and rule.require.allows(principal, None):
            allowed.add(name)
    return frozenset(allowed)
