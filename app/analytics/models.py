"""Daily rollup tables (UTC days). Money in minor units, per currency: never summed
across currencies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Index,
    SmallInteger,
    String,
    Uuid,
    text,
)  # fmt: skip
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


class AnalyticsPlayer(SQLModel, table=True):
    """One row per registered player: the dimensions a figure is filtered by (country,
    traffic source, affiliate) and the milestones of the funnel, from events only."""

    __tablename__ = "analytics_players"

    player_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    registered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    registered_on: date = Field(sa_column=Column(Date, nullable=False, index=True))
    country: str = Field(sa_column=Column(String(2), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    traffic_source: str | None = Field(default=None, sa_column=Column(String(64)))
    affiliate_code: str | None = Field(default=None, sa_column=Column(String(64)))
    kyc_submitted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    kyc_decided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), index=True)
    )
    kyc_outcome: str | None = Field(default=None, sa_column=Column(String(16)))
    first_deposit_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    first_bet_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class PlayerDay(SQLModel, table=True):
    """Per player, UTC day and currency: what they did. Exact distinct-player counts over
    any week or month (active = ``bets_count > 0``) and every money figure come from here."""

    __tablename__ = "analytics_player_days"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    player_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True, index=True))
    currency: str = Field(sa_column=Column(String(3), primary_key=True))
    bets_count: int = _count()
    stakes_minor: int = _count()
    wins_minor: int = _count()
    bonus_cost_minor: int = _count()
    bonuses_awarded: int = _count()
    bonuses_fulfilled: int = _count()
    deposits_count: int = _count()
    deposits_minor: int = _count()
    withdrawals_count: int = _count()
    withdrawals_minor: int = _count()
    rollbacks_count: int = _count()


class AnalyticsSegmentMember(SQLModel, table=True):
    """Current segment membership, from ``segment.entered`` / ``segment.left``."""

    __tablename__ = "analytics_segment_members"

    segment_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    player_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))


class AnalyticsRegistrationError(SQLModel, table=True):
    """Refused registrations per UTC day, field and reason (the validator's fixed text)."""

    __tablename__ = "analytics_registration_errors"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    field: str = Field(sa_column=Column(String(64), primary_key=True))
    reason: str = Field(sa_column=Column(String(200), primary_key=True))
    count: int = _count()


class PlayerPeriod(SQLModel, table=True):
    """Whether a player was active (a settled bet) / paying (a deposit) in a day ('d'), ISO
    week ('w') or month ('m'), in one currency or in any (currency ''). Kept so the facts
    below count each player once per period, exactly (a sketch would only estimate)."""

    __tablename__ = "analytics_player_periods"

    grain: str = Field(sa_column=Column(String(1), primary_key=True))
    period: date = Field(sa_column=Column(Date, primary_key=True))
    player_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    currency: str = Field(sa_column=Column(String(3), primary_key=True))
    active: bool = Field(default=False, sa_column=Column(Boolean, nullable=False,
                                                         server_default="false"))  # fmt: skip
    paying: bool = Field(default=False, sa_column=Column(Boolean, nullable=False,
                                                         server_default="false"))  # fmt: skip


def _dim(length: int) -> Any:
    return Field(sa_column=Column(String(length), primary_key=True))


class PeriodFacts(SQLModel, table=True):
    """Pre-aggregated figures per grain ('d', 'w', 'm'; 'c' = the month split by
    registration month, for cohorts), period, currency ('' = the currency-free counts:
    distinct players, bets, rollbacks, bonuses, registrations) and the player dimensions a
    filter may name ('' for none; reg_month 0001-01-01 outside 'c' and for a player never
    registered).
    A series or cohort table without a segment filter reads a few rows of this per period
    instead of grouping player-days at query time."""

    __tablename__ = "analytics_period_facts"

    grain: str = _dim(1)
    period: date = Field(sa_column=Column(Date, primary_key=True))
    currency: str = _dim(3)
    reg_month: date = Field(sa_column=Column(Date, primary_key=True))
    country: str = _dim(2)
    traffic_source: str = _dim(64)
    affiliate_code: str = _dim(64)
    active: int = _count()
    paying: int = _count()
    retained: int = _count()  # active in this period and in the one before
    active_days: int = _count()  # player-days with a settled bet (the sum of DAU)
    registrations: int = _count()
    bets: int = _count()
    rollbacks: int = _count()
    awarded: int = _count()
    fulfilled: int = _count()
    stakes: int = _count()
    wins: int = _count()
    bonus_cost: int = _count()
    deposits_count: int = _count()
    deposits: int = _count()
    withdrawals_count: int = _count()
    withdrawals: int = _count()
    first_deposits: int = _count()  # by registration period: registered then, deposited since
    kyc_decisions: int = _count()  # first decisions, by decision period
    kyc_verified: int = _count()
    player_days: int = _count()  # player-day rows (a currency is listed where there are some)


class SegmentFacts(SQLModel, table=True):
    """The facts of a segment's current members (grains 'd', 'w', 'm') per the members'
    dimensions ('' for none, as in PeriodFacts), so a segment with any player-dimension
    filter reads facts too: a member's whole history is added on ``segment.entered`` and
    subtracted on ``segment.left``, and their events while a member are added as they come
    (app/analytics/facts.py)."""

    __tablename__ = "analytics_segment_facts"

    segment_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    grain: str = _dim(1)
    period: date = Field(sa_column=Column(Date, primary_key=True))
    currency: str = _dim(3)
    country: str = _dim(2)
    traffic_source: str = _dim(64)
    affiliate_code: str = _dim(64)
    active: int = _count()
    paying: int = _count()
    retained: int = _count()
    active_days: int = _count()
    registrations: int = _count()
    bets: int = _count()
    rollbacks: int = _count()
    awarded: int = _count()
    fulfilled: int = _count()
    stakes: int = _count()
    wins: int = _count()
    bonus_cost: int = _count()
    deposits_count: int = _count()
    deposits: int = _count()
    withdrawals_count: int = _count()
    withdrawals: int = _count()
    first_deposits: int = _count()
    kyc_decisions: int = _count()
    kyc_verified: int = _count()
    player_days: int = _count()


class SegmentCohortFacts(SQLModel, table=True):
    """The cohort table of a segment's current members: per registration month, activity
    month ('period'), currency ('' = the currency-free counts: cohort size at period =
    reg_month, distinct active players) and the members' dimensions ('' for none), kept as
    SegmentFacts are (a member's history moves with them). Members with no registration
    row are in no cohort, as in the grouping of their player-days."""

    __tablename__ = "analytics_segment_cohorts"

    segment_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    reg_month: date = Field(sa_column=Column(Date, primary_key=True))
    period: date = Field(sa_column=Column(Date, primary_key=True))
    currency: str = _dim(3)
    country: str = _dim(2)
    traffic_source: str = _dim(64)
    affiliate_code: str = _dim(64)
    registrations: int = _count()
    active: int = _count()
    stakes: int = _count()
    wins: int = _count()
    bonus_cost: int = _count()
    player_days: int = _count()  # a currency is listed where there are some


class SegmentFunnelFacts(SQLModel, table=True):
    """The funnel of a segment's current members per registration day and the members'
    dimensions (as FunnelFacts), kept as SegmentFacts are."""

    __tablename__ = "analytics_segment_funnel"

    segment_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    registered_on: date = Field(sa_column=Column(Date, primary_key=True))
    country: str = _dim(2)
    traffic_source: str = _dim(64)
    affiliate_code: str = _dim(64)
    registered: int = _count()
    kyc_verified: int = _count()
    first_deposit: int = _count()
    first_bet: int = _count()


def _part(in_segment_combo: int, in_combo: int) -> Any:
    """A generated column: part ``in_combo`` of a 'combo' value (1-based; 0: none), part
    ``in_segment_combo`` of a 'segment_combo' one, '' in any other row."""
    combo = f"split_part(value, chr(31), {in_combo})" if in_combo else "''"
    sql = (f"CASE dim WHEN 'segment_combo' THEN split_part(value, chr(31), {in_segment_combo}) "
           f"WHEN 'combo' THEN {combo} ELSE '' END")  # fmt: skip
    return Field(default=None, sa_column=Column(String, Computed(sql, persisted=True)))


class DurationBuckets(SQLModel, table=True):
    """Log-scale histograms of durations ('deposit': registration to first deposit, by
    registration period; 'kyc': submission to first decision, by decision period) per grain
    and one dimension at a time (dim '' = every player, or 'country' / 'traffic_source' /
    'affiliate_code' / 'segment_id' = value; a segment's move with its members), and per
    full combination for combined filters (dim 'combo': value = country, source and
    affiliate joined by COMBO_SEP; 'segment_combo': the segment id, then the same): the
    medians of a series read a few hundred buckets instead
    of every player (app/analytics/figures.py: bucket widths and the error bound)."""

    __tablename__ = "analytics_duration_buckets"
    # The combination rows read by their parts (generated columns below): the filters'
    # values are an index prefix, and the index covers the read (an index-only scan).
    __table_args__ = (
        Index("ix_analytics_duration_buckets_combos", "grain", "dim", "segment", "country",
              "traffic_source", "period",
              postgresql_include=["affiliate_code", "metric", "bucket", "count"],
              postgresql_where=text("dim IN ('combo', 'segment_combo')")),
        Index("ix_analytics_duration_buckets_combo_affiliates", "grain", "dim",
              "affiliate_code", "period",
              postgresql_include=["segment", "country", "traffic_source", "metric", "bucket",
                                  "count"],
              postgresql_where=text("dim IN ('combo', 'segment_combo')")),
    )  # fmt: skip

    grain: str = _dim(1)
    dim: str = _dim(16)
    value: str = _dim(200)
    period: date = Field(sa_column=Column(Date, primary_key=True))
    metric: str = _dim(8)
    bucket: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    count: int = _count()
    # the parts of a combination's value ('' in the one-dimension rows), kept by PostgreSQL
    segment: str | None = _part(1, 0)
    country: str | None = _part(2, 1)
    traffic_source: str | None = _part(3, 2)
    affiliate_code: str | None = _part(4, 3)


class FunnelFacts(SQLModel, table=True):
    """The funnel per registration day and player dimensions ('' for none): of the players
    registered that day, how many reached each step and every step before it (KYC
    verified, then a first deposit, then a first bet; app/analytics/facts.py keeps it as the
    milestones come). A funnel reads a row per day and combination instead of every player."""

    __tablename__ = "analytics_funnel_facts"

    registered_on: date = Field(sa_column=Column(Date, primary_key=True))
    country: str = _dim(2)
    traffic_source: str = _dim(64)
    affiliate_code: str = _dim(64)
    registered: int = _count()
    kyc_verified: int = _count()
    first_deposit: int = _count()
    first_bet: int = _count()
