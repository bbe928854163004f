"""idempotency-key-writes: cheaper claims. ``idempotency_keys.created_at`` is indexed by a
BRIN index instead of a b-tree, and the table leaves 30 % of each page free.

Every money operation inserts its key's row (LOAD) and updates it with the answer
(APPLY). The b-tree on ``created_at`` served only the key purge (``created_at < now() -
retention``); keys arrive in time order, so a BRIN index answers that range as well, for
no insert into a growing b-tree at each claim (the claims of concurrent operations all
landed on its right-most page). The update grows the row by the answer's JSON: with the
pages full it had to move the row to another page and add an entry to every index (about
four updates in five); with room on the page it stays a heap-only update.

``CONCURRENTLY`` outside the migration's transaction: neither index change blocks money
operations on a populated database; ``IF [NOT] EXISTS`` makes a second run a no-op. The
fillfactor applies to pages written from now on.

Revision ID: 0035_idempotency_key_writes
Revises: 0034_hold_wallet_keys
Create Date: 2026-12-03 14:40:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035_idempotency_key_writes"
down_revision: str | None = "0034_hold_wallet_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD, _NEW = "ix_idempotency_keys_created_at", "ix_idempotency_keys_created_at_brin"


def upgrade() -> None:
    op.execute("ALTER TABLE idempotency_keys SET (fillfactor = 70)")
    with op.get_context().autocommit_block():
        op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {_NEW} "
                   "ON idempotency_keys USING brin (created_at)")  # fmt: skip
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_OLD}")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {_OLD} "
                   "ON idempotency_keys (created_at)")  # fmt: skip
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_NEW}")
    op.execute("ALTER TABLE idempotency_keys RESET (fillfactor)")
