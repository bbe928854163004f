"""Every SQL statement of analytics: one upsert per event, the reset of a rebuild."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Columns a money event adds to (names are fixed here, never from input).
MONEY_COLUMNS = frozenset({
    "deposits_count", "deposits_minor", "withdrawals_count", "withdrawals_minor",
    "bets_count", "stakes_minor", "wins_minor",
})  # fmt: skip


async def add_money(
    session: AsyncSession, day: date, currency: str, amounts: dict[str, int]
) -> None:
    columns = sorted(amounts)
    assert set(columns) <= MONEY_COLUMNS, columns
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f"{c} = analytics_daily_money.{c} + EXCLUDED.{c}" for c in columns)
    await session.execute(
        text(
            f"INSERT INTO analytics_daily_money (day, currency, {names}) "  # noqa: S608
            f"VALUES (:day, :currency, {values}) "
            f"ON CONFLICT (day, currency) DO UPDATE SET {updates}"
        ),
        {"day": day, "currency": currency, **amounts},
    )


async def mark_active(session: AsyncSession, day: date, player_id: uuid.UUID) -> None:
    await session.execute(
        text("INSERT INTO analytics_active_players (day, player_id) VALUES (:d, :p) "
             "ON CONFLICT DO NOTHING"),
        {"d": day, "p": player_id},
    )  # fmt: skip


async def add_registration(session: AsyncSession, day: date, country: str) -> None:
    await session.execute(
        text("INSERT INTO analytics_daily_registrations (day, country, registrations) "
             "VALUES (:d, :c, 1) ON CONFLICT (day, country) DO UPDATE "
             "SET registrations = analytics_daily_registrations.registrations + 1"),
        {"d": day, "c": country},
    )  # fmt: skip


async def add_count(session: AsyncSession, day: date, name: str) -> None:
    await session.execute(
        text("INSERT INTO analytics_daily_counts (day, name, count) VALUES (:d, :n, 1) "
             "ON CONFLICT (day, name) DO UPDATE SET count = analytics_daily_counts.count + 1"),
        {"d": day, "n": name},
    )  # fmt: skip


async def clear(session: AsyncSession) -> None:
    """Empty every rollup (a rebuild, in the caller's transaction)."""
    for table in ("analytics_daily_money", "analytics_active_players",
                  "analytics_daily_registrations", "analytics_daily_counts"):  # fmt: skip
        await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608


DAILY_SERIES = """
SELECT d::date AS day,
       coalesce(m.deposits_count, 0) AS deposits_count,
       coalesce(m.deposits_minor, 0) AS deposits_minor,
       coalesce(m.withdrawals_count, 0) AS withdrawals_count,
       coalesce(m.withdrawals_minor, 0) AS withdrawals_minor,
       coalesce(m.bets_count, 0) AS bets_count,
       coalesce(m.stakes_minor, 0) AS stakes_minor,
       coalesce(m.wins_minor, 0) AS wins_minor,
       (SELECT count(*) FROM analytics_active_players a WHERE a.day = d::date) AS active_players,
       (SELECT coalesce(sum(r.registrations), 0) FROM analytics_daily_registrations r
         WHERE r.day = d::date) AS registrations,
       (SELECT coalesce(sum(c.count), 0) FROM analytics_daily_counts c
         WHERE c.day = d::date AND c.name = 'bet.rolled_back') AS rollbacks
FROM generate_series(CAST(:f AS date), CAST(:t AS date), interval '1 day') AS d
LEFT JOIN analytics_daily_money m ON m.day = d::date AND m.currency = :c
ORDER BY d
"""


async def daily_series(
    session: AsyncSession, from_day: date, to_day: date, currency: str
) -> list[dict[str, object]]:
    """One row per day of the range (zeros where nothing happened), from the rollups only:
    primary-key lookups, never the ledger."""
    result = await session.execute(text(DAILY_SERIES), {"f": from_day, "t": to_day, "c": currency})
    return [dict(row) for row in result.mappings()]
