"""analytics: player dimension, per-player-day facts, segment members, registration errors

Revision ID: 0015_analytics_metrics
Revises: 0014_observability_analytics
Create Date: 2026-12-01 11:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015_analytics_metrics"
down_revision: str | None = "0014_observability_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _count(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "analytics_players",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("registered_at", tz, nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("traffic_source", sa.String(length=64), nullable=True),
        sa.Column("affiliate_code", sa.String(length=64), nullable=True),
        sa.Column("kyc_submitted_at", tz, nullable=True),
        sa.Column("kyc_decided_at", tz, nullable=True),
        sa.Column("kyc_outcome", sa.String(length=16), nullable=True),
        sa.Column("first_deposit_at", tz, nullable=True),
        sa.Column("first_bet_at", tz, nullable=True),
        sa.PrimaryKeyConstraint("player_id", name=op.f("pk_analytics_players")),
    )
    op.create_index(
        op.f("ix_analytics_players_registered_on"), "analytics_players", ["registered_on"]
    )
    op.create_table(
        "analytics_player_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *[
            _count(c)
            for c in (
                "bets_count",
                "stakes_minor",
                "wins_minor",
                "bonus_cost_minor",
                "bonuses_awarded",
                "bonuses_fulfilled",
                "deposits_count",
                "deposits_minor",
                "withdrawals_count",
                "withdrawals_minor",
                "rollbacks_count",
            )
        ],
        sa.PrimaryKeyConstraint(
            "day", "player_id", "currency", name=op.f("pk_analytics_player_days")
        ),
    )
    op.create_index(
        op.f("ix_analytics_player_days_player_id"), "analytics_player_days", ["player_id"]
    )
    op.create_table(
        "analytics_segment_members",
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint(
            "segment_id", "player_id", name=op.f("pk_analytics_segment_members")
        ),
    )
    op.create_table(
        "analytics_registration_errors",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        _count("count"),
        sa.PrimaryKeyConstraint(
            "day", "field", "reason", name=op.f("pk_analytics_registration_errors")
        ),
    )


def downgrade() -> None:
    op.drop_table("analytics_registration_errors")
    op.drop_table("analytics_segment_members")
    op.drop_index(op.f("ix_analytics_player_days_player_id"), "analytics_player_days")
    op.drop_table("analytics_player_days")
    op.drop_index(op.f("ix_analytics_players_registered_on"), "analytics_players")
    op.drop_table("analytics_players")
