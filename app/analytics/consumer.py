"""The analytics consumer: committed events -> rollups, each event once
(app/events/consumer.py), off the hot path. ``rebuild`` empties the rollups and replays
the outbox from its first event."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import facts, repository
from app.core.db import Database
from app.core.money import parse_amount
from app.core.settings import Settings
from app.events import consumer as events_consumer

CONSUMER = "analytics"
REGISTRATION_FAILED = "player.registration_failed"
TYPES = (
    "player.registered",
    REGISTRATION_FAILED,
    "wallet.deposited",
    "wallet.withdrawal_confirmed",
    "bet.settled",
    "bet.rolled_back",
    "kyc.status_changed",
    "bonus.awarded",
    "bonus.fulfilled",
    "segment.entered",
    "segment.left",
)
KYC_SUBMITTED = frozenset({"PENDING", "MANUAL_REVIEW"})
KYC_DECIDED = frozenset({"VERIFIED", "REJECTED"})


def _minor(data: dict[str, Any], key: str) -> int:
    return parse_amount(str(data[key]), data["currency"], field=key, allow_zero=True)


def _at(event: Any) -> datetime:
    at: datetime = event.time or datetime.now(UTC)
    return at.astimezone(UTC)


def _player(event: Any, data: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(str(data.get("playerId") or event.subject))


class _Event:
    """One outbox row as the handlers need it."""

    def __init__(self, row: Any) -> None:
        self.row = row
        self.data: dict[str, Any] = row.data if isinstance(row.data, dict) else json.loads(row.data)
        self.at = _at(row)
        self.day: date = self.at.date()

    @property
    def player(self) -> uuid.UUID:
        return _player(self.row, self.data)

    async def player_day(self, session: AsyncSession, amounts: dict[str, int]) -> None:
        currency = self.data["currency"]
        new = await repository.add_player_day(session, self.day, self.player, currency, amounts)
        await facts.add_player_day(session, self.day, self.player, currency, amounts, new)


async def _registered(session: AsyncSession, ev: _Event) -> None:
    d = ev.data
    await repository.add_registration(session, ev.day, str(d.get("country") or "??"))
    dims = {"country": str(d.get("country") or "??"), "currency": str(d.get("currency") or "XXX"),
            "source": d.get("trafficSource"), "affiliate": d.get("affiliateCode")}  # fmt: skip
    if await repository.add_player(session, ev.player, ev.at, dims):
        await facts.add_registration(session, ev.day, ev.player)


async def _registration_failed(session: AsyncSession, ev: _Event) -> None:
    await repository.add_count(session, ev.day, REGISTRATION_FAILED)
    for problem in ev.data.get("problems") or []:
        await repository.add_registration_error(
            session, ev.day, str(problem["field"]), str(problem["reason"])
        )


async def _deposited(session: AsyncSession, ev: _Event) -> None:
    amount = _minor(ev.data, "amount")
    await repository.add_money(session, ev.day, ev.data["currency"],
                               {"deposits_count": 1, "deposits_minor": amount})  # fmt: skip
    await ev.player_day(session, {"deposits_count": 1, "deposits_minor": amount})
    player = await repository.set_first_deposit(session, ev.player, ev.at)
    if player is not None:
        await facts.add_first_deposit(session, player, ev.at)
        await facts.add_funnel_milestone(session, player, "deposited")


async def _withdrawn(session: AsyncSession, ev: _Event) -> None:
    amount = _minor(ev.data, "amount")
    await repository.add_money(session, ev.day, ev.data["currency"],
                               {"withdrawals_count": 1, "withdrawals_minor": amount})  # fmt: skip
    await ev.player_day(session, {"withdrawals_count": 1, "withdrawals_minor": amount})


async def _settled(session: AsyncSession, ev: _Event) -> None:
    stake, win = _minor(ev.data, "stake"), _minor(ev.data, "win")
    amounts = {"bets_count": 1, "stakes_minor": stake, "wins_minor": win}
    await repository.add_money(session, ev.day, ev.data["currency"], amounts)
    await repository.mark_active(session, ev.day, ev.player)
    await ev.player_day(session, amounts)
    player = await repository.set_milestone(session, ev.player, "first_bet_at", ev.at)
    if player is not None:
        await facts.add_funnel_milestone(session, player, "bet")


async def _rolled_back(session: AsyncSession, ev: _Event) -> None:
    await repository.add_count(session, ev.day, "bet.rolled_back")
    if ev.data.get("tombstone") or "currency" not in ev.data:
        return  # a bet never seen (or an event from before amounts were carried)
    amounts = {"rollbacks_count": 1}
    if "stake" in ev.data:  # a settled round: its stake and win are undone that day
        amounts |= {"stakes_minor": -_minor(ev.data, "stake"),
                    "wins_minor": -_minor(ev.data, "win")}  # fmt: skip
    await ev.player_day(session, amounts)


async def _kyc(session: AsyncSession, ev: _Event) -> None:
    status = str(ev.data.get("confirmStatus"))
    if status in KYC_SUBMITTED:
        await repository.set_milestone(session, ev.player, "kyc_submitted_at", ev.at)
    elif status in KYC_DECIDED:
        player = await repository.set_kyc_decision(session, ev.player, status, ev.at)
        if player is not None:
            await facts.add_kyc_decision(session, player, ev.at)
            await facts.add_funnel_milestone(session, player, "verified")


async def _bonus_awarded(session: AsyncSession, ev: _Event) -> None:
    await ev.player_day(session, {"bonuses_awarded": 1})


async def _bonus_fulfilled(session: AsyncSession, ev: _Event) -> None:
    """Bonus cost is what the house turns from bonus into real money on conversion."""
    cost = _minor(ev.data, "released")
    await ev.player_day(session, {"bonuses_fulfilled": 1, "bonus_cost_minor": cost})


async def _segment(session: AsyncSession, ev: _Event) -> None:
    segment = uuid.UUID(str(ev.data["segmentId"]))
    member = ev.row.type == "segment.entered"
    if await repository.set_segment_member(session, segment, ev.player, member):
        # the member's history moves with them: in the segment's facts from now on, or out
        await repository.move_segment_history(session, segment, ev.player, 1 if member else -1)


HANDLERS: dict[str, Callable[[AsyncSession, _Event], Awaitable[None]]] = {
    "player.registered": _registered,
    REGISTRATION_FAILED: _registration_failed,
    "wallet.deposited": _deposited,
    "wallet.withdrawal_confirmed": _withdrawn,
    "bet.settled": _settled,
    "bet.rolled_back": _rolled_back,
    "kyc.status_changed": _kyc,
    "bonus.awarded": _bonus_awarded,
    "bonus.fulfilled": _bonus_fulfilled,
    "segment.entered": _segment,
    "segment.left": _segment,
}


async def apply_event(session: AsyncSession, event: Any) -> None:
    await HANDLERS[event.type](session, _Event(event))


async def consume_events(db: Database, settings: Settings) -> int:
    """The periodic task (pms/tasks.py)."""
    return await events_consumer.consume(db, CONSUMER, TYPES, apply_event)


async def rebuild(
    db: Database, settings: Settings, progress: Callable[[int, int], None] | None = None
) -> int:
    """Empty the rollups, rewind the consumer and replay every retained event; returns how
    many events were applied, reporting ``(done, total)`` to ``progress``. Safe beside a
    running consumer (it waits for its lock)."""
    async with db.transaction() as session:
        await events_consumer.rewind(session, CONSUMER)
        await repository.clear(session)
        expected = await events_consumer.retained(session, TYPES)
    total = 0
    while applied := await events_consumer.consume(
        db, CONSUMER, TYPES, apply_event, lag_seconds=0.0
    ):
        total += applied
        if progress is not None:
            progress(total, max(expected, total))
    if progress is not None:
        progress(total, total)
    return total
