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
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

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


async def create_key(
    session: AsyncSession, settings: Settings, activates_at: datetime | None = None
) -> SigningKey:
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
        activates_at=activates_at,
    )
    session.add(row)
    await session.flush()
    return row


async def rotate(session: AsyncSession, settings: Settings) -> SigningKey:
    """Make a new signing key that is published now and signs after the pre-publication
    window (verifiers caching the JWKS learn it first); the current key(s) sign until then
    and are retired at that moment. Retired keys keep verifying for one access-token
    lifetime (plus leeway), then drop out of the JWKS."""
    activates_at = datetime.now(UTC) + timedelta(seconds=settings.signing_key_prepublish_seconds)
    await session.execute(
        update(SigningKey)
        .where(col(SigningKey.retired_at).is_(None))
        .values(retired_at=activates_at)
    )
    return await create_key(session, settings, activates_at)


def signs_at(row: SigningKey, now: datetime) -> bool:
    """Whether the key is the signer's candidate at ``now``: activated and not retired."""
    activated = row.activates_at is None or row.activates_at <= now
    return activated and (row.retired_at is None or row.retired_at > now)


def verification_horizon(settings: Settings) -> datetime:
    lifetime = settings.access_token_ttl_seconds + settings.token_leeway_seconds
    return datetime.now(UTC) - timedelta(seconds=lifetime)


async def usable_keys(session: AsyncSession, settings: Settings) -> list[SigningKey]:
    stmt = (
        select(SigningKey)
        .where(
            or_(
                col(SigningKey.retired_at).is_(None),
                col(SigningKey.retired_at) > verification_horizon(settings),
            )
        )
        .order_by(col(SigningKey.created_at).desc())
    )
    return list((await session.execute(stmt)).scalars())


def _activation(row: SigningKey) -> datetime:
    return row.activates_at or row.created_at or datetime.min.replace(tzinfo=UTC)


class KeyRing:
    """The keys this process signs and verifies with, reloaded from the database every
    minute and when a token names a kid it does not know (rotation on another replica)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._signing: tuple[str, Key] | None = None
        # Every usable key with its activation/retirement times: the signer is chosen when
        # signing, so a pre-published key takes over at its time without a reload.
        self._schedule: list[SigningKey] = []
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
        self._schedule = rows
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
        kid = self._current_signer_kid()
        algorithm, key = self._verifying[kid]
        return kid, algorithm, key

    def _current_signer_kid(self) -> str:
        """The most recently activated key that signs now; before any (clock skew) the
        newest unretired one."""
        now = datetime.now(UTC)
        candidates = [row for row in self._schedule if signs_at(row, now)]
        if not candidates:
            assert self._signing is not None
            return self._signing[0]
        return max(candidates, key=_activation).kid

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
