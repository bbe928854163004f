"""The per-player metrics row, updated by one upsert per event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

# Stakes are counted in a log-scale histogram (bucket i holds stakes in [B^i, B^(i+1))
# minor units, B = 2^(1/4)): O(1) per bet, fixed size, deterministic, and the median read
# from it is within ~9% of the true median. A reservoir sample would be exact only for
# small counts and would need random replacement on the hot path.
STAKE_BUCKETS = 128
HOURS = 24


def _bigint(default: str = "0") -> Any:
    return Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default=default))


class PlayerMetrics(SQLModel, table=True):
    __tablename__ = "player_metrics"

    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), primary_key=True)
    )
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    bet_count: int = _bigint()
    stake_total: int = _bigint()
    win_total: int = _bigint()
    deposit_count: int = _bigint()
    deposit_total: int = _bigint()
    withdrawal_count: int = _bigint()
    withdrawal_total: int = _bigint()
    session_count: int = _bigint()
    first_bet_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_bet_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_activity_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    hour_histogram: list[int] = Field(
        sa_column=Column(
            ARRAY(Integer), nullable=False, server_default=text("array_fill(0, ARRAY[24])")
        )
    )
    stake_histogram: list[int] = Field(
        sa_column=Column(
            ARRAY(BigInteger),
            nullable=False,
            server_default=text("array_fill(0::bigint, ARRAY[128])"),
        )
    )
    # {key: count}, at most TOP_KEYS keys each (new keys are ignored once full).
    game_counts: dict[str, int] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    provider_counts: dict[str, int] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    category_counts: dict[str, int] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
