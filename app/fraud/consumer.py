"""Fraud signals from committed events (app/events/consumer.py: each event exactly once),
so the money path pays nothing for scoring. Each handler updates the player's baseline
or activity window, turns it into observations and scores them against the rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.money import parse_amount
from app.core.settings import Settings
from app.fraud import repository, service, signals
from app.fraud.models import Signal
from app.fraud.signals import Observation
from app.gdpr.guard import erased_among, is_erased

CONSUMER = "fraud"
LOGIN_SUCCEEDED = "player.login_succeeded"
LOGIN_FAILED = "player.login_failed"
DEVICE_SEEN = "player.device_seen"
TYPES = (
    "bet.settled", "bet.rolled_back", "wallet.deposited", "wallet.withdrawal_requested",
    "bonus.awarded", LOGIN_SUCCEEDED, LOGIN_FAILED, DEVICE_SEEN,
)  # fmt: skip
SHARED = {"device": Signal.SHARED_DEVICE, "ip": Signal.SHARED_IP, "payment": Signal.SHARED_PAYMENT}


def _minor(data: dict[str, Any], key: str) -> int:
    return parse_amount(data[key], data["currency"], field=key, allow_zero=True)


class _Event:
    """What a handler needs of one outbox row."""

    def __init__(self, row: Any) -> None:
        self.type: str = row.type
        self.data: dict[str, Any] = row.data if isinstance(row.data, dict) else json.loads(row.data)
        self.player_id = uuid.UUID(str(self.data.get("playerId") or row.subject))
        self.event_id: uuid.UUID | None = row.event_id
        self.at: datetime = row.time


def _player_of(row: Any) -> uuid.UUID | None:
    try:
        return _Event(row).player_id
    except (ValueError, TypeError, KeyError):  # the handler logs such an event itself
        return None


async def apply_event(
    session: AsyncSession, row: Any, settings: Settings, rules: service.RuleCache | None = None,
    erased: dict[uuid.UUID, bool] | None = None,
) -> list[str]:  # fmt: skip
    """Score one event; the keys of the rules it newly fired. ``erased``: what this
    transaction already read of whose erasure (its player row lock, taken by the first
    read, keeps an erasure out until commit)."""
    ev = _Event(row)
    rules = rules or service.RuleCache()
    # A round that may block a player locks the row as the block would, at once (a
    # FOR SHARE lock upgraded later deadlocks with another transaction doing the same).
    for_write = await rules.may_block(session)
    if await _erased(session, ev.player_id, erased, for_write):
        # Read before the erasure stripped it, or naming what it deleted (a payment
        # reference's hash): nothing about an erased player is kept again.
        return []
    observations = await _observations(session, ev, settings)
    fired: list[str] = []
    for player_id, obs in observations:
        fired += await service.observe(session, settings, player_id, obs, ev.event_id, ev.at, rules)
    return fired


async def _erased(
    session: AsyncSession, player_id: uuid.UUID, known: dict[uuid.UUID, bool] | None,
    for_write: bool,
) -> bool:  # fmt: skip
    if known is None:
        return await is_erased(session, player_id, for_write=for_write)
    if player_id not in known:
        known[player_id] = await is_erased(session, player_id, for_write=for_write)
    return known[player_id]


async def _observations(
    session: AsyncSession, ev: _Event, settings: Settings
) -> list[tuple[uuid.UUID, Observation]]:
    pid, at = ev.player_id, ev.at
    if ev.type == "bet.settled":
        baseline = await repository.lock_baseline(session, pid)
        obs = signals.on_bet(baseline, at, _minor(ev.data, "stake"), _minor(ev.data, "win"),
                             settings)  # fmt: skip
        await repository.save_baseline(session, pid, baseline)
        return [(pid, o) for o in obs]
    if ev.type == "bet.rolled_back":
        return await _rollback(session, ev, settings)
    if ev.type == "wallet.deposited":
        return await _deposit(session, ev, settings)
    if ev.type == "wallet.withdrawal_requested":
        return await _withdrawal(session, ev, settings)
    if ev.type == "bonus.awarded":
        mark = await repository.stake_total(session, pid)
        await repository.add_activity(session, pid, "bonus", at,
                                      amount=_minor(ev.data, "amount"), mark=mark)  # fmt: skip
        return []
    if ev.type == LOGIN_FAILED:
        await repository.add_activity(session, pid, "login_failed", at)
        return []
    return await _access(session, ev, settings)


async def _rollback(
    session: AsyncSession, ev: _Event, settings: Settings
) -> list[tuple[uuid.UUID, Observation]]:
    if ev.data.get("tombstone"):
        return []  # a rollback of a bet never seen: nothing was refunded
    await repository.add_activity(session, ev.player_id, "rollback", ev.at,
                                  ref=str(ev.data.get("gameRoundId") or "")[:64])  # fmt: skip
    window = settings.fraud_rollback_window_seconds
    n = await repository.count_activity(session, ev.player_id, "rollback", ev.at, window)
    out = [(ev.player_id, Observation(Signal.ROLLBACKS, float(n), {
        "rollbacks": n, "windowSeconds": window,
    }))]  # fmt: skip
    return out + await _provider_rollback(session, ev, settings)


async def _provider_rollback(
    session: AsyncSession, ev: _Event, settings: Settings
) -> list[tuple[uuid.UUID, Observation]]:
    """Rollbacks concentrated on one provider: every rollback by the same game-engine client
    across all players in the window, observed on the player rolled back now."""
    hold, rnd = ev.data.get("reservationId"), ev.data.get("gameRoundId")
    provider = await repository.rollback_client(session, ev.player_id, hold, rnd)
    if provider is None:
        return []
    ref = provider[:64]
    await repository.add_activity(session, ev.player_id, "provider_rollback", ev.at, ref=ref)
    window = settings.fraud_rollback_window_seconds
    n, players = await repository.count_ref_activity(
        session, "provider_rollback", ref, ev.at, window
    )
    return [(ev.player_id, Observation(Signal.PROVIDER_ROLLBACKS, float(n), {
        "provider": ref, "rollbacks": n, "players": players, "windowSeconds": window,
    }))]  # fmt: skip


async def _deposit(
    session: AsyncSession, ev: _Event, settings: Settings
) -> list[tuple[uuid.UUID, Observation]]:
    pid, at = ev.player_id, ev.at
    await repository.add_activity(session, pid, "deposit", at, amount=_minor(ev.data, "amount"))
    window = settings.fraud_velocity_window_seconds
    n = await repository.count_activity(session, pid, "deposit", at, window)
    out = [(pid, Observation(Signal.DEPOSIT_VELOCITY, float(n),
                             {"deposits": n, "windowSeconds": window}))]  # fmt: skip
    reference = ev.data.get("reference") or ev.data.get("paymentReference")
    if reference:
        out += await _shared(
            session, pid, "payment", signals.identifier_hash("payment", str(reference)), at
        )
    return out


async def _withdrawal(
    session: AsyncSession, ev: _Event, settings: Settings
) -> list[tuple[uuid.UUID, Observation]]:
    pid, at = ev.player_id, ev.at
    amount = _minor(ev.data, "amount")
    await repository.add_activity(session, pid, "withdrawal", at, amount=amount)
    window = settings.fraud_velocity_window_seconds
    n = await repository.count_activity(session, pid, "withdrawal", at, window)
    out = [(pid, Observation(Signal.WITHDRAWAL_VELOCITY, float(n),
                             {"withdrawals": n, "windowSeconds": window}))]  # fmt: skip
    since = at - timedelta(days=settings.fraud_bonus_window_days)
    bonus = await repository.last_activity(session, pid, "bonus", since, at)
    if bonus is not None:
        deposit = await repository.last_activity(session, pid, "deposit", since, bonus.at)
        wagered = await repository.stake_total(session, pid) - int(bonus.mark)
        out.append((pid, signals.bonus_abuse(
            int(deposit.amount) if deposit else 0, int(bonus.amount), wagered, amount
        )))  # fmt: skip
    return out


async def _access(
    session: AsyncSession, ev: _Event, settings: Settings
) -> list[tuple[uuid.UUID, Observation]]:
    """A sign-in or a money call carrying a device fingerprint and an IP (hashes only)."""
    pid, at = ev.player_id, ev.at
    out: list[tuple[uuid.UUID, Observation]] = []
    device, ip = ev.data.get("deviceHash"), ev.data.get("ipHash")
    new_device = False
    if device:
        new_device = await repository.seen_identifier(session, pid, "device", device, at)
        out += await _shared(session, pid, "device", device, at, new=new_device)
    if ip:
        out += await _shared(session, pid, "ip", ip, at)
    if ev.type == LOGIN_SUCCEEDED and new_device:
        window = settings.fraud_failed_login_window_seconds
        failed = await repository.count_activity(session, pid, "login_failed", at, window)
        if failed:
            out.append((pid, Observation(Signal.FAILED_LOGINS_NEW_DEVICE, float(failed), {
                "failedLogins": failed, "windowSeconds": window, "deviceHash": device,
            })))  # fmt: skip
    return out


async def _shared(
    session: AsyncSession, pid: uuid.UUID, kind: str, value_hash: str, at: datetime,
    *, new: bool | None = None,
) -> list[tuple[uuid.UUID, Observation]]:  # fmt: skip
    """When an identifier gains an account, every account on it is observed again (the
    first two of three accounts on one device are as suspect as the third)."""
    if new is None:
        new = await repository.seen_identifier(session, pid, kind, value_hash, at)
    if not new:
        return []
    accounts = await repository.sharing(session, kind, value_hash)
    if len(accounts) < 2:
        return []
    evidence = {"kind": kind, "hash": value_hash, "accounts": [str(a) for a in accounts]}
    return [(a, Observation(SHARED[kind], float(len(accounts)), evidence)) for a in accounts]


# After a round: the players an AUTO_BLOCK rule blocked (the composition root ends their
# sessions; fraud does not know identity's session store).
BlockedCallback = Callable[[list[uuid.UUID]], Awaitable[None]]


async def consume_events(
    db: Database, settings: Settings, on_blocked: BlockedCallback | None = None
) -> int:
    from app.events.consumer import consume

    rules = service.RuleCache()
    # Per round: a player's erasure is read once (under the row lock it takes). A rolled
    # back first try gave its locks back, so both caches start again.
    erased: dict[uuid.UUID, bool] = {}

    async def handle(session: AsyncSession, row: Any) -> None:
        await apply_event(session, row, settings, rules, erased)

    async def lock_players(session: AsyncSession, rows: Sequence[Any]) -> None:
        """Every player the round's events name, locked in id order (as import and
        consent batches lock them) before any event takes one: in event order, a round
        could hold one of a batch's players while waiting for another the batch held."""
        ids = sorted({pid for row in rows if (pid := _player_of(row)) is not None})
        found = await erased_among(session, ids, for_write=await rules.may_block(session))
        erased.update({pid: pid in found for pid in ids})

    def rolled_back() -> None:
        rules.blocked.clear()
        erased.clear()  # the rows stay locked (lock_players' savepoint was released)

    handled = await consume(db, CONSUMER, TYPES, handle, on_rollback=rolled_back,
                            prepare=lock_players)  # fmt: skip
    if rules.blocked and on_blocked is not None:
        await on_blocked(sorted(rules.blocked))
    return handled
