"""ledger-transfer-fk: one composite foreign key ``(wallet_id, player_id) -> wallets (id,
player_id)`` on ``ledger_transfers`` instead of two (``player_id -> players``,
``wallet_id -> wallets``), and no ``operation_id`` index.

Every transfer row paid one foreign-key check per key on the money path (two index probes
and a ``FOR KEY SHARE`` lock, i.e. a write, of the player's row); the composite key is one
probe of a row the operation already holds locked, and also says what the two did not:
the wallet belongs to that player. The player still exists: wallets reference players.
No statement reads transfers by ``operation_id`` (history reads by wallet or player id,
exports by id), so that index was pure write cost (one more insert per row).

Revision ID: 0027_ledger_transfer_fk
Revises: 0026_analytics_durations
Create Date: 2026-12-01 18:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027_ledger_transfer_fk"
down_revision: str | None = "0026_analytics_durations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE wallets ADD CONSTRAINT uq_wallets_id_player_id UNIQUE (id, player_id)")
    op.execute(
        "ALTER TABLE ledger_transfers DROP CONSTRAINT fk_ledger_transfers_player_id_players, "
        "DROP CONSTRAINT fk_ledger_transfers_wallet_id_wallets, "
        "ADD CONSTRAINT fk_ledger_transfers_wallet_id_player_id_wallets "
        "FOREIGN KEY (wallet_id, player_id) REFERENCES wallets (id, player_id) "
        "ON DELETE RESTRICT"
    )
    op.execute("DROP INDEX ix_ledger_transfers_operation_id")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_ledger_transfers_operation_id ON ledger_transfers (operation_id)")
    op.execute(
        "ALTER TABLE ledger_transfers DROP CONSTRAINT fk_ledger_transfers_wallet_id_player_id_wallets, "
        "ADD CONSTRAINT fk_ledger_transfers_player_id_players FOREIGN KEY (player_id) "
        "REFERENCES players (id) ON DELETE RESTRICT, "
        "ADD CONSTRAINT fk_ledger_transfers_wallet_id_wallets FOREIGN KEY (wallet_id) "
        "REFERENCES wallets (id) ON DELETE RESTRICT"
    )
    op.execute("ALTER TABLE wallets DROP CONSTRAINT uq_wallets_id_player_id")
