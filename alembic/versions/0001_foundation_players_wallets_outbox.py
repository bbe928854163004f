"""foundation: players, wallets, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column(
            "time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_events_subject_id", "outbox_events", ["subject", "id"], unique=False)
    op.create_table(
        "players",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("login", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("locale", sa.String(length=16), server_default="en", nullable=False),
        sa.Column("traffic_source", sa.String(length=64), nullable=True),
        sa.Column("affiliate_code", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="ACTIVE", nullable=False),
        sa.Column(
            "confirm_status", sa.String(length=16), server_default="UNVERIFIED", nullable=False
        ),
        sa.Column("risk_level", sa.String(length=8), server_default="LOW", nullable=False),
        sa.Column("vip_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "preferences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
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
            "confirm_status IN ('UNVERIFIED', 'PENDING', 'VERIFIED', 'REJECTED')",
            name=op.f("ck_players_confirm_status"),
        ),
        sa.CheckConstraint(
            "risk_level IN ('LOW', 'MEDIUM', 'HIGH')", name=op.f("ck_players_risk_level")
        ),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'BLOCKED', 'SELF_EXCLUDED', 'CLOSED')",
            name=op.f("ck_players_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_players")),
    )
    op.create_index(op.f("ix_players_country"), "players", ["country"], unique=False)
    op.create_index("ix_players_created_at_id", "players", ["created_at", "id"], unique=False)
    op.create_index("uq_players_email", "players", ["email"], unique=True)
    op.create_index(
        "uq_players_login_lower", "players", [sa.literal_column("lower(login)")], unique=True
    )
    op.create_table(
        "wallets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("held", sa.BigInteger(), server_default="0", nullable=False),
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
            "kind IN ('REAL', 'BONUS', 'FREESPINS', 'TOURNAMENT')", name=op.f("ck_wallets_kind")
        ),
        sa.CheckConstraint(
            "held >= 0 AND balance >= held", name=op.f("ck_wallets_balance_covers_held")
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_wallets_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("player_id", "kind", name=op.f("uq_wallets_player_id_kind")),
    )


def downgrade() -> None:
    op.drop_table("wallets")
    op.drop_index("uq_players_login_lower", table_name="players")
    op.drop_index("uq_players_email", table_name="players")
    op.drop_index("ix_players_created_at_id", table_name="players")
    op.drop_index(op.f("ix_players_country"), table_name="players")
    op.drop_table("players")
    op.drop_index("ix_outbox_events_subject_id", table_name="outbox_events")
    op.drop_index(
        "ix_outbox_events_pending",
        table_name="outbox_events",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox_events")
