"""ledger: house accounts, transfers, holds, game rounds and transactions, idempotency keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "game_transactions",
        sa.Column("client", sa.String(length=160), nullable=False),
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("game_round_id", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('BET', 'WIN', 'ROUND_ROLLBACK', 'TOMBSTONE')",
            name=op.f("ck_game_transactions_kind"),
        ),
        sa.PrimaryKeyConstraint("client", "transaction_id", name=op.f("pk_game_transactions")),
    )
    op.create_table(
        "house_accounts",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('CASH_CLEARING', 'GAME', 'BONUS_LIABILITY', 'FEES')",
            name=op.f("ck_house_accounts_kind"),
        ),
        sa.PrimaryKeyConstraint("currency", "kind", name=op.f("pk_house_accounts")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=160), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("scope", "operation", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        "ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False
    )
    op.create_table(
        "game_rounds",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client", sa.String(length=160), nullable=False),
        sa.Column("round_ref", sa.String(length=128), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="OPEN", nullable=False),
        sa.Column("stake_real", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("stake_bonus", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("win_real", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("win_bonus", sa.BigInteger(), server_default="0", nullable=False),
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
            "status IN ('OPEN', 'SETTLED', 'ROLLED_BACK')", name=op.f("ck_game_rounds_status")
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_game_rounds_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_game_rounds")),
        sa.UniqueConstraint("client", "round_ref", name=op.f("uq_game_rounds_client_round_ref")),
    )
    op.create_index("ix_game_rounds_player_id", "game_rounds", ["player_id"], unique=False)
    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("client", sa.String(length=160), nullable=False),
        sa.Column("game_round_id", sa.BigInteger(), nullable=True),
        sa.Column("transaction_id", sa.String(length=128), nullable=True),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("real_wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("bonus_wallet_id", sa.BigInteger(), nullable=True),
        sa.Column("real_amount", sa.BigInteger(), nullable=False),
        sa.Column("bonus_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="PENDING", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('BET', 'WITHDRAWAL')", name=op.f("ck_ledger_holds_purpose")
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'POSTED', 'VOIDED', 'EXPIRED', 'ROLLED_BACK')",
            name=op.f("ck_ledger_holds_status"),
        ),
        sa.CheckConstraint(
            "real_amount >= 0 AND bonus_amount >= 0 AND real_amount + bonus_amount > 0",
            name=op.f("ck_ledger_holds_positive_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["bonus_wallet_id"],
            ["wallets.id"],
            name=op.f("fk_ledger_holds_bonus_wallet_id_wallets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["game_round_id"],
            ["game_rounds.id"],
            name=op.f("fk_ledger_holds_game_round_id_game_rounds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_ledger_holds_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["real_wallet_id"],
            ["wallets.id"],
            name=op.f("fk_ledger_holds_real_wallet_id_wallets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
    )
    op.create_index(
        "ix_ledger_holds_client_transaction_id",
        "ledger_holds",
        ["client", "transaction_id"],
        unique=False,
    )
    op.create_index(
        "ix_ledger_holds_game_round_id", "ledger_holds", ["game_round_id"], unique=False
    )
    op.create_index(
        "ix_ledger_holds_pending_expiry",
        "ledger_holds",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'PENDING' AND expires_at IS NOT NULL"),
    )
    op.create_index("ix_ledger_holds_player_id", "ledger_holds", ["player_id"], unique=False)
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("house_account", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "house_account IN ('CASH_CLEARING', 'GAME', 'BONUS_LIABILITY', 'FEES')",
            name=op.f("ck_ledger_transfers_house_account"),
        ),
        sa.CheckConstraint(
            "kind IN ('DEPOSIT', 'WITHDRAWAL', 'BET', 'WIN', 'BET_REFUND', 'WIN_REVERSAL', 'FEE', 'ADJUSTMENT', 'FREESPINS_GRANT', 'FREESPINS_CONSUME', 'TOURNAMENT_CREDIT', 'TOURNAMENT_DEBIT')",
            name=op.f("ck_ledger_transfers_kind"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_transfers_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["player_id"],
            ["players.id"],
            name=op.f("fk_ledger_transfers_player_id_players"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"],
            ["wallets.id"],
            name=op.f("fk_ledger_transfers_wallet_id_wallets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
    )
    op.create_index(
        "ix_ledger_transfers_operation_id", "ledger_transfers", ["operation_id"], unique=False
    )
    op.create_index(
        "ix_ledger_transfers_player_id_id", "ledger_transfers", ["player_id", "id"], unique=False
    )
    op.create_index(
        "ix_ledger_transfers_wallet_id_id", "ledger_transfers", ["wallet_id", "id"], unique=False
    )
    op.add_column(
        "wallets", sa.Column("turnover", sa.BigInteger(), server_default="0", nullable=False)
    )


def downgrade() -> None:

    op.drop_column("wallets", "turnover")
    op.drop_index("ix_ledger_transfers_wallet_id_id", table_name="ledger_transfers")
    op.drop_index("ix_ledger_transfers_player_id_id", table_name="ledger_transfers")
    op.drop_index("ix_ledger_transfers_operation_id", table_name="ledger_transfers")
    op.drop_table("ledger_transfers")
    op.drop_index("ix_ledger_holds_player_id", table_name="ledger_holds")
    op.drop_index(
        "ix_ledger_holds_pending_expiry",
        table_name="ledger_holds",
        postgresql_where=sa.text("status = 'PENDING' AND expires_at IS NOT NULL"),
    )
    op.drop_index("ix_ledger_holds_game_round_id", table_name="ledger_holds")
    op.drop_index("ix_ledger_holds_client_transaction_id", table_name="ledger_holds")
    op.drop_table("ledger_holds")
    op.drop_index("ix_game_rounds_player_id", table_name="game_rounds")
    op.drop_table("game_rounds")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("house_accounts")
    op.drop_table("game_transactions")
