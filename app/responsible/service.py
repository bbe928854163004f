"""Responsible-gambling rules: setting, confirming and removing limits; breaks,
self-exclusions and their ADMIN lift. Takes the caller's session, never commits; every
change writes its outbox event and audit row in the same transaction."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.errors import NotFound, ValidationFailed
from app.core.money import format_amount, parse_amount
from app.core.settings import Settings
from app.events import outbox
from app.identity.hooks import SessionChange
from app.players import service as players
from app.players.hooks import player_attributes_changed
from app.players.models import PlayerStatus
from app.responsible import repository as repo
from app.responsible.errors import (
    CoolDownActive,
    ExclusionActive,
    LimitChangeNotFound,
    NoActiveExclusion,
    StaffMayOnlyLower,
)
from app.responsible.models import (
    PERIOD_ORDER,
    ExclusionKind,
    GamblingLimit,
    LimitKind,
    LimitPeriod,
    PlayerExclusion,
    PlaySession,
)

RETURN_PENDING = "RETURN_PENDING"  # an ended self-exclusion before the return opens
BREAK_HOURS = (24, 6 * 7 * 24)  # 24 h .. 6 weeks
MIN_SELF_EXCLUSION_MONTHS = 6
MAX_SELF_EXCLUSION_MONTHS = 120


@dataclass(frozen=True)
class Caller:
    """Who changes a limit: the player themself (may raise and remove, after a cool-down)
    or staff (may only lower, with a reason)."""

    actor: audit.Actor
    is_player: bool


# Run inside the exclusion's transaction (the composition root registers the bonus
# forfeit here): (session, settings, player id, reference).
ExclusionListener = Callable[[AsyncSession, Settings, uuid.UUID, str], Awaitable[None]]
_exclusion_listeners: list[ExclusionListener] = []


def register_exclusion_listener(listener: ExclusionListener) -> None:
    if listener not in _exclusion_listeners:
        _exclusion_listeners.append(listener)


def now() -> datetime:
    return datetime.now(UTC)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not 3 <= len(text) <= 500:
        raise ValidationFailed.single("reason", "say why, in 3 to 500 characters")
    return text


async def limits_of(
    session: AsyncSession, player_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[GamblingLimit]]:
    found: dict[uuid.UUID, list[GamblingLimit]] = {p: [] for p in player_ids}
    for row in await repo.limits(session, player_ids):
        found[row.player_id].append(row)
    return found


def _session_minutes(amount: str, period: LimitPeriod) -> int:
    """A SESSION limit is whole minutes of one play session (1 minute to 24 hours)."""
    if period != LimitPeriod.DAY:
        raise ValidationFailed.single("period", "a session limit is set with period DAY")
    if not (isinstance(amount, str) and amount.isascii() and amount.isdigit()
            and 1 <= int(amount) <= 1440):  # fmt: skip
        raise ValidationFailed.single("amount", "a session limit is 1 to 1440 whole minutes")
    return int(amount)


async def reality_check(
    session: AsyncSession, settings: Settings, player_id: uuid.UUID
) -> RealityCheck | None:
    """The current play session: the player's sign-in session (its start carried over
    from a sign-in within the session break), or, for bets without a sign-in here, the
    run of bets with gaps shorter than the break. How long it runs and the net result
    (wins minus stakes); None when not playing."""
    at = now()
    started = await repo.live_session_start(session, player_id, at)
    if started is not None:
        currency = await repo.real_currency(session, player_id) or ""
        net = await repo.session_result(session, player_id, started)
        return _reality(settings, started, at, net, currency)
    pause = timedelta(minutes=settings.rg_session_break_minutes)
    found = await repo.play_session(session, player_id, pause)
    if found is None:
        return None
    started, last, net, currency = found
    if at - last >= pause:
        return None
    return _reality(settings, started, at, net, currency)


def _reality(
    settings: Settings, started: datetime, at: datetime, net: int, currency: str
) -> RealityCheck:
    interval = timedelta(minutes=settings.rg_reality_check_minutes)
    elapsed = at - started
    next_check = started + interval * (int(elapsed / interval) + 1)
    return RealityCheck(started, int(elapsed.total_seconds() // 60), net, currency, next_check)


@dataclass(frozen=True)
class RealityCheck:
    started_at: datetime
    minutes_played: int
    net_result: int  # minor units, wins minus stakes
    currency: str
    next_check_at: datetime


def _check_order(rows: list[GamblingLimit], period: str, amount: int) -> None:
    """daily <= weekly <= monthly, with ``amount`` proposed for ``period`` (pending
    increases count at their proposed value, so a confirmation cannot break the order)."""
    values: dict[str, int] = {}
    for r in rows:
        values[r.period] = max(r.amount, r.pending_amount or 0)
    values[period] = amount
    present = [(p, values[p]) for p in PERIOD_ORDER if p in values]
    for (p1, v1), (p2, v2) in itertools.pairwise(present):
        if v1 > v2:
            raise ValidationFailed.single(
                "amount", f"the {p1.lower()} limit may not be above the {p2.lower()} limit"
            )


def _limit_event(row: GamblingLimit, change: str, actor: audit.Actor) -> dict[str, Any]:
    return {
        "playerId": str(row.player_id), "limitId": str(row.id), "kind": row.kind,
        "period": row.period, "change": change, "currency": row.currency,
        "amount": format_amount(row.amount, row.currency),
        "pendingAmount": None if row.pending_amount is None
        else format_amount(row.pending_amount, row.currency),
        "pendingRemove": row.pending_remove,
        "effectiveAt": row.pending_effective_at.isoformat() if row.pending_effective_at else None,
        "actor": actor.key,
    }  # fmt: skip


async def _changed(
    session: AsyncSession, row: GamblingLimit, change: str, caller: Caller,
    reason: str | None = None,
) -> None:  # fmt: skip
    data = _limit_event(row, change, caller.actor)
    await outbox.record(session, "limit.changed", str(row.player_id), data)
    details = {"limitId": data["limitId"], "kind": row.kind, "period": row.period,
               "change": change, "amount": data["amount"], "reason": reason}  # fmt: skip
    await audit.record(session, caller.actor, "rg.limit_changed", f"player:{row.player_id}",
                       details=details)  # fmt: skip


async def set_limit(
    session: AsyncSession, settings: Settings, caller: Caller, *, player_id: uuid.UUID,
    kind: LimitKind, period: LimitPeriod, amount: str, reason: str | None = None,
) -> GamblingLimit:  # fmt: skip
    """A new limit or a lower one applies at once; a higher one waits for the cool-down
    and the player's confirmation. Staff may only lower (or set a first limit)."""
    why = None if caller.is_player else _reason(reason)
    currency = await repo.real_currency(session, player_id)
    if currency is None:
        raise NotFound("no such player")
    minor = (
        _session_minutes(amount, period)
        if kind == LimitKind.SESSION
        else parse_amount(amount, currency)
    )
    rows = await repo.lock_limits(session, player_id, kind)
    _check_order(rows, period, minor)
    row = next((r for r in rows if r.period == period), None)
    if row is None:
        row = GamblingLimit(player_id=player_id, kind=kind.value, period=period.value,
                            currency=currency, amount=minor)  # fmt: skip
        await repo.add(session, row)
        change = "SET"
    elif minor <= row.amount:
        row.amount = minor
        row.pending_amount, row.pending_remove, row.pending_effective_at = None, False, None
        change = "LOWERED"
    elif not caller.is_player:
        raise StaffMayOnlyLower("staff may only lower a limit; the player raises their own")
    else:
        row.pending_amount, row.pending_remove = minor, False
        row.pending_effective_at = now() + timedelta(hours=settings.rg_limit_cooldown_hours)
        change = "INCREASE_REQUESTED"
    await session.flush()
    await _changed(session, row, change, caller, why)
    return row


async def remove_limit(
    session: AsyncSession, settings: Settings, caller: Caller, *, player_id: uuid.UUID,
    kind: LimitKind, period: LimitPeriod,
) -> GamblingLimit:  # fmt: skip
    """Ask to remove a limit: it stays in force until the cool-down passes and the player
    confirms."""
    rows = await repo.lock_limits(session, player_id, kind)
    row = next((r for r in rows if r.period == period), None)
    if row is None:
        raise NotFound(f"no {period.value.lower()} {kind.value.lower()} limit")
    row.pending_amount, row.pending_remove = None, True
    row.pending_effective_at = now() + timedelta(hours=settings.rg_limit_cooldown_hours)
    await session.flush()
    await _changed(session, row, "REMOVAL_REQUESTED", caller)
    return row


async def confirm_limit(
    session: AsyncSession, caller: Caller, *, player_id: uuid.UUID, limit_id: int
) -> GamblingLimit | None:
    """The player confirms their own pending increase or removal after its cool-down.
    Returns the limit now in force (None: removed)."""
    row = await repo.lock_limit(session, player_id, limit_id)
    if row is None or row.pending_effective_at is None:
        raise LimitChangeNotFound("no pending limit change with this id")
    if now() < row.pending_effective_at:
        raise CoolDownActive("the cool-down of this change has not passed yet",
                             row.pending_effective_at)  # fmt: skip
    if row.pending_remove:
        await _changed(session, row, "REMOVED", caller)
        await repo.delete(session, row)
        return None
    assert row.pending_amount is not None
    row.amount = row.pending_amount
    row.pending_amount, row.pending_effective_at = None, None
    await session.flush()
    await _changed(session, row, "RAISED", caller)
    return row


# --- sign-in sessions -----------------------------------------------------------------


async def session_changed(session: AsyncSession, settings: Settings, change: SessionChange) -> None:
    """Identity's sign-in sessions as play sessions (app/identity/hooks.py). A sign-in
    within the session break of the previous session's end continues that play session:
    only a real break starts the session time limit again."""
    at = now()
    if change.kind == "start" and change.player_id and change.session_id:
        player_id = uuid.UUID(change.player_id)
        pause = timedelta(minutes=settings.rg_session_break_minutes)
        last = await repo.last_session(session, player_id)
        started = last[0] if last is not None and last[1] > at - pause else at
        assert change.expires_at is not None
        await repo.add(session, PlaySession(
            player_id=player_id, session_id=change.session_id, started_at=started,
            signed_in_at=at, expires_at=change.expires_at,
        ))  # fmt: skip
    elif change.kind == "refresh" and change.session_id and change.expires_at:
        await _refreshed(session, settings, change.session_id, change.expires_at, at)
    elif change.kind == "end" and change.session_id:
        await repo.end_sessions(session, at, session_id=change.session_id)
    elif change.kind == "end_all" and change.player_id:
        await repo.end_sessions(session, at, player_id=uuid.UUID(change.player_id))


async def _refreshed(
    session: AsyncSession, settings: Settings, session_id: str, expires_at: datetime,
    at: datetime,
) -> None:  # fmt: skip
    """A refresh extends the session; one after the token had expired for a whole break
    starts the play session again (the expiry ended it)."""
    row = await repo.session_row(session, session_id)
    if row is None or row.ended_at is not None:
        return
    if row.expires_at <= at - timedelta(minutes=settings.rg_session_break_minutes):
        row.started_at = at
    row.expires_at = expires_at
    await session.flush()


async def restriction(session: AsyncSession, player_id: str) -> str | None:
    """What a new access token of the player carries (``rg``): the exclusion in force
    (a self-exclusion outranks a break), or RETURN_PENDING while an ended self-exclusion
    waits for the return request and cooling; None when the player may gamble."""
    try:
        pid = uuid.UUID(player_id)
    except ValueError:
        return None
    kinds = {e.kind for e in await repo.active_exclusions(session, pid, now())}
    if ExclusionKind.SELF_EXCLUSION in kinds:
        return ExclusionKind.SELF_EXCLUSION.value
    if ExclusionKind.BREAK in kinds:
        return ExclusionKind.BREAK.value
    player = await players.get_player(session, pid)
    if player is not None and player.status == PlayerStatus.SELF_EXCLUDED:
        return RETURN_PENDING
    return None


# --- breaks and self-exclusion ------------------------------------------------------------


def break_end(hours: int, now: datetime) -> datetime:
    low, high = BREAK_HOURS
    if not isinstance(hours, int) or not low <= hours <= high:
        raise ValidationFailed.single("hours", f"a break lasts {low} to {high} hours")
    return now + timedelta(hours=hours)


def self_exclusion_end(months: int | None, permanent: bool, now: datetime) -> datetime | None:
    if permanent:
        if months is not None:
            raise ValidationFailed.single("months", "give months or permanent, not both")
        return None
    low, high = MIN_SELF_EXCLUSION_MONTHS, MAX_SELF_EXCLUSION_MONTHS
    if not isinstance(months, int) or not low <= months <= high:
        raise ValidationFailed.single("months", f"a self-exclusion lasts {low} to {high} months"
                                      " (or is permanent)")  # fmt: skip
    return now + timedelta(days=30 * months)


async def exclusions(session: AsyncSession, player_id: uuid.UUID) -> list[PlayerExclusion]:
    return await repo.active_exclusions(session, player_id, now())


async def exclude(
    session: AsyncSession, settings: Settings, caller: Caller, *, player_id: uuid.UUID,
    kind: ExclusionKind, ends_at: datetime | None,
) -> PlayerExclusion:  # fmt: skip
    """Start a break or self-exclusion at once. One in force may be extended, never
    shortened. Debits stop (the player's status), active bonuses are forfeited (the
    registered listeners); credits, refunds and pending withdrawals go on."""
    player = await players.get_player(session, player_id)
    if player is None:
        raise NotFound("no such player")
    at = now()
    for current in await repo.active_exclusions(session, player_id, at, lock=True):
        if current.ends_at is None or (ends_at is not None and ends_at < current.ends_at):
            raise ExclusionActive("an exclusion in force cannot be shortened")
    row = PlayerExclusion(player_id=player_id, kind=kind.value, starts_at=at, ends_at=ends_at)
    await repo.add(session, row)
    if player.status == PlayerStatus.ACTIVE:
        why = f"{kind.value.lower()} by the player"
        await players.set_status(
            session, player_id, PlayerStatus.SELF_EXCLUDED, why, caller.actor.key
        )
    until = ends_at.isoformat() if ends_at else None
    event = "player.break_started" if kind == ExclusionKind.BREAK else "player.self_excluded"
    await outbox.record(session, event, str(player_id), {
        "playerId": str(player_id), "exclusionId": str(row.id), "kind": kind.value,
        "startsAt": at.isoformat(), "endsAt": until, "actor": caller.actor.key,
    })  # fmt: skip
    await audit.record(session, caller.actor, f"rg.{kind.value.lower()}", f"player:{player_id}",
                       details={"exclusionId": str(row.id), "endsAt": until})  # fmt: skip
    for listener in _exclusion_listeners:
        await listener(session, settings, player_id, f"exclusion:{row.id}")
    # Segments (marketing) drop the player in this same transaction.
    await player_attributes_changed(session, player_id, ("status",), settings)
    return row


async def lift(
    session: AsyncSession, caller: Caller, *, player_id: uuid.UUID, reason: str
) -> list[PlayerExclusion]:
    """ADMIN only (the permission says so): end every exclusion in force, with a reason."""
    why = _reason(reason)
    at = now()
    rows = await repo.active_exclusions(session, player_id, at, lock=True)
    if not rows:
        raise NoActiveExclusion("the player has no exclusion in force")
    for row in rows:
        row.lifted_at, row.lifted_by, row.lift_reason = at, caller.actor.key, why
    await session.flush()
    player = await players.get_player(session, player_id)
    if player is not None and player.status == PlayerStatus.SELF_EXCLUDED:
        await players.set_status(session, player_id, PlayerStatus.ACTIVE, why, caller.actor.key)
    await outbox.record(session, "player.exclusion_lifted", str(player_id), {
        "playerId": str(player_id), "exclusionIds": [str(r.id) for r in rows],
        "reason": why, "actor": caller.actor.key,
    })  # fmt: skip
    details = {"exclusionIds": [str(r.id) for r in rows], "reason": why}
    await audit.record(
        session, caller.actor, "rg.exclusion_lifted", f"player:{player_id}", details=details
    )
    return rows


async def request_return(
    session: AsyncSession, settings: Settings, caller: Caller, *, player_id: uuid.UUID
) -> list[PlayerExclusion]:
    """After a self-exclusion has ended, the player asks to play again; the account opens
    once the return cooling period has passed (``end_breaks``)."""
    at = now()
    if await repo.active_exclusions(session, player_id, at):
        raise ExclusionActive("the self-exclusion is still in force")
    rows = await repo.returnable(session, player_id, at)
    if not rows:
        raise NoActiveExclusion("no ended self-exclusion waits for a return request")
    for row in rows:
        row.return_requested_at = at
    await session.flush()
    opens = at + timedelta(hours=settings.rg_return_cooling_hours)
    await outbox.record(session, "player.return_requested", str(player_id), {
        "playerId": str(player_id), "opensAt": opens.isoformat(), "actor": caller.actor.key,
    })  # fmt: skip
    await audit.record(session, caller.actor, "rg.return_requested", f"player:{player_id}")
    return rows


async def end_breaks(session: AsyncSession, settings: Settings, batch: int = 100) -> int:
    """Exclusions that are over: the player may play again (after a self-exclusion only
    once they asked to return and the cooling period has passed). Under the lock, so two
    replicas never both end one break (the second would write exclusion_ended again)."""
    if not await repo.try_end_breaks_lock(session):
        return 0
    done = 0
    cooling = timedelta(hours=settings.rg_return_cooling_hours)
    for player_id in await repo.ended_breaks(session, now(), cooling, batch):
        await players.set_status(session, player_id, PlayerStatus.ACTIVE, "the exclusion ended",
                                 "system:responsible")  # fmt: skip
        await outbox.record(session, "player.exclusion_ended", str(player_id),
                            {"playerId": str(player_id)})  # fmt: skip
        await player_attributes_changed(session, player_id, ("status",), settings)
        done += 1
    return done
