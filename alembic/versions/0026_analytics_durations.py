"""analytics: first deposits, KYC decisions and player-day rows counted in the facts,
log-scale histograms of the durations per dimension for the medians, facts per segment,
and an index for the per-player KYC read

Revision ID: 0026_analytics_durations
Revises: 0025_import_plan
Create Date: 2026-12-01 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0026_analytics_durations"
down_revision: str | None = "0025_import_plan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COUNTERS = ("first_deposits", "kyc_decisions", "kyc_verified", "player_days")
SEGMENT_COUNTERS = (
    "active", "paying", "retained", "active_days", "registrations", "bets", "rollbacks",
    "awarded", "fulfilled", "stakes", "wins", "bonus_cost", "deposits_count", "deposits",
    "withdrawals_count", "withdrawals", *NEW_COUNTERS,
)  # fmt: skip


def upgrade() -> None:
    for name in NEW_COUNTERS:
        op.add_column(
            "analytics_period_facts",
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False),
        )
    op.create_table(
        "analytics_duration_buckets",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=8), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "grain", "dim", "value", "period", "metric", "bucket",
            name=op.f("pk_analytics_duration_buckets"),
        ),
    )  # fmt: skip
    op.create_table(
        "analytics_segment_facts",
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *[sa.Column(c, sa.BigInteger(), server_default="0", nullable=False)
          for c in SEGMENT_COUNTERS],
        sa.PrimaryKeyConstraint(
            "segment_id", "grain", "period", "currency", name=op.f("pk_analytics_segment_facts")
        ),
    )  # fmt: skip
    op.create_index(
        op.f("ix_analytics_players_kyc_decided_at"), "analytics_players", ["kyc_decided_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_analytics_players_kyc_decided_at"), table_name="analytics_players")
    op.drop_table("analytics_segment_facts")
    op.drop_table("analytics_duration_buckets")
    for name in NEW_COUNTERS:
        op.drop_column("analytics_period_facts", name)
