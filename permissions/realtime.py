"""Who may watch what live, manage webhooks, and read players over REST.

Kept as plain predicates on the Principal so the role -> permission matrix (identity
work, ``permissions/roles.py``) can replace the role sets below in one place.
"""

from __future__ import annotations

from app.identity.principal import Principal, PrincipalKind

# Staff roles allowed to watch any player's live data and the back-office event feed.
WATCH_ROLES = frozenset({"ADMIN", "SUPPORT", "COMPLIANCE"})
FEED_ROLES = frozenset({"ADMIN", "SUPPORT", "COMPLIANCE", "MARKETER"})
WEBHOOK_ROLES = frozenset({"ADMIN"})
READ_SCOPE = "players:read"


def may_watch_player(principal: Principal, player_id: str) -> bool:
    """Balance and verification updates: a player their own, staff by role."""
    if principal.kind is PrincipalKind.PLAYER:
        return principal.id == player_id
    if principal.kind is PrincipalKind.STAFF:
        return bool(principal.roles & WATCH_ROLES)
    return principal.kind is PrincipalKind.SERVICE and READ_SCOPE in principal.scopes


def may_watch_feed(principal: Principal) -> bool:
    return principal.kind is PrincipalKind.STAFF and bool(principal.roles & FEED_ROLES)


def may_manage_webhooks(principal: Principal) -> bool:
    return principal.kind is PrincipalKind.STAFF and bool(principal.roles & WEBHOOK_ROLES)


def may_read_player(principal: Principal, player_id: str | None) -> bool:
    """REST reads: ``player_id`` None means the player list."""
    if principal.kind is PrincipalKind.PLAYER:
        return player_id is not None and principal.id == player_id
    if principal.kind is PrincipalKind.STAFF:
        return bool(principal.roles)
    return principal.kind is PrincipalKind.SERVICE and READ_SCOPE in principal.scopes
