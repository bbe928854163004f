"""The analytics consumer: committed events -> daily rollups, each event once
(app/events/consumer.py), off the hot path. ``rebuild`` empties the rollups and replays
the outbox from its first event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import repository
from app.core.db import Database
from app.core.money import parse_amount
from app.core.settings import Settings
from app.events import consumer as events_consumer

CONSUMER = "analytics"
TYPES = (
    "player.registered",
    "wallet.deposited",
    "wallet.withdrawal_confirmed",
    "bet.settled",
    "bet.rolled_back",
)


def _minor(data: dict[str, Any], key: str) -> int:
    return parse_amount(str(data[key]), data["currency"], field=key, allow_zero=True)


def _day(event: Any) -> date:
    at: datetime = event.time or datetime.now(UTC)
    return at.astimezone(UTC).date()


async def apply_event(session: AsyncSession, event: Any) -> None:
    data = event.data if isinstance(event.data, dict) else json.loads(event.data)
    day = _day(event)
    if event.type == "player.registered":
        await repository.add_registration(session, day, str(data.get("country") or "??"))
    elif event.type == "wallet.deposited":
        amounts = {"deposits_count": 1, "deposits_minor": _minor(data, "amount")}
        await repository.add_money(session, day, data["currency"], amounts)
    elif event.type == "wallet.withdrawal_confirmed":
        amounts = {"withdrawals_count": 1, "withdrawals_minor": _minor(data, "amount")}
        await repository.add_money(session, day, data["currency"], amounts)
    elif event.type == "bet.settled":
        amounts = {"bets_count": 1, "stakes_minor": _minor(data, "stake"),
                   "wins_minor": _minor(data, "win")}  # fmt: skip
        await repository.add_money(session, day, data["currency"], amounts)
        player = data.get("playerId") or event.subject
        if player:
            await repository.mark_active(session, day, uuid.UUID(str(player)))
    elif event.type == "bet.rolled_back":
        await repository.add_count(session, day, event.type)


async def consume_events(db: Database, settings: Settings) -> int:
    """The periodic task (pms/tasks.py)."""

    async def handle(session: AsyncSession, event: Any) -> None:
        await apply_event(session, event)

    return await events_consumer.consume(db, CONSUMER, TYPES, handle)


async def rebuild(db: Database, settings: Settings) -> int:
    """Empty the rollups, rewind the consumer and replay every retained event; returns how
    many events were applied. Safe beside a running consumer (it waits for its lock)."""
    async with db.transaction() as session:
        await events_consumer.rewind(session, CONSUMER)
        await repository.clear(session)
    total = 0
    while applied := await events_consumer.consume(
        db, CONSUMER, TYPES, lambda s, e: apply_event(s, e), lag_seconds=0.0
    ):
        total += applied
    return total
