"""analytics: pre-aggregated period facts per (grain, period, currency, dimensions) and the
per-player period activity rows that keep their distinct-player counts exact

Revision ID: 0024_analytics_facts
Revises: 0023_kyc_queue
Create Date: 2026-12-01 15:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0024_analytics_facts"
down_revision: str | None = "0023_kyc_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACT_COUNTERS = (
    "active", "paying", "retained", "active_days", "registrations", "bets", "rollbacks",
    "awarded", "fulfilled", "stakes", "wins", "bonus_cost", "deposits_count", "deposits",
    "withdrawals_count", "withdrawals",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "analytics_player_periods",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("paying", sa.Boolean(), server_default="false", nullable=False),
        sa.PrimaryKeyConstraint(
            "grain", "period", "player_id", "currency", name=op.f("pk_analytics_player_periods")
        ),
    )
    op.create_table(
        "analytics_period_facts",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reg_month", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("traffic_source", sa.String(length=64), nullable=False),
        sa.Column("affiliate_code", sa.String(length=64), nullable=False),
        *[sa.Column(c, sa.BigInteger(), server_default="0", nullable=False)
          for c in FACT_COUNTERS],
        sa.PrimaryKeyConstraint(
            "grain", "period", "currency", "reg_month", "country", "traffic_source",
            "affiliate_code", name=op.f("pk_analytics_period_facts"),
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("analytics_period_facts")
    op.drop_table("analytics_player_periods")
