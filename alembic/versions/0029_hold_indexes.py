"""hold-indexes: ledger_holds' player index covers pending holds only; wallets keep room
for HOT updates.

A hold's settlement (or cancel, expiry, withdrawal decision) updates its ``status``, which
the pending-expiry index's predicate names, so that update can never be HOT: the new row
version gets an entry in every index whose predicate it satisfies. Every statement that
reads holds by player asks for pending ones only (hold expiry's lock, GDPR erasure's
check), so ``ix_ledger_holds_player_id`` becomes ``... WHERE status = 'PENDING'``: one
index entry less per finalized hold (3 instead of 4), and the index holds only the live
holds instead of the whole history. (Players are never deleted: erasure anonymises in
place, so the players foreign key's RESTRICT check needs no full index.)

Wallet rows are updated by every money operation (balance, held); at the default fill
factor about a fifth of those updates found no room on the row's page and were not HOT
(a new entry in each of the wallets' three indexes). ``fillfactor = 80`` leaves that room
on pages written from now on (existing pages gain it as vacuum frees them).

Revision ID: 0029_hold_indexes
Revises: 0028_analytics_combos
Create Date: 2026-12-01 21:50:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029_hold_indexes"
down_revision: str | None = "0028_analytics_combos"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_ledger_holds_pending_player_id ON ledger_holds (player_id) "
        "WHERE status = 'PENDING'"
    )
    op.execute("DROP INDEX ix_ledger_holds_player_id")
    op.execute("ALTER TABLE wallets SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE wallets RESET (fillfactor)")
    op.execute("CREATE INDEX ix_ledger_holds_player_id ON ledger_holds (player_id)")
    op.execute("DROP INDEX ix_ledger_holds_pending_player_id")
