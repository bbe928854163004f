"""GDPR errors (each mapped to a GraphQL type in schema/error_registry.py)."""

from __future__ import annotations

from app.core.errors import DomainError


class ErasureBlocked(DomainError):
    """The player still has money in motion (a pending withdrawal or an open hold): it
    must be settled before the account can be erased."""

    code = "ERASURE_BLOCKED"
