"""JSON of the GraphQL HTTP bodies with orjson (several times faster than the standard
library on every request and response), falling back to the standard library for what
orjson refuses, so nothing a client could send or read before changes meaning: escaped
lone surrogates and NaN in a request (the input guard still answers them with its
``ValidationError`` naming the field), integers beyond 64 bits in a response."""

from __future__ import annotations

import json

import orjson


def decode(data: str | bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def encode(data: object) -> str:
    """Text, not bytes: Strawberry sends bytes over a WebSocket as a binary frame."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data)


def encode_bytes(data: object) -> bytes:
    """``encode(data)`` as UTF-8 bytes (an HTTP body), without the round trip through str."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data).encode()
