"""Who may resolve a federation entity through ``_entities``.

Every ``@key`` type declares, with ``@entity(...)``, the rule of the root field that reads
it (``Player`` is ``player(id)``'s ``player:read``, ``Wallet`` is ``Player.wallets``'s
``wallet:read``). The ``_entities`` wrapper (schema/entities.py) applies that one rule to
every representation, before loading (no read for a caller who could never see it) and
after (the loaded object's owner decides ``owner_ok``). A type without a declaration is
never resolved: a new entity is closed until someone gives it a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from app.core.principal import Principal, PrincipalKind
from permissions.roles import Permission
from permissions.rules import Require, Rule

T = TypeVar("T")
_ATTRIBUTE = "__pms_entity_rule__"


def entity(
    permission: Permission, *, owner_ok: bool = False, also: tuple[Permission, ...] = ()
) -> Callable[[T], T]:
    """Class decorator (above ``@strawberry.federation.type``): the entity's read rule."""
    rule = Rule(Require(permission, owner_ok=owner_ok, also=also), "null")

    def mark(cls: T) -> T:
        setattr(cls, _ATTRIBUTE, rule)
        return cls

    return mark


def entity_rule(cls: Any) -> Rule | None:
    rule = getattr(cls, _ATTRIBUTE, None)
    return rule if isinstance(rule, Rule) else None


def may_try(rule: Rule, principal: Principal) -> bool:
    """Before loading: could this caller see any such entity (as holder or as owner)?"""
    if rule.require.allows(principal, None):
        return True
    return rule.require.owner_ok and principal.kind is PrincipalKind.PLAYER


def may_see(rule: Rule, principal: Principal, loaded: Any) -> bool:
    """After loading: may the caller see this one (its owner is known now)?"""
    owner = loaded.owner_id() if hasattr(loaded, "owner_id") else None
    return rule.require.allows(principal, None if owner is None else str(owner))
