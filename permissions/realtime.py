"""Access checks of the live and REST entry points (subscriptions, webhooks, REST reads),
expressed through THE matrix in permissions/roles.py, so there is still one place where
a role or scope gains or loses a permission."""

from __future__ import annotations

from app.core.principal import Principal
from permissions.roles import Permission as P
from permissions.roles import is_allowed


def may_watch_balance(principal: Principal, player_id: str) -> bool:
    return is_allowed(principal, P.WALLET_READ, owner_ok=True, owner=player_id)


def may_watch_verification(principal: Principal, player_id: str) -> bool:
    return is_allowed(principal, P.PLAYER_READ, owner_ok=True, owner=player_id)


def may_watch_reality_check(principal: Principal, player_id: str) -> bool:
    return is_allowed(principal, P.RG_READ, owner_ok=True, owner=player_id)


def may_watch_feed(principal: Principal) -> bool:
    return is_allowed(principal, P.EVENT_READ)


def may_watch_alerts(principal: Principal) -> bool:
    return is_allowed(principal, P.ALERT_READ)


def may_read_player(principal: Principal, player_id: str | None) -> bool:
    """REST reads: ``player_id`` None means the player list (no owner to match)."""
    return is_allowed(principal, P.PLAYER_READ, owner_ok=True, owner=player_id)


def may_read_balance(principal: Principal, player_id: str) -> bool:
    return is_allowed(principal, P.WALLET_READ, owner_ok=True, owner=player_id)


def may_read_segments(principal: Principal, player_id: str) -> bool:
    return is_allowed(principal, P.SEGMENT_READ, owner_ok=True, owner=player_id)
