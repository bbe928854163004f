"""Data for the export tests: players with consents and statuses, money in two currencies."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

from app.core.db import Database
from app.core.settings import Settings
from app.ledger import payments
from app.players import service as players
from app.players.models import PlayerStatus
from app.profiles import service as profiles
from tests.auth import service_principal
from tests.factories import create_player

_keys = itertools.count(1)


async def player_with_consents(
    db: Database, settings: Settings, *, email: bool = False, sms: bool = False, **overrides
) -> uuid.UUID:
    player = await create_player(db, settings, **overrides)
    async with db.transaction() as s:
        await profiles.update_preferences(
            s, player.id, {"marketingConsents": {"email": email, "sms": sms}},
            actor="test", settings=settings,
        )  # fmt: skip
    return player.id


async def set_status(db: Database, player_id: uuid.UUID, status: PlayerStatus) -> None:
    async with db.transaction() as s:
        await players.set_status(s, player_id, status, "requested by the player", "test")


async def deposit(
    db: Database, settings: Settings, player_id: uuid.UUID, amount: str, currency: str
) -> None:
    async with db.transaction() as s:
        await payments.deposit(
            s, settings, service_principal("wallet:operate"), player_id=player_id,
            amount=amount, currency=currency, payment_reference=f"pay-{next(_keys)}",
            idempotency_key=f"dep-{uuid.uuid4()}",
        )  # fmt: skip


def read_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}
