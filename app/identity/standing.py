"""Whether an account may hold a session at all: read at sign-in and again at every
refresh, so a blocked, closed or deleted account cannot mint new tokens."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import col

from app.core.db import Database
from app.core.principal import Principal, PrincipalKind
from app.identity.models import StaffMember, StaffStatus
from app.players.models import Player, PlayerStatus

# Self-excluded players still sign in (to see their account and withdraw); the ledger
# refuses their debits.
LOGIN_ALLOWED_PLAYER_STATUSES = frozenset(
    {PlayerStatus.ACTIVE.value, PlayerStatus.SELF_EXCLUDED.value}
)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def may_hold_session(db: Database, principal: Principal) -> bool:
    """True for an existing player in a sign-in status or an active staff member; service
    clients are checked by the token endpoint itself."""
    if principal.kind is PrincipalKind.SERVICE:
        return True
    key = _uuid(principal.id or "")
    if key is None:
        return False
    async with db.read_session() as session:
        if principal.kind is PrincipalKind.PLAYER:
            status = await session.scalar(select(col(Player.status)).where(col(Player.id) == key))
            return status in LOGIN_ALLOWED_PLAYER_STATUSES
        if principal.kind is PrincipalKind.STAFF:
            staff = await session.scalar(
                select(col(StaffMember.status)).where(col(StaffMember.id) == key)
            )
            return staff == StaffStatus.ACTIVE
    return False
