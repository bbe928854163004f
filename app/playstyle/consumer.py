"""Feeds play-style metrics from committed money events and announces each player's
changed metrics (``player_attributes_changed``: segments listen).

Runs as a background task off the outbox (app/events/consumer.py), so the wallet hot path
pays nothing for profiling, and each event counts exactly once.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.money import parse_amount
from app.core.settings import Settings
from app.players.hooks import player_attributes_changed
from app.playstyle import repository, service

CONSUMER = "playstyle"
TYPES = ("bet.settled", "bet.rolled_back", "wallet.deposited", "wallet.withdrawal_confirmed")

# What each event type moves, as segment-rule attribute names.
_BET_ATTRIBUTES = ("betCount", "betsPerDay", "avgBet", "ggr", "lastActiveDays", "activityStatus")
_PAYMENT_ATTRIBUTES = ("depositCount", "netDeposits", "lastActiveDays", "activityStatus")


def _minor(data: dict[str, Any], key: str) -> int:
    return parse_amount(data[key], data["currency"], field=key, allow_zero=True)


async def apply_event(session: AsyncSession, event: Any, settings: Settings) -> None:
    data = event.data if isinstance(event.data, dict) else json.loads(event.data)
    player_id = uuid.UUID(str(data.get("playerId") or event.subject))
    currency = data.get("currency", "")
    if event.type == "bet.rolled_back":
        if not data.get("gameRoundId"):
            return  # an unsettled bet's rollback: nothing was counted for it
        await _reverse_round(session, player_id, data["gameRoundId"], settings)
    elif event.type == "bet.settled":
        await service.record_bet(
            session, player_id,
            game_id=data.get("gameId") or "unknown",
            provider=data.get("gameProvider") or "unknown",
            category=data.get("gameCategory") or settings.bonus_default_game_category,
            stake_minor=_minor(data, "stake"), currency=currency, placed_at=event.time,
        )  # fmt: skip
        await service.record_win(session, player_id, _minor(data, "win"), currency, event.time)
    elif event.type == "wallet.deposited":
        await service.record_deposit(session, player_id, _minor(data, "amount"), currency,
                                     event.time)  # fmt: skip
    else:
        await service.record_withdrawal(session, player_id, _minor(data, "amount"), currency,
                                        event.time)  # fmt: skip
    # A new bet or payment can move the player into or out of activity/LTV segments.
    attributes = _BET_ATTRIBUTES if event.type.startswith("bet.") else _PAYMENT_ATTRIBUTES
    await player_attributes_changed(session, player_id, attributes, settings)


async def _reverse_round(
    session: AsyncSession, player_id: uuid.UUID, round_ref: str, settings: Settings
) -> None:
    settled = await repository.settled_round(session, player_id, round_ref)
    if settled is None:
        return  # never settled (or its event purged): nothing of it was counted
    settled_at, raw = settled
    data = raw if isinstance(raw, dict) else json.loads(raw)
    await service.reverse_bet(
        session, player_id,
        game_id=data.get("gameId") or "unknown",
        provider=data.get("gameProvider") or "unknown",
        category=data.get("gameCategory") or settings.bonus_default_game_category,
        stake_minor=_minor(data, "stake"), win_minor=_minor(data, "win"),
        currency=data["currency"], placed_at=settled_at,
    )  # fmt: skip


async def consume_money_events(db: Database, settings: Settings) -> int:
    from app.events.consumer import consume

    async def handle(session: AsyncSession, event: Any) -> None:
        await apply_event(session, event, settings)

    return await consume(db, CONSUMER, TYPES, handle)
