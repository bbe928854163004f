"""HTTP route of the exports: the bundle signing keys at a well-known URL, so a receiver
(a regulator, the CRM/ERP) verifies bundles with ``pms export verify --export-keys`` away
from our database."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core.db import Database
from app.exports import signing

KEYS_PATH = "/.well-known/pms-export-keys"


def export_routes(db: Callable[[], Database]) -> list[Route]:
    async def keys(request: Request) -> JSONResponse:
        async with db().read_session() as session:
            rows = await signing.all_keys(session)
        document = {
            "keys": [
                {
                    "keyId": k.kid,
                    "algorithm": "Ed25519",
                    "publicKey": k.public_key,
                    "createdAt": k.created_at.isoformat() if k.created_at else None,
                    "retiredAt": k.retired_at.isoformat() if k.retired_at else None,
                }
                for k in rows
            ]
        }
        return JSONResponse(document, headers={"cache-control": "public, max-age=300"})

    return [Route(KEYS_PATH, keys, methods=["GET"])]
