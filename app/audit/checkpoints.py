"""Signed checkpoints of the audit tree: the Ed25519 key (private part sealed with
app.core.crypto like the JWT keys), signing every N entries or M seconds, and the
public keys and stored checkpoints a verifier needs."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import note
from app.audit.models import AuditCheckpoint, AuditSigningKey
from app.core.crypto import seal, unseal
from app.core.settings import Settings


async def signing_key(session: AsyncSession, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
    """The current key, made on first use. Called under the tree maintainer's lock, so
    two replicas never make two keys at once."""
    row = (
        await session.execute(
            select(AuditSigningKey)
            .where(col(AuditSigningKey.retired_at).is_(None))
            .order_by(col(AuditSigningKey.created_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is not None:
        raw = unseal(row.private_key, settings)
        return row.name, Ed25519PrivateKey.from_private_bytes(raw)
    key = Ed25519PrivateKey.generate()
    name = settings.audit_log_origin
    public = key.public_key().public_bytes_raw()
    session.add(
        AuditSigningKey(
            key_id=note.key_hash(name, public).hex(),
            name=name,
            public_key=public,
            private_key=seal(key.private_bytes_raw(), settings),
        )
    )
    await session.flush()
    return name, key


async def public_keys(session: AsyncSession) -> list[AuditSigningKey]:
    rows = await session.execute(select(AuditSigningKey).order_by(col(AuditSigningKey.created_at)))
    return list(rows.scalars())


async def key_map(session: AsyncSession) -> dict[tuple[str, bytes], bytes]:
    return {(k.name, bytes.fromhex(k.key_id)): k.public_key for k in await public_keys(session)}


async def latest(session: AsyncSession) -> AuditCheckpoint | None:
    return (
        await session.execute(
            select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size).desc()).limit(1)
        )
    ).scalar_one_or_none()


async def at_size(session: AsyncSession, size: int) -> AuditCheckpoint | None:
    return (
        await session.execute(select(AuditCheckpoint).where(col(AuditCheckpoint.tree_size) == size))
    ).scalar_one_or_none()


async def all_checkpoints(session: AsyncSession) -> list[AuditCheckpoint]:
    rows = await session.execute(select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size)))
    return list(rows.scalars())


def due(last: AuditCheckpoint | None, size: int, now: datetime, settings: Settings) -> bool:
    if size == 0 or (last is not None and last.tree_size >= size):
        return False
    if last is None:
        return True
    elapsed = (now - last.signed_at).total_seconds()
    return (
        size - last.tree_size >= settings.audit_checkpoint_every_entries
        or elapsed >= settings.audit_checkpoint_every_seconds
    )


async def sign(
    session: AsyncSession, settings: Settings, size: int, root: bytes
) -> AuditCheckpoint:
    name, key = await signing_key(session, settings)
    now = (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()
    signed = note.sign(note.Checkpoint(settings.audit_log_origin, size, root, now), name, key)
    row = AuditCheckpoint(
        tree_size=size,
        root_hash=root,
        signed_at=now,
        origin=settings.audit_log_origin,
        key_id=signed.key_id.hex(),
        signature=signed.signature,
    )
    session.add(row)
    await session.flush()
    return row


def as_note(row: AuditCheckpoint, key_name: str) -> note.SignedCheckpoint:
    checkpoint = note.Checkpoint(
        row.origin, row.tree_size, row.root_hash, row.signed_at.astimezone(UTC)
    )
    return note.SignedCheckpoint(checkpoint, key_name, bytes.fromhex(row.key_id), row.signature)


async def note_text(session: AsyncSession, row: AuditCheckpoint) -> str:
    names = {k.key_id: k.name for k in await public_keys(session)}
    return as_note(row, names.get(row.key_id, "unknown")).text()
