"""The alerts consumer: committed deposits and reversals -> per-minute counters, each
event once (app/events/consumer.py), bucketed by the event's own time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import repository
from app.alerts.sources import REVERSALS, deposit_counter
from app.core import counters
from app.core.db import Database
from app.core.money import parse_amount
from app.core.settings import Settings
from app.events import consumer as events_consumer

CONSUMER = "alerts"
TYPES = ("wallet.deposited", "bet.rolled_back")


async def apply_event(session: AsyncSession, event: Any) -> None:
    data = event.data if isinstance(event.data, dict) else json.loads(event.data)
    bucket = counters.minute(event.time or datetime.now(UTC))
    if event.type == "wallet.deposited":
        currency = str(data["currency"])
        amount = parse_amount(str(data["amount"]), currency, allow_zero=True)
        await repository.add_counts(session, [(bucket, deposit_counter(currency), 1, amount)])
    elif event.type == "bet.rolled_back" and not data.get("tombstone"):
        await repository.add_counts(session, [(bucket, REVERSALS, 1, 0)])


async def consume_events(db: Database, settings: Settings) -> int:
    return await events_consumer.consume(db, CONSUMER, TYPES, apply_event)
