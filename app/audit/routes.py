"""HTTP route of the audit trail: the checkpoint verifier keys at a well-known URL, so a
regulator or notary can check exported checkpoints without access to our database."""

from __future__ import annotations

import base64
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.audit import checkpoints, note
from app.core.db import Database

KEYS_PATH = "/.well-known/pms-audit-keys"


def audit_routes(db: Callable[[], Database]) -> list[Route]:
    async def keys(request: Request) -> JSONResponse:
        async with db().read_session() as session:
            rows = await checkpoints.public_keys(session)
        document = {
            "keys": [
                {
                    "keyId": k.key_id,
                    "name": k.name,
                    "algorithm": "Ed25519",
                    "publicKey": base64.b64encode(k.public_key).decode(),
                    "verifierKey": note.verifier_key(k.name, k.public_key),
                    "createdAt": k.created_at.isoformat() if k.created_at else None,
                    "retiredAt": k.retired_at.isoformat() if k.retired_at else None,
                }
                for k in rows
            ]
        }
        return JSONResponse(document, headers={"cache-control": "public, max-age=300"})

    return [Route(KEYS_PATH, keys, methods=["GET"])]
