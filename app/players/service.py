"""Player rules: registration and lookups. Services take a session and never commit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.currencies import FREE_SPINS_UNIT
from app.core.db import unique_violation_constraint
from app.core.errors import AlreadyExists, NotFound, ValidationFailed
from app.core.passwords import hash_password
from app.core.settings import Settings
from app.events import outbox
from app.players import repository
from app.players.models import Player, PlayerStatus
from app.players.repository import PlayerFilter, PlayerPosition
from app.players.validation import RegistrationData, normalise_email, registration_problems
from app.wallets.models import Wallet, WalletKind

_DUPLICATE_FIELDS = {
    "uq_players_email": ("email", "a player with this email already exists"),
    "uq_players_login_lower": ("login", "this login is taken"),
}


def wallet_currency(kind: WalletKind, player_currency: str) -> str:
    """Money wallets hold the player's currency; the free-spin wallet counts spins."""
    return FREE_SPINS_UNIT if kind is WalletKind.FREESPINS else player_currency


async def register_player(
    session: AsyncSession, data: RegistrationData, settings: Settings, today: date | None = None
) -> Player:
    """Create a player and its four wallets in the caller's transaction.

    Uniqueness of email and login is enforced by unique indexes, not by a prior read, so
    two concurrent registrations with one email yield exactly one player.
    """
    problems = registration_problems(data, settings, today or datetime.now(UTC).date())
    if problems:
        raise ValidationFailed(problems)
    # Hash before the first statement: the session holds no pooled connection yet.
    password_hash = await hash_password(data.password, settings)
    player = Player(
        id=uuid.uuid4(),
        email=normalise_email(data.email) or "",
        login=data.login,
        password_hash=password_hash,
        country=data.country,
        currency=data.currency,
        birth_date=data.birth_date,
        locale=data.locale,
        traffic_source=data.traffic_source,
        affiliate_code=data.affiliate_code,
    )
    try:
        await repository.insert(session, player)
    except IntegrityError as exc:
        duplicate = _DUPLICATE_FIELDS.get(unique_violation_constraint(exc) or "")
        if duplicate is None:
            raise
        raise AlreadyExists(*duplicate) from None
    await repository.insert_wallets(
        session,
        (
            Wallet(player_id=player.id, kind=kind, currency=wallet_currency(kind, data.currency))
            for kind in WalletKind
        ),
    )
    await outbox.record(
        session,
        "player.registered",
        str(player.id),
        {
            "playerId": str(player.id),
            "country": player.country,
            "currency": player.currency,
            "trafficSource": player.traffic_source,
            "affiliateCode": player.affiliate_code,
        },
    )
    return player


async def get_player(session: AsyncSession, player_id: uuid.UUID) -> Player | None:
    return await repository.get(session, player_id)


async def lock_player(session: AsyncSession, player_id: uuid.UUID) -> Player | None:
    """The player row locked as ``set_status`` locks it, for a caller that must take it
    before other rows it locks (its lock order) and may change the status after."""
    return await repository.lock(session, player_id)


async def list_players(
    session: AsyncSession, flt: PlayerFilter, limit: int, after: PlayerPosition | None
) -> tuple[list[Player], bool, int]:
    rows, has_next = await repository.page(session, flt, limit, after)
    return rows, has_next, await repository.count(session, flt)


async def set_status(
    session: AsyncSession, player_id: uuid.UUID, status: PlayerStatus, reason: str, actor: str
) -> Player:
    """Block, unblock, self-exclude or close an account; writes ``player.status_changed``.

    The player row is locked, so the event order matches the order of the changes. A
    closed account stays closed. The ledger reads the status on every debit (AccountBlocked).
    """
    reason = reason.strip()
    if not 3 <= len(reason) <= 500:
        raise ValidationFailed.single("reason", "say why, in 3 to 500 characters")
    player = await repository.lock(session, player_id)
    if player is None:
        raise NotFound("no such player")
    if player.status == status:
        return player
    if player.status == PlayerStatus.CLOSED:
        raise ValidationFailed.single("status", "a closed account cannot be reopened")
    previous, player.status = player.status, status
    await repository.flush(session)
    await outbox.record(
        session,
        "player.status_changed",
        str(player.id),
        {"playerId": str(player.id), "from": previous, "to": status.value, "reason": reason,
         "actor": actor},
    )  # fmt: skip
    return player
