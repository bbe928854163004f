"""Daily rollup tables (UTC days). Money in minor units, per currency: never summed
across currencies."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Column, Date, String, Uuid
from sqlmodel import Field, SQLModel

import app.core.orm  # noqa: F401  (the constraint naming convention, before any table)


def _count() -> Any:
    return Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class DailyMoney(SQLModel, table=True):
    """Per day and currency: deposits, withdrawals, settled bets (stakes, wins)."""

    __tablename__ = "analytics_daily_money"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    currency: str = Field(sa_column=Column(String(3), primary_key=True))
    deposits_count: int = _count()
    deposits_minor: int = _count()
    withdrawals_count: int = _count()
    withdrawals_minor: int = _count()
    bets_count: int = _count()
    stakes_minor: int = _count()
    wins_minor: int = _count()


class DailyActivePlayer(SQLModel, table=True):
    """A player is active on a day when a bet of theirs settles that day (UTC): DAU is the
    count of a day's rows, MAU the distinct players of a month's."""

    __tablename__ = "analytics_active_players"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    player_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))


class DailyRegistrations(SQLModel, table=True):
    __tablename__ = "analytics_daily_registrations"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    country: str = Field(sa_column=Column(String(2), primary_key=True))
    registrations: int = _count()


class DailyCount(SQLModel, table=True):
    """Per day, counts of events that carry no currency (``bet.rolled_back``: reversals)."""

    __tablename__ = "analytics_daily_counts"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    name: str = Field(sa_column=Column(String(64), primary_key=True))
    count: int = _count()
