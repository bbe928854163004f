"""Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint):

    <origin>\\n<tree size>\\n<base64 root hash>\\ntime <RFC 3339 UTC>\\n
    \\n
    \\u2014 <key name> <base64(4-byte key hash || Ed25519 signature)>\\n

The signature covers the body (up to and including the newline before the blank line);
the key hash is SHA-256(name || 0x0A || 0x01 || public key)[:4]. The ``time`` line is a
checkpoint extension line. Pure functions: no database here.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.audit.errors import InvalidCheckpoint, UnknownSigningKey

ED25519 = 0x01
_DASH = "\u2014"


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The C2SP verifier key string ``name+hash+base64(0x01 || key)``."""
    encoded = base64.b64encode(bytes([ED25519]) + public_key).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: datetime

    def body(self) -> bytes:
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntime {stamp}\n".encode()


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    key_name: str
    key_id: bytes  # 4 bytes
    signature: bytes

    def text(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return self.checkpoint.body().decode() + f"\n{_DASH} {self.key_name} {blob}\n"


def sign(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> SignedCheckpoint:
    public = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(checkpoint.body())
    return SignedCheckpoint(checkpoint, name, key_hash(name, public), signature)


def parse(text: str) -> SignedCheckpoint:
    """The first signature line only is kept (we sign with one key at a time)."""
    body, sep, signatures = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 4 or not lines[3].startswith("time "):
        raise InvalidCheckpoint("not a PMS audit checkpoint note")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
        stamp = datetime.strptime(lines[3][5:], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        first = signatures.split("\n")[0]
        dash, name, blob = first.split(" ")
        raw = base64.b64decode(blob, validate=True)
    except ValueError as exc:
        raise InvalidCheckpoint(f"malformed checkpoint note: {exc}") from None
    if dash != _DASH or len(raw) != 68 or len(root) != 32 or size < 0:
        raise InvalidCheckpoint("malformed checkpoint signature line")
    return SignedCheckpoint(Checkpoint(lines[0], size, root, stamp), name, raw[:4], raw[4:])


def verify(signed: SignedCheckpoint, keys: dict[tuple[str, bytes], bytes]) -> None:
    """``keys``: (name, 4-byte key hash) -> public key. Raises on an unknown key or a bad
    signature."""
    public = keys.get((signed.key_name, signed.key_id))
    if public is None:
        raise UnknownSigningKey(
            f"checkpoint signed by unknown key {signed.key_name}+{signed.key_id.hex()}"
        )
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(
            signed.signature, signed.checkpoint.body()
        )
    except InvalidSignature:
        raise InvalidCheckpoint("checkpoint signature does not verify") from None
