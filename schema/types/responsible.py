"""Responsible-gambling types: a player's limits and exclusions, and the typed errors
of the limit and exclusion mutations (``LimitExceeded`` answers deposits and bets)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.responsible import errors as rg_errors
from app.responsible import service as rg
from app.responsible import windows
from app.responsible.models import ExclusionKind, LimitKind, LimitPeriod
from app.responsible.models import GamblingLimit as LimitRow
from app.responsible.models import PlayerExclusion as ExclusionRow
from schema.errors import UserError
from schema.loaders import BatchLoader
from schema.scalars import Money

strawberry.enum(LimitKind, name="GamblingLimitKind")
strawberry.enum(LimitPeriod, name="GamblingLimitPeriod")
strawberry.enum(ExclusionKind, name="ExclusionKind")


@strawberry.type(
    description="A limit in force, its use in the current window and any pending increase "
    "or removal (effective after the cool-down, once confirmed)."
)
class GamblingLimit:
    id: strawberry.ID
    kind: LimitKind
    period: LimitPeriod
    limit: Money | None = strawberry.field(description="Null for SESSION (see minutes).")
    used: Money | None
    remaining: Money | None
    minutes: int | None = strawberry.field(description="SESSION: minutes of one session.")
    resets_at: datetime | None
    pending_limit: Money | None
    pending_minutes: int | None
    pending_removal: bool
    pending_effective_at: datetime | None

    @classmethod
    def from_model(cls, row: LimitRow, settings: Settings) -> GamblingLimit:
        assert row.id is not None
        if row.kind == LimitKind.SESSION:
            return cls(
                id=strawberry.ID(str(row.id)), kind=LimitKind.SESSION, period=LimitPeriod.DAY,
                limit=None, used=None, remaining=None, minutes=row.amount, resets_at=None,
                pending_limit=None, pending_minutes=row.pending_amount,
                pending_removal=row.pending_remove, pending_effective_at=row.pending_effective_at,
            )  # fmt: skip
        now = datetime.now(UTC)
        used, resets_at = row.used, None
        if row.window_start is not None or settings.rg_limit_window == "calendar":
            _, resets_at, fresh = windows.current(
                row.period, settings.rg_limit_window, row.window_start, now
            )
            used = 0 if fresh else row.used
        c = row.currency
        return cls(
            id=strawberry.ID(str(row.id)), kind=LimitKind(row.kind),
            period=LimitPeriod(row.period), limit=Money.of(row.amount, c),
            used=Money.of(used, c), remaining=Money.of(max(row.amount - used, 0), c),
            minutes=None, resets_at=resets_at, pending_minutes=None,
            pending_limit=None if row.pending_amount is None
            else Money.of(row.pending_amount, c),
            pending_removal=row.pending_remove, pending_effective_at=row.pending_effective_at,
        )  # fmt: skip


@strawberry.type(description="A break or self-exclusion in force (endsAt null: permanent).")
class PlayerExclusion:
    id: strawberry.ID
    kind: ExclusionKind
    starts_at: datetime
    ends_at: datetime | None

    @classmethod
    def from_model(cls, row: ExclusionRow) -> PlayerExclusion:
        return cls(id=strawberry.ID(str(row.id)), kind=ExclusionKind(row.kind),
                   starts_at=row.starts_at, ends_at=row.ends_at)  # fmt: skip


@strawberry.type(description="The limit was removed after its cool-down.")
class GamblingLimitRemoved:
    id: strawberry.ID


@strawberry.type(description="A limit does not allow this deposit or bet; nothing changed.")
class LimitExceeded(UserError):
    kind: LimitKind
    period: LimitPeriod
    limit: Money
    remaining: Money
    resets_at: datetime

    @classmethod
    def from_domain(cls, exc: rg_errors.LimitExceeded) -> LimitExceeded:
        return cls(
            code=exc.code, message=exc.message, kind=LimitKind(exc.kind),
            period=LimitPeriod(exc.period), limit=Money.of(exc.limit, exc.currency),
            remaining=Money.of(exc.remaining, exc.currency), resets_at=exc.resets_at,
        )  # fmt: skip


@strawberry.type(description="The play session reached its time limit; nothing was held.")
class SessionLimitReached(UserError):
    limit_minutes: int
    available_at: datetime

    @classmethod
    def from_domain(cls, exc: rg_errors.SessionLimitReached) -> SessionLimitReached:
        return cls(code=exc.code, message=exc.message, limit_minutes=exc.limit_minutes,
                   available_at=exc.available_at)  # fmt: skip


@strawberry.type(description="The current play session, for the front end's reality check "
                 "(remind the player at nextCheckAt).")  # fmt: skip
class RealityCheck:
    session_started_at: datetime
    minutes_played: int
    net_result: Money
    next_check_at: datetime

    @classmethod
    def build(cls, found: rg.RealityCheck) -> RealityCheck:
        return cls(session_started_at=found.started_at, minutes_played=found.minutes_played,
                   net_result=Money.of(found.net_result, found.currency),
                   next_check_at=found.next_check_at)  # fmt: skip


@strawberry.type(description="The increase or removal waits for its cool-down.")
class CoolDownActive(UserError):
    effective_at: datetime

    @classmethod
    def from_domain(cls, exc: rg_errors.CoolDownActive) -> CoolDownActive:
        return cls(code=exc.code, message=exc.message, effective_at=exc.effective_at)


def _error_type(name: str, description: str) -> type:
    cls = type(name, (UserError,), {"__annotations__": {}})
    return strawberry.type(cls, name=name, description=description)


LimitChangeNotFound = _error_type(
    "LimitChangeNotFound", "No pending limit change with this id for the caller."
)
StaffMayOnlyLower = _error_type(
    "StaffMayOnlyLower", "Staff may only lower a limit; raising or removing is the player's."
)
ExclusionActive = _error_type(
    "ExclusionActive", "An exclusion in force cannot be shortened; nothing changed."
)
NoActiveExclusion = _error_type("NoActiveExclusion", "The player has no exclusion in force.")


@strawberry.type(description="The session's token carries a gambling restriction (a break, a "
                 "self-exclusion or a return not yet open); nothing changed.")  # fmt: skip
class GamblingRestricted(UserError):
    restriction: str

    @classmethod
    def from_domain(cls, exc: rg_errors.GamblingRestricted) -> GamblingRestricted:
        return cls(code=exc.code, message=exc.message, restriction=exc.restriction)


class LimitsByPlayer(BatchLoader[uuid.UUID, list[LimitRow]]):
    async def fetch(self, session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[list[LimitRow]]:
        found = await rg.limits_of(session, keys)
        return [found[k] for k in keys]


class ExclusionsByPlayer(BatchLoader[uuid.UUID, list[ExclusionRow]]):
    async def fetch(
        self, session: AsyncSession, keys: Sequence[uuid.UUID]
    ) -> list[list[ExclusionRow]]:
        return [await rg.exclusions(session, k) for k in keys]
