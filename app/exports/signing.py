"""The export bundle signing key: one active Ed25519 key in ``export_signing_keys``, its
private half sealed at rest like the JWT keys; created on first use."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.crypto import seal, unseal
from app.core.settings import Settings
from app.exports.models import ExportSigningKey

# Serialises key creation across replicas (two first exports must not make two keys).
_CREATE_LOCK = 0x45585053_49474E31  # "EXPSIGN1"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "exp-" + hashlib.sha256(raw).hexdigest()[:16]


def _public_b64(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


async def active_key(session: AsyncSession, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
    """The active key (kid, private key), created if there is none."""
    row = await _active_row(session)
    if row is None:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK})
        row = await _active_row(session) or await _create(session, settings)
    raw = unseal(row.private_key, settings)
    return row.kid, Ed25519PrivateKey.from_private_bytes(raw)


async def public_key(session: AsyncSession, kid: str) -> Ed25519PublicKey | None:
    """A (possibly retired) key by id, to verify an older bundle."""
    row = await session.get(ExportSigningKey, kid)
    if row is None:
        return None
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(row.public_key))


async def all_keys(session: AsyncSession) -> list[ExportSigningKey]:
    """Every key, retired ones too (older bundles stay verifiable), oldest first."""
    stmt = select(ExportSigningKey).order_by(col(ExportSigningKey.created_at))
    return list((await session.execute(stmt)).scalars())


async def _active_row(session: AsyncSession) -> ExportSigningKey | None:
    stmt = (
        select(ExportSigningKey)
        .where(col(ExportSigningKey.retired_at).is_(None))
        .order_by(col(ExportSigningKey.created_at).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


async def _create(session: AsyncSession, settings: Settings) -> ExportSigningKey:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kid = key_id(private.public_key())
    await session.execute(
        pg_insert(ExportSigningKey)
        .values(
            kid=kid, public_key=_public_b64(private.public_key()), private_key=seal(raw, settings)
        )
        .on_conflict_do_nothing()
    )
    row = await session.get(ExportSigningKey, kid)
    assert row is not None
    return row
