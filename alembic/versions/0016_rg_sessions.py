"""responsible gambling: play sessions (sign-in to sign-out); fraud: rollbacks by provider

Revision ID: 0016_rg_sessions
Revises: 0014_observability_analytics
Create Date: 2026-12-01 11:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016_rg_sessions"
down_revision: str | None = "0015_analytics_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "play_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("player_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_play_sessions_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_play_sessions")),
        sa.UniqueConstraint("session_id", name=op.f("uq_play_sessions_session_id")),
    )
    op.create_index(
        "ix_play_sessions_player_id_id", "play_sessions", ["player_id", "id"], unique=False
    )
    op.create_index(
        "ix_fraud_activity_kind_ref_at", "fraud_activity", ["kind", "ref", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_fraud_activity_kind_ref_at", table_name="fraud_activity")
    op.drop_index("ix_play_sessions_player_id_id", table_name="play_sessions")
    op.drop_table("play_sessions")
