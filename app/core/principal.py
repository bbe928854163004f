"""Who is calling: a player, a staff member, a service client, or nobody."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    PLAYER = "player"
    STAFF = "staff"
    SERVICE = "service"
    SYSTEM = "system"  # background jobs and CLI


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def key(self) -> str:
        """Stable text naming this caller: audit actor, idempotency-key scope."""
        return f"{self.kind.value}:{self.id}" if self.id else self.kind.value

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalKind.ANONYMOUS)

    @classmethod
    def system(cls, name: str = "pms") -> Principal:
        return cls(PrincipalKind.SYSTEM, id=name)
