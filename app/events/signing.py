"""Signing webhook bodies, chosen per endpoint, and checking a PMS signature on the
receiver's side.

Signature: ``PMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>``;
receivers check it with ``verify_signature`` and de-duplicate on ``PMS-Event-Id``.

``standard`` (https://www.standardwebhooks.com): ``webhook-id`` (the event id, the same on
every retry: receivers de-duplicate on it), ``webhook-timestamp`` (unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256(key, id "." timestamp "." body)>``. The key is
the base64 after ``whsec_`` when the secret is written that way (what the Standard
Webhooks libraries take as is), else the secret's UTF-8 bytes (libraries: pass bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from enum import StrEnum

SIGNATURE_HEADER = "PMS-Signature"
EVENT_ID_HEADER = "PMS-Event-Id"
EVENT_TYPE_HEADER = "PMS-Event-Type"
DELIVERY_ID_HEADER = "PMS-Delivery-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Receiver side: is ``header`` (the PMS-Signature value) a fresh signature of ``body``?

    Use the raw request body bytes, before any JSON parsing. Rejects timestamps more than
    ``tolerance`` seconds away from now (replays); compares in constant time.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, c) for c in candidates)


WHSEC_PREFIX = "whsec_"
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
MIN_KEY_BYTES = 16


class SignatureFormat(StrEnum):
    PMS = "pms"
    STANDARD = "standard"


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_<base64>`` or plain text)."""
    if secret.startswith(WHSEC_PREFIX):
        # Unpadded base64 is common in whsec_ secrets; extra padding is ignored.
        return base64.b64decode(secret[len(WHSEC_PREFIX) :] + "==")
    return secret.encode()


def secret_problem(fmt: SignatureFormat, secret: str) -> str | None:
    """Why ``secret`` cannot sign in ``fmt`` (a whsec_ secret must be valid base64)."""
    if fmt is not SignatureFormat.STANDARD or not secret.startswith(WHSEC_PREFIX):
        return None
    encoded = secret[len(WHSEC_PREFIX) :]
    if not _BASE64.match(encoded):
        return "a whsec_ secret must be base64 after the prefix"
    if len(standard_key(secret)) < MIN_KEY_BYTES:
        return f"a whsec_ secret must encode at least {MIN_KEY_BYTES} bytes"
    return None


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    return standard_signature_of_chunks(secret, message_id, timestamp, (body,))


def standard_signature_of_chunks(
    secret: str, message_id: str, timestamp: int, chunks: Iterable[bytes]
) -> str:
    """The same signature over a body read in pieces (a file too big to hold in memory)."""
    mac = hmac.new(standard_key(secret), f"{message_id}.{timestamp}.".encode(), hashlib.sha256)
    for chunk in chunks:
        mac.update(chunk)
    return "v1," + base64.b64encode(mac.digest()).decode()


def standard_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, message_id, timestamp, body),
    }
