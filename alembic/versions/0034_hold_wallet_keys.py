"""hold-wallet-keys: ``ledger_holds (real_wallet_id, player_id)`` and ``(bonus_wallet_id,
player_id) -> wallets (id, player_id)`` instead of ``player_id -> players`` and the two
single wallet keys, as 0027 did for ledger_transfers.

Every hold insert (each bet and withdrawal) paid three foreign-key checks: two probes of
wallet rows the operation already holds locked and a ``FOR KEY SHARE`` lock (a write) of
the player's row. The composite keys are the two wallet probes alone and also say what the
single keys did not: the held wallets belong to the hold's player. The player still
exists: wallets reference players, and ``real_wallet_id`` is never NULL (a NULL
``bonus_wallet_id`` skips its key, as before: MATCH SIMPLE).

``game_rounds.player_id -> players`` stays: a round names no wallet to check through.

Safe on a populated database: the new keys are added ``NOT VALID`` (checked for new rows
from then on, no scan) and the old ones dropped in the migration's transaction (brief
locks, no scan); ``VALIDATE`` then scans the existing holds outside it, under a lock that
lets money operations go on (SHARE UPDATE EXCLUSIVE on ledger_holds, ROW SHARE on
wallets). The DDL is idempotent, so a replica's ``pms migrate`` that runs this revision
while another's VALIDATE is still scanning finds it done.

Revision ID: 0034_hold_wallet_keys
Revises: 0033_fraud_window
Create Date: 2026-12-02 01:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034_hold_wallet_keys"
down_revision: str | None = "0033_fraud_window"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = {
    "fk_ledger_holds_real_wallet_id_player_id_wallets": "real_wallet_id",
    "fk_ledger_holds_bonus_wallet_id_player_id_wallets": "bonus_wallet_id",
}
_OLD = (
    "fk_ledger_holds_player_id_players",
    "fk_ledger_holds_real_wallet_id_wallets",
    "fk_ledger_holds_bonus_wallet_id_wallets",
)


# Added unless there already (a second run of this revision: see the docstring).
_ADD = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '%(name)s') THEN
        ALTER TABLE ledger_holds ADD CONSTRAINT %(name)s
            FOREIGN KEY (%(column)s, player_id) REFERENCES wallets (id, player_id)
            ON DELETE RESTRICT NOT VALID;
    END IF;
END $$"""


def upgrade() -> None:
    for name, column in _NEW.items():
        op.execute(_ADD % {"name": name, "column": column})
    for name in _OLD:
        op.execute(f"ALTER TABLE ledger_holds DROP CONSTRAINT IF EXISTS {name}")
    with op.get_context().autocommit_block():
        for name in _NEW:
            op.execute(f"ALTER TABLE ledger_holds VALIDATE CONSTRAINT {name}")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE ledger_holds "
        "ADD CONSTRAINT fk_ledger_holds_player_id_players FOREIGN KEY (player_id) "
        "REFERENCES players (id) ON DELETE RESTRICT, "
        "ADD CONSTRAINT fk_ledger_holds_real_wallet_id_wallets FOREIGN KEY (real_wallet_id) "
        "REFERENCES wallets (id) ON DELETE RESTRICT, "
        "ADD CONSTRAINT fk_ledger_holds_bonus_wallet_id_wallets FOREIGN KEY (bonus_wallet_id) "
        "REFERENCES wallets (id) ON DELETE RESTRICT, "
        + ", ".join(f"DROP CONSTRAINT {name}" for name in _NEW)
    )
