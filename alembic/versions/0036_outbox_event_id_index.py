"""outbox-event-id-index: ``outbox_events.event_id`` loses its unique index.

Every event id is a random version-4 UUID made where the row is written (122 random
bits: ``gen_random_uuid()`` in the ledger's and the consents' SQL, ``uuid4`` in
app/events/outbox.py, the segments' SQL); nothing reads the table by it (consumers keep
the ids they saw in their own tables: event_consumptions). The index cost every event
an insert at a random place of a b-tree as large as the table: two of a money
operation's ~43 WAL records (bench/wal_records.py), and the page reads of a random
access pattern once the table outgrows memory.

Revision ID: 0036_outbox_event_id_index
Revises: 0035_idempotency_key_writes
Create Date: 2026-12-03 14:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0036_outbox_event_id_index"
down_revision: str | None = "0035_idempotency_key_writes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_events DROP CONSTRAINT IF EXISTS uq_outbox_events_event_id")


def downgrade() -> None:
    op.create_unique_constraint("uq_outbox_events_event_id", "outbox_events", ["event_id"])
