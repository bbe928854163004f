"""The append-only audit log and its Merkle tree (RFC 6962): leaves in commit order,
the perfect inner nodes, the maintainer's state, signing keys and signed checkpoints.

Rows are never updated or deleted (triggers in the migrations refuse it unless the retention
job's session setting is on). ``prev_hash``/``row_hash`` are unused: the tree replaced the
hash chain they were reserved for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, partition_key_column


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_target_id", "target", "id"),
        Index("ix_audit_log_occurred_at", "occurred_at"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    # Monthly partitions (migration 0015): the key must be part of the primary key.
    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    occurred_at: datetime | None = Field(default=None, sa_column=partition_key_column())
    actor: str = Field(sa_column=Column(String(120), nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    target: str | None = Field(default=None, sa_column=Column(String(120)))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    ip: str | None = Field(default=None, sa_column=Column(String(64)))
    # PCI DSS 10.2: the principal's kind beside ``actor`` (kind:id), and the user agent.
    principal_kind: str | None = Field(default=None, sa_column=Column(String(16)))
    user_agent: str | None = Field(default=None, sa_column=Column(String(256)))
    request_id: str | None = Field(default=None, sa_column=Column(String(64)))
    details: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    row_hash: str | None = Field(default=None, sa_column=Column(String(64)))


class AuditLeaf(SQLModel, table=True):
    """One entry's place in the tree: ``position`` is the commit order the maintainer gave
    it (no gaps), ``leaf_hash`` = SHA-256(0x00 || canonical entry)."""

    __tablename__ = "audit_leaves"

    position: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    entry_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sequenced_at: datetime | None = Field(default=None, sa_column=created_at_column())


class AuditNode(SQLModel, table=True):
    """A perfect subtree's hash: leaves ``[index * 2**level, (index + 1) * 2**level)``,
    level >= 1 (level 0 is ``audit_leaves``). Any proof is folded from these."""

    __tablename__ = "audit_tree_nodes"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditTreeState(SQLModel, table=True):
    """The maintainer's one row (id 1), locked FOR UPDATE SKIP LOCKED by the replica that
    extends the tree. ``time_floor``: every audit row that commits from now on started
    its transaction at or after it, so only rows from there on can still be unsequenced."""

    __tablename__ = "audit_tree_state"

    id: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    time_floor: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditSigningKey(SQLModel, table=True):
    """An Ed25519 checkpoint key; ``key_id`` is the C2SP signed-note key hash (hex)."""

    __tablename__ = "audit_signing_keys"

    key_id: str = Field(sa_column=Column(String(8), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    private_key: str = Field(sa_column=Column(String(200), nullable=False))  # sealed
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    retired_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AuditCheckpoint(SQLModel, table=True):
    """A signed (tree size, root hash, time) statement."""

    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    origin: str = Field(sa_column=Column(String(200), nullable=False))
    key_id: str = Field(sa_column=Column(String(8), nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditPersonalValue(SQLModel, table=True):
    """A personal value of an audit entry (ip, user agent, a personal ``details`` key),
    moved here by the insert trigger (migration 0015): the entry keeps only the commitment
    ``sha256:`` + base64url(SHA-256(salt || value)), so an erasure deletes this row and the
    entry's leaf hash stays what the tree and its checkpoints committed to."""

    __tablename__ = "audit_personal_values"

    entry_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    field: str = Field(sa_column=Column(String(32), primary_key=True))
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    value: str = Field(sa_column=Column(Text, nullable=False))
