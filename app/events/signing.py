"""Signing webhook bodies, and checking a signature on the receiver's side.

Signature: ``PMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>``;
receivers check it with ``verify_signature`` and de-duplicate on ``PMS-Event-Id``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

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
