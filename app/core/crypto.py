"""Sealing secrets at rest (private signing keys, TOTP secrets, phone numbers) with
AES-256-GCM under a key derived from ``PMS_SECRET_KEY``, and hashing of opaque tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.settings import Settings

log = logging.getLogger(__name__)

_PREFIX = "v1:"
# Only ever used outside prod (dev/test); prod refuses to start without a secret key.
_DEV_SECRET = "pms-insecure-development-secret"  # noqa: S105


DEV_SECRET_KEY = _DEV_SECRET  # the preflight check refuses it in prod


class MissingSecretKey(RuntimeError):
    pass


class SecretKeyMismatch(RuntimeError):
    """A sealed value opens under neither PMS_SECRET_KEY nor any of PMS_OLD_SECRET_KEYS."""

    def __init__(self, what: str = "sealed data") -> None:
        super().__init__(
            f"cannot unseal {what}: PMS_SECRET_KEY differs from the one that sealed them "
            "(after a rotation list the previous key in PMS_OLD_SECRET_KEYS)"
        )


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


def _unsealing_secrets(settings: Settings) -> list[str]:
    """The current key first, then the old ones (PMS_OLD_SECRET_KEYS) during a rotation."""
    return [_secret(settings), *(k.get_secret_value() for k in settings.old_secret_keys)]


def unseal_with_index(value: str, settings: Settings) -> tuple[bytes, int]:
    """The plaintext and which key opened it (0 = PMS_SECRET_KEY, 1.. = the old keys)."""
    if not value.startswith(_PREFIX):
        raise ValueError("not a sealed value")
    raw = base64.urlsafe_b64decode(value[len(_PREFIX) :])
    for index, secret in enumerate(_unsealing_secrets(settings)):
        try:
            return _aead(secret).decrypt(raw[:12], raw[12:], b"pms"), index
        except InvalidTag:
            continue
    raise SecretKeyMismatch()


def unseal(value: str, settings: Settings) -> bytes:
    return unseal_with_index(value, settings)[0]


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy opaque token (refresh tokens, recovery codes, SMS codes
    salted by their challenge): enough, as they cannot be guessed."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
