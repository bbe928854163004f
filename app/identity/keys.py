"""JWT signing keys: kept in the database (private part sealed), loaded into a per-process
key ring, rotated with the old keys still verifying until their tokens have expired."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, Key, OKPKey
from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import SecretKeyMismatch, seal, unseal
from app.core.db import Database
from app.core.settings import Settings
from app.identity.models import SigningKey

log = logging.getLogger(__name__)

_KEY_LOCK = 0x504D535F4B455953  # "PMS_KEYS": replicas starting together make one first key
RELOAD_INTERVAL_SECONDS = 60.0
UNKNOWN_KID_RELOAD_SECONDS = 5.0


def generate_key(algorithm: str) -> Key:
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", auto_kid=True)
    if algorithm == "EdDSA":
        return OKPKey.generate_key("Ed25519", auto_kid=True)
    raise ValueError(f"unsupported signing algorithm {algorithm}")


def import_key(data: dict[str, Any]) -> Key:
    return OKPKey.import_key(data) if data["kty"] == "OKP" else ECKey.import_key(data)


async def create_key(session: AsyncSession, settings: Settings) -> SigningKey:
    key = generate_key(settings.token_algorithm)
    kid = key.kid
    assert kid is not None
    public = {**key.as_dict(private=False), "kid": kid, "alg": settings.token_algorithm}
    public["use"] = "sig"
    row = SigningKey(
        kid=kid,
        algorithm=settings.token_algorithm,
        private_key=seal(json.dumps(key.as_dict(private=True)).encode(), settings),
        public_jwk=public,
    )
    session.add(row)
    await session.flush()
    return row


async def rotate(session: AsyncSession, settings: Settings) -> SigningKey:
    """Retire the signing key(s) and make a new one. Retired keys keep verifying for one
    access-token lifetime (plus leeway), then drop out of the JWKS."""
    await session.execute(
        SigningKey.__table__.update()
        .where(SigningKey.retired_at.is_(None))
        .values(retired_at=datetime.now(UTC))
    )
    return await create_key(session, settings)


def verification_horizon(settings: Settings) -> datetime:
    lifetime = settings.access_token_ttl_seconds + settings.token_leeway_seconds
    return datetime.now(UTC) - timedelta(seconds=lifetime)


async def usable_keys(session: AsyncSession, settings: Settings) -> list[SigningKey]:
    stmt = (
        select(SigningKey)
        .where(
            or_(
                SigningKey.retired_at.is_(None),
                SigningKey.retired_at > verification_horizon(settings),
            )
        )
        .order_by(SigningKey.created_at.desc())
    )
    return list((await session.execute(stmt)).scalars())


class KeyRing:
    """The keys this process signs and verifies with, reloaded from the database every
    minute and when a token names a kid it does not know (rotation on another replica)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._signing: tuple[str, Key] | None = None
        self._verifying: dict[str, tuple[str, Key]] = {}
        self._public: list[dict[str, Any]] = []
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        async with self._lock:
            async with self._db.transaction() as session:
                rows = await usable_keys(session, self._settings)
                if not any(r.retired_at is None for r in rows):
                    await session.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK}
                    )
                    rows = await usable_keys(session, self._settings)
                    if not any(r.retired_at is None for r in rows):
                        log.info("no active JWT signing key: generating one")
                        rows.insert(0, await create_key(session, self._settings))
            self._install(rows)

    def _install(self, rows: list[SigningKey]) -> None:
        verifying: dict[str, tuple[str, Key]] = {}
        signing: tuple[str, Key] | None = None
        for row in rows:
            try:
                sealed = unseal(row.private_key, self._settings)
            except SecretKeyMismatch:
                raise SecretKeyMismatch("signing keys") from None
            key = import_key(json.loads(sealed))
            verifying[row.kid] = (row.algorithm, key)
            if signing is None and row.retired_at is None:
                signing = (row.kid, key)
        self._signing = signing
        self._verifying = verifying
        self._public = [row.public_jwk for row in rows]
        self._loaded_at = time.monotonic()

    async def _fresh(self, max_age: float) -> None:
        if time.monotonic() - self._loaded_at > max_age or self._signing is None:
            await self.load()

    async def signing_key(self) -> tuple[str, str, Key]:
        """(kid, algorithm, key) of the current signing key."""
        await self._fresh(RELOAD_INTERVAL_SECONDS)
        assert self._signing is not None
        kid, key = self._signing
        return kid, self._verifying[kid][0], key

    async def verifying_key(self, kid: str) -> tuple[str, Key] | None:
        await self._fresh(RELOAD_INTERVAL_SECONDS)
        found = self._verifying.get(kid)
        if found is None:
            await self._fresh(UNKNOWN_KID_RELOAD_SECONDS)
            found = self._verifying.get(kid)
        return found

    async def jwks(self) -> dict[str, Any]:
        await self._fresh(RELOAD_INTERVAL_SECONDS)
        return {"keys": list(self._public)}
