"""bonus: campaigns, player bonuses, loyalty accounts, trigger cursors; bonus transfer kinds

Revision ID: 0006
Revises: 0005 (re-chained by the integrator after 0003-0005)
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_OLD_KINDS = "'DEPOSIT', 'WITHDRAWAL', 'BET', 'WIN', 'BET_REFUND', 'WIN_REVERSAL', 'FEE', 'ADJUSTMENT', 'FREESPINS_GRANT', 'FREESPINS_CONSUME', 'TOURNAMENT_CREDIT', 'TOURNAMENT_DEBIT'"
_NEW_KINDS = _OLD_KINDS + ", 'BONUS_AWARD', 'BONUS_CONVERSION', 'BONUS_FORFEIT'"


def _transfer_kinds(kinds: str) -> None:
    # Autogenerate does not compare CHECK constraints: the new transfer kinds are by hand.
    op.drop_constraint(op.f("ck_ledger_transfers_kind"), "ledger_transfers", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_transfers_kind"), "ledger_transfers", f"kind IN ({kinds})"
    )


def upgrade() -> None:
    _transfer_kinds(_NEW_KINDS)
    op.create_table(
        "bonus_campaigns",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("trigger", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="ACTIVE", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("percent_bp", sa.Integer(), nullable=True),
        sa.Column("fixed_amount", sa.BigInteger(), nullable=True),
        sa.Column("max_amount", sa.BigInteger(), nullable=True),
        sa.Column("min_deposit", sa.BigInteger(), nullable=True),
        sa.Column("free_spins", sa.Integer(), nullable=True),
        sa.Column("spin_stake", sa.BigInteger(), nullable=True),
        sa.Column(
            "games",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("promo_code", sa.String(length=64), nullable=True),
        sa.Column("promo_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("turnover_threshold", sa.BigInteger(), nullable=True),
        sa.Column("loyalty_tier", sa.String(length=32), nullable=True),
        sa.Column("period_days", sa.Integer(), nullable=True),
        sa.Column(
            "countries",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "segment_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "kyc_states",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "award_limit", sa.String(length=24), server_default="ONCE_PER_PLAYER", nullable=False
        ),
        sa.Column("wagering_multiplier_x100", sa.Integer(), server_default="0", nullable=False),
        sa.Column("wagering_base", sa.String(length=24), server_default="BONUS", nullable=False),
        sa.Column(
            "contributions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("max_bet", sa.BigInteger(), nullable=True),
        sa.Column("expiry_days", sa.Integer(), nullable=False),
        sa.Column("max_conversion", sa.BigInteger(), nullable=True),
        sa.Column("forfeit_on_withdrawal", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
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
            "award_limit IN ('ONCE_PER_PLAYER', 'ONCE_PER_PERIOD', 'EVERY_OCCURRENCE')",
            name=op.f("ck_bonus_campaigns_award_limit"),
        ),
        sa.CheckConstraint(
            "kind IN ('DEPOSIT_MATCH', 'CASHBACK', 'FREE_SPINS', 'FIXED', 'LOYALTY_TIER')",
            name=op.f("ck_bonus_campaigns_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'PAUSED')", name=op.f("ck_bonus_campaigns_status")
        ),
        sa.CheckConstraint(
            "trigger IN ('FIRST_DEPOSIT', 'DEPOSIT', 'BIRTHDAY', 'TURNOVER_REACHED', 'VIP_ACTIVATION', 'LOYALTY_TIER_REACHED', 'CASHBACK_PERIOD', 'MANUAL')",
            name=op.f("ck_bonus_campaigns_trigger"),
        ),
        sa.CheckConstraint(
            "wagering_base IN ('BONUS', 'BONUS_AND_DEPOSIT')",
            name=op.f("ck_bonus_campaigns_wagering_base"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonus_campaigns")),
    )
    op.create_index(
        "ix_bonus_campaigns_trigger_status", "bonus_campaigns", ["trigger", "status"], unique=False
    )
    op.create_table(
        "bonus_trigger_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bonus_trigger_cursors")),
    )
    op.create_table(
        "loyalty_accounts",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_loyalty_accounts_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("player_id", name=op.f("pk_loyalty_accounts")),
    )
    op.create_table(
        "player_bonuses",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_key", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("deposit_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("wagering_required", sa.BigInteger(), nullable=False),
        sa.Column("wagered", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "contributions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("max_bet", sa.BigInteger(), nullable=True),
        sa.Column("max_conversion", sa.BigInteger(), nullable=True),
        sa.Column("forfeit_on_withdrawal", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("released", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("forfeited", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("granted_by", sa.String(length=160), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
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
            "kind IN ('DEPOSIT_MATCH', 'CASHBACK', 'FREE_SPINS', 'FIXED', 'LOYALTY_TIER', 'FREE_SPINS_WIN')",
            name=op.f("ck_player_bonuses_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'FULFILLED', 'EXPIRED', 'FORFEITED', 'CANCELLED')",
            name=op.f("ck_player_bonuses_status"),
        ),
        sa.CheckConstraint(
            "amount > 0 AND wagered >= 0 AND wagering_required >= 0",
            name=op.f("ck_player_bonuses_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["bonus_campaigns.id"],
            name=op.f("fk_player_bonuses_campaign_id_bonus_campaigns"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_player_bonuses_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_player_bonuses")),
        sa.UniqueConstraint(
            "campaign_id",
            "player_id",
            "occurrence_key",
            name=op.f("uq_player_bonuses_campaign_id_player_id_occurrence_key"),
        ),
    )
    op.create_index(
        "ix_player_bonuses_active_expires_at",
        "player_bonuses",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index(
        "ix_player_bonuses_active_player_id",
        "player_bonuses",
        ["player_id"],
        unique=False,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index(
        "ix_player_bonuses_player_id_id", "player_bonuses", ["player_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_player_bonuses_player_id_id", table_name="player_bonuses")
    op.drop_index(
        "ix_player_bonuses_active_player_id",
        table_name="player_bonuses",
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.drop_index(
        "ix_player_bonuses_active_expires_at",
        table_name="player_bonuses",
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.drop_table("player_bonuses")
    op.drop_table("loyalty_accounts")
    op.drop_table("bonus_trigger_cursors")
    op.drop_index("ix_bonus_campaigns_trigger_status", table_name="bonus_campaigns")
    op.drop_table("bonus_campaigns")
    _transfer_kinds(_OLD_KINDS)
