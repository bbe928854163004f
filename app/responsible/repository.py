"""Every SQL statement of responsible gambling outside the money path (the money path's
parts are in app/responsible/extension.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.responsible.models import GamblingLimit, PlayerExclusion, PlaySession


async def real_currency(session: AsyncSession, player_id: uuid.UUID) -> str | None:
    """The currency of the player's REAL wallet (limits are in it)."""
    found = await session.execute(
        text("SELECT currency FROM wallets WHERE player_id = :p AND kind = 'REAL'"),
        {"p": player_id},
    )
    return found.scalar_one_or_none()


async def limits(session: AsyncSession, player_ids: Sequence[uuid.UUID]) -> list[GamblingLimit]:
    """The limits of many players (one statement for a page of players)."""
    rows = await session.execute(
        select(GamblingLimit).where(col(GamblingLimit.player_id).in_(player_ids))
        .order_by(col(GamblingLimit.kind), col(GamblingLimit.period))
    )  # fmt: skip
    return list(rows.scalars())


# Every write of a player's limit rows holds the player's wallet locks, taken in the
# money path's order (all wallets by id, then the limits): the money path reads limits
# without row locks on the strength of it (app/responsible/extension.py).
LOCK_WALLETS_SQL = "SELECT id FROM wallets WHERE player_id = :p ORDER BY id FOR UPDATE"


async def _lock_wallets(session: AsyncSession, player_id: uuid.UUID) -> None:
    await session.execute(text(LOCK_WALLETS_SQL), {"p": player_id})


async def lock_limits(
    session: AsyncSession, player_id: uuid.UUID, kind: str
) -> list[GamblingLimit]:
    """The player's limits of ``kind``, locked for a change (wallets first, see above)."""
    await _lock_wallets(session, player_id)
    rows = await session.execute(
        select(GamblingLimit)
        .where(col(GamblingLimit.player_id) == player_id, col(GamblingLimit.kind) == kind)
        .order_by(col(GamblingLimit.id))
        .with_for_update()
    )  # fmt: skip
    return list(rows.scalars())


async def lock_limit(
    session: AsyncSession, player_id: uuid.UUID, limit_id: int
) -> GamblingLimit | None:
    await _lock_wallets(session, player_id)
    rows = await session.execute(
        select(GamblingLimit)
        .where(col(GamblingLimit.id) == limit_id, col(GamblingLimit.player_id) == player_id)
        .with_for_update()
    )  # fmt: skip
    return rows.scalar_one_or_none()


async def add(session: AsyncSession, row: GamblingLimit | PlayerExclusion | PlaySession) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: GamblingLimit) -> None:
    await session.delete(row)
    await session.flush()


def _active(player_id: uuid.UUID, now: datetime) -> SelectOfScalar[PlayerExclusion]:
    ends_at = col(PlayerExclusion.ends_at)
    return select(PlayerExclusion).where(
        col(PlayerExclusion.player_id) == player_id,
        col(PlayerExclusion.lifted_at).is_(None),
        or_(ends_at.is_(None), ends_at > now),
    )


async def active_exclusions(
    session: AsyncSession, player_id: uuid.UUID, now: datetime, *, lock: bool = False
) -> list[PlayerExclusion]:
    stmt = _active(player_id, now).order_by(col(PlayerExclusion.id))
    rows = await session.execute(stmt.with_for_update() if lock else stmt)
    return list(rows.scalars())


async def active_bonus_ids(session: AsyncSession, player_id: uuid.UUID) -> list[int]:
    found = await session.execute(
        text("SELECT id FROM player_bonuses WHERE player_id = :p AND status = 'ACTIVE' "
             "ORDER BY id"), {"p": player_id},
    )  # fmt: skip
    return [r[0] for r in found]


# The latest run of bet/win postings whose gaps are all shorter than the break (one day
# back at most: a session never spans more).
PLAY_SESSION_SQL = """
WITH t AS (
    SELECT created_at, amount, currency,
           created_at - lag(created_at) OVER (ORDER BY created_at, id) AS gap
    FROM ledger_transfers
    WHERE player_id = :p AND kind IN ('BET', 'WIN', 'BET_REFUND', 'WIN_REVERSAL')
      AND created_at > now() - interval '1 day'
), s AS (
    SELECT max(created_at) AS started FROM t WHERE gap IS NULL OR gap >= :pause
)
SELECT s.started, max(t.created_at) AS last, sum(t.amount) AS net, min(t.currency) AS currency
FROM t, s WHERE t.created_at >= s.started GROUP BY s.started
"""


async def play_session(
    session: AsyncSession, player_id: uuid.UUID, pause: timedelta
) -> tuple[datetime, datetime, int, str] | None:
    row = (await session.execute(text(PLAY_SESSION_SQL), {"p": player_id, "pause": pause})).first()
    if row is None or row.started is None:
        return None
    return row.started, row.last, int(row.net), row.currency


END_BREAKS_LOCK = 0x504D535F454E4442  # "PMS_ENDB"


async def try_end_breaks_lock(session: AsyncSession) -> bool:
    """One replica at a time ends breaks (a transaction advisory lock; others skip)."""
    got = await session.execute(text("SELECT pg_try_advisory_xact_lock(CAST(:k AS bigint))"),
                                {"k": END_BREAKS_LOCK})  # fmt: skip
    return bool(got.scalar_one())


async def ended_breaks(
    session: AsyncSession, now: datetime, cooling: timedelta, batch: int
) -> list[uuid.UUID]:
    """Players who may play again: no exclusion in force, and every ended self-exclusion
    has a return request older than the cooling period (a break needs none)."""
    found = await session.execute(
        text("""
SELECT DISTINCT e.player_id FROM player_exclusions e JOIN players p ON p.id = e.player_id
WHERE e.lifted_at IS NULL AND e.ends_at <= :now AND p.status = 'SELF_EXCLUDED'
  AND NOT EXISTS (SELECT 1 FROM player_exclusions x WHERE x.player_id = e.player_id
                  AND x.lifted_at IS NULL AND (x.ends_at IS NULL OR x.ends_at > :now))
  AND NOT EXISTS (SELECT 1 FROM player_exclusions x WHERE x.player_id = e.player_id
                  AND x.kind = 'SELF_EXCLUSION' AND x.lifted_at IS NULL
                  AND (x.return_requested_at IS NULL
                       OR x.return_requested_at > :cooled))
LIMIT :batch"""),
        {"now": now, "batch": batch, "cooled": now - cooling},
    )
    return [r[0] for r in found]


async def returnable(
    session: AsyncSession, player_id: uuid.UUID, now: datetime
) -> list[PlayerExclusion]:
    """Ended self-exclusions without a return request, locked."""
    rows = await session.execute(
        select(PlayerExclusion).where(
            col(PlayerExclusion.player_id) == player_id,
            col(PlayerExclusion.kind) == "SELF_EXCLUSION",
            col(PlayerExclusion.lifted_at).is_(None),
            col(PlayerExclusion.return_requested_at).is_(None),
            col(PlayerExclusion.ends_at) <= now,
        ).with_for_update()
    )  # fmt: skip
    return list(rows.scalars())


# --- play sessions (sign-in to sign-out) ----------------------------------------------

LIVE_SESSION_SQL = """
SELECT started_at FROM play_sessions
WHERE player_id = :p AND ended_at IS NULL AND expires_at > :now
ORDER BY id DESC LIMIT 1
"""
LAST_SESSION_SQL = """
SELECT started_at, least(coalesce(ended_at, expires_at), expires_at) AS ended
FROM play_sessions WHERE player_id = :p ORDER BY id DESC LIMIT 1
"""
SESSION_RESULT_SQL = """
SELECT coalesce(sum(amount), 0) AS net FROM ledger_transfers
WHERE player_id = :p AND kind IN ('BET', 'WIN', 'BET_REFUND', 'WIN_REVERSAL')
  AND created_at >= :since
"""


async def live_session_start(
    session: AsyncSession, player_id: uuid.UUID, now: datetime
) -> datetime | None:
    found = await session.execute(text(LIVE_SESSION_SQL), {"p": player_id, "now": now})
    return found.scalar_one_or_none()


async def last_session(
    session: AsyncSession, player_id: uuid.UUID
) -> tuple[datetime, datetime] | None:
    """(play-session start, when it ended or ends) of the player's latest sign-in."""
    row = (await session.execute(text(LAST_SESSION_SQL), {"p": player_id})).first()
    return (row.started_at, row.ended) if row is not None else None


async def session_result(session: AsyncSession, player_id: uuid.UUID, since: datetime) -> int:
    """Wins minus stakes (minor units) since ``since``."""
    found = await session.execute(text(SESSION_RESULT_SQL), {"p": player_id, "since": since})
    return int(found.scalar_one())


async def session_row(session: AsyncSession, session_id: str) -> PlaySession | None:
    rows = await session.execute(
        select(PlaySession).where(col(PlaySession.session_id) == session_id).with_for_update()
    )
    return rows.scalar_one_or_none()


async def end_sessions(
    session: AsyncSession, now: datetime, *, session_id: str | None = None,
    player_id: uuid.UUID | None = None,
) -> None:  # fmt: skip
    """End one session (by id) or every session of a player."""
    await session.execute(
        text("UPDATE play_sessions SET ended_at = :now WHERE ended_at IS NULL AND "
             "(session_id = :s OR (CAST(:s AS text) IS NULL AND player_id = :p))"),
        {"s": session_id, "p": player_id, "now": now},
    )  # fmt: skip
