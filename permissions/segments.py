"""Segment rules obey the field rules: a segment's members reveal the value of every
attribute its rule tests, so using an attribute needs the permission to read it
(``Attribute.permission`` in app/segments/rules.py, a name from permissions/roles.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.principal import Principal
from app.segments.rules import ATTRIBUTES, attributes_used
from permissions.roles import Permission, is_allowed


@dataclass(frozen=True)
class DeniedAttribute:
    attribute: str
    path: str
    permission: Permission

    @property
    def message(self) -> str:
        return f"the rule uses {self.attribute} ({self.path}), which needs {self.permission}"


def attribute_permission(attribute: str) -> Permission:
    return Permission(ATTRIBUTES[attribute].permission)


def denied_attribute(principal: Principal, rule: Any) -> DeniedAttribute | None:
    """The first attribute of ``rule`` the caller may not read, if any."""
    for attribute, path in attributes_used(rule):
        permission = attribute_permission(attribute)
        if not is_allowed(principal, permission):
            return DeniedAttribute(attribute, path, permission)
    return None
