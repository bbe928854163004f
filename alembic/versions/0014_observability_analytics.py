"""analytics: daily rollups (money per currency, active players, registrations, counts)

Revision ID: 0014_observability_analytics
Revises: 0013_compliance_audit
Create Date: 2026-12-01 09:44:49.254883+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401

from alembic import op

revision: str = "0014_observability_analytics"
down_revision: str | None = "0013_compliance_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_active_players",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("day", "player_id", name=op.f("pk_analytics_active_players")),
    )
    op.create_table(
        "analytics_daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "name", name=op.f("pk_analytics_daily_counts")),
    )
    op.create_table(
        "analytics_daily_money",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("deposits_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("deposits_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("withdrawals_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("withdrawals_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bets_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("stakes_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("wins_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "currency", name=op.f("pk_analytics_daily_money")),
    )
    op.create_table(
        "analytics_daily_registrations",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("registrations", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "country", name=op.f("pk_analytics_daily_registrations")),
    )


def downgrade() -> None:
    op.drop_table("analytics_daily_registrations")
    op.drop_table("analytics_daily_money")
    op.drop_table("analytics_daily_counts")
    op.drop_table("analytics_active_players")
