"""responsible gambling: limits and exclusions

Revision ID: 0010_rg_limits
Revises: 0009_crm_sync
Create Date: 2026-12-01 09:29:50.400900+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401

from alembic import op

revision: str = "0010_rg_limits"
down_revision: str | None = "0009_crm_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gambling_limits",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("player_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_amount", sa.BigInteger(), nullable=True),
        sa.Column("pending_remove", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("pending_effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('DEPOSIT', 'LOSS', 'WAGER', 'SESSION')", name=op.f("ck_gambling_limits_kind")
        ),
        sa.CheckConstraint(
            "period IN ('DAY', 'WEEK', 'MONTH')", name=op.f("ck_gambling_limits_period")
        ),
        sa.ForeignKeyConstraint(
            ["player_id"], ["players.id"], name=op.f("fk_gambling_limits_player_id_players")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gambling_limits")),
        sa.UniqueConstraint(
            "player_id", "kind", "period", name=op.f("uq_gambling_limits_player_id_kind_period")
        ),
    )
    op.create_table(
        "player_exclusions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("player_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=120), nullable=True),
        sa.Column("lift_reason", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('BREAK', 'SELF_EXCLUSION')", name=op.f("ck_player_exclusions_kind")
        ),
        sa.ForeignKeyConstraint(
            ["player_id"], ["players.id"], name=op.f("fk_player_exclusions_player_id_players")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_player_exclusions")),
    )
    op.create_index(
        "ix_player_exclusions_player_id_ends_at",
        "player_exclusions",
        ["player_id", "ends_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_player_exclusions_player_id_ends_at", table_name="player_exclusions")
    op.drop_table("player_exclusions")
    op.drop_table("gambling_limits")
