"""Sealing secrets at rest (private signing keys, TOTP secrets, phone numbers) with
AES-256-GCM under a key derived from ``PMS_SECRET_KEY``, and hashing of opaque tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.settings import Settings

log = logging.getLogger(__name__)

_PREFIX = "v1:"
# Only ever used outside prod (dev/test); prod refuses to start without a secret key.
_DEV_SECRET = "pms-insecure-development-secret"  # noqa: S105


class MissingSecretKey(RuntimeError):
    pass


@lru_cache(maxsize=4)
def _aead(secret: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"pms-seal-v1:" + secret.encode()).digest())


def _secret(settings: Settings) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if settings.env == "prod":
        raise MissingSecretKey("PMS_SECRET_KEY must be set in prod")
    return _DEV_SECRET


def seal(plaintext: bytes, settings: Settings) -> str:
    nonce = os.urandom(12)
    sealed = _aead(_secret(settings)).encrypt(nonce, plaintext, b"pms")
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(value: str, settings: Settings) -> bytes:
    if not value.startswith(_PREFIX):
        raise ValueError("not a sealed value")
    raw = base64.urlsafe_b64decode(value[len(_PREFIX) :])
    return _aead(_secret(settings)).decrypt(raw[:12], raw[12:], b"pms")


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy opaque token (refresh tokens, recovery codes, SMS codes
    salted by their challenge): enough, as they cannot be guessed."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
