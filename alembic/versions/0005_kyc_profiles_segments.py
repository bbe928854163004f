"""kyc, profiles, segments, play-style metrics; MANUAL_REVIEW confirm status, VIP since

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("rule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    op.create_index("uq_segments_name", "segments", ["name"], unique=True)
    op.create_table(
        "kyc_cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("risk_level", sa.String(length=8), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("pep", sa.Boolean(), nullable=True),
        sa.Column("sanctions", sa.Boolean(), nullable=True),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("documents", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
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
            "risk_level IN ('LOW', 'MEDIUM', 'HIGH')", name=op.f("ck_kyc_cases_risk_level")
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'VERIFIED', 'REJECTED', 'MANUAL_REVIEW', 'FAILED')",
            name=op.f("ck_kyc_cases_status"),
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_kyc_cases_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_cases")),
    )
    op.create_index(
        "ix_kyc_cases_player_id_created_at", "kyc_cases", ["player_id", "created_at"], unique=False
    )
    op.create_index(
        "uq_kyc_cases_open_per_player",
        "kyc_cases",
        ["player_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('PENDING', 'MANUAL_REVIEW')"),
    )
    op.create_index(
        "uq_kyc_cases_provider_ref", "kyc_cases", ["provider", "provider_ref"], unique=True
    )
    op.create_table(
        "player_metrics",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("bet_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("stake_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("win_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("deposit_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("deposit_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("withdrawal_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("withdrawal_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("session_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_bet_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_bet_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "hour_histogram",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("array_fill(0, ARRAY[24])"),
            nullable=False,
        ),
        sa.Column(
            "stake_histogram",
            postgresql.ARRAY(sa.BigInteger()),
            server_default=sa.text("array_fill(0::bigint, ARRAY[128])"),
            nullable=False,
        ),
        sa.Column(
            "game_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "provider_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "category_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_player_metrics_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("player_id", name=op.f("pk_player_metrics")),
    )
    op.create_table(
        "player_profiles",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("address_line1", sa.String(length=200), nullable=True),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("address_country", sa.String(length=2), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_player_profiles_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("player_id", name=op.f("pk_player_profiles")),
    )
    op.create_table(
        "player_settings_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("pii", sa.Boolean(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_player_settings_changes_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_player_settings_changes")),
    )
    op.create_index(
        "ix_player_settings_changes_player_id_id",
        "player_settings_changes",
        ["player_id", "id"],
        unique=False,
    )
    op.create_table(
        "player_tags",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_player_tags_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("player_id", "tag", name=op.f("pk_player_tags")),
    )
    op.create_table(
        "segment_members",
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column(
            "entered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_segment_members_player_id_players"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_members_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "player_id", name=op.f("pk_segment_members")),
    )
    op.create_index("ix_segment_members_player_id", "segment_members", ["player_id"], unique=False)
    op.create_table(
        "kyc_case_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("risk_level", sa.String(length=8), nullable=True),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["kyc_cases.id"],
            name=op.f("fk_kyc_case_events_case_id_kyc_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_kyc_case_events_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_case_events")),
    )
    op.create_index(
        "ix_kyc_case_events_case_id_id", "kyc_case_events", ["case_id", "id"], unique=False
    )
    op.add_column("players", sa.Column("vip_since", sa.DateTime(timezone=True), nullable=True))
    # Autogenerate does not compare CHECK constraints: widen the confirm status by hand.
    op.drop_constraint(op.f("ck_players_confirm_status"), "players", type_="check")
    op.create_check_constraint(
        op.f("ck_players_confirm_status"),
        "players",
        "confirm_status IN ('UNVERIFIED', 'PENDING', 'VERIFIED', 'REJECTED', 'MANUAL_REVIEW')",
    )


def downgrade() -> None:
    op.execute(
        "UPDATE players SET confirm_status = 'PENDING' WHERE confirm_status = 'MANUAL_REVIEW'"
    )
    op.drop_constraint(op.f("ck_players_confirm_status"), "players", type_="check")
    op.create_check_constraint(
        op.f("ck_players_confirm_status"),
        "players",
        "confirm_status IN ('UNVERIFIED', 'PENDING', 'VERIFIED', 'REJECTED')",
    )
    op.drop_column("players", "vip_since")
    op.drop_index("ix_kyc_case_events_case_id_id", table_name="kyc_case_events")
    op.drop_table("kyc_case_events")
    op.drop_index("ix_segment_members_player_id", table_name="segment_members")
    op.drop_table("segment_members")
    op.drop_table("player_tags")
    op.drop_index("ix_player_settings_changes_player_id_id", table_name="player_settings_changes")
    op.drop_table("player_settings_changes")
    op.drop_table("player_profiles")
    op.drop_table("player_metrics")
    op.drop_index("uq_kyc_cases_provider_ref", table_name="kyc_cases")
    op.drop_index(
        "uq_kyc_cases_open_per_player",
        table_name="kyc_cases",
        postgresql_where=sa.text("status IN ('PENDING', 'MANUAL_REVIEW')"),
    )
    op.drop_index("ix_kyc_cases_player_id_created_at", table_name="kyc_cases")
    op.drop_table("kyc_cases")
    op.drop_index("uq_segments_name", table_name="segments")
    op.drop_table("segments")
