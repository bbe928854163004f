"""HTTP routes of identity: the JWKS document and the OAuth2 token endpoint."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.identity.runtime import IdentityRuntime


def identity_routes(runtime: Callable[[], IdentityRuntime]) -> list[Route]:
    async def jwks(request: Request) -> JSONResponse:
        document = await runtime().keyring.jwks()
        return JSONResponse(document, headers={"cache-control": "public, max-age=300"})

    routes = [Route("/.well-known/jwks.json", jwks, methods=["GET"])]
    try:
        from app.identity.oauth import token_endpoint
    except ImportError:  # pragma: no cover - the OAuth server lands in a later commit
        return routes
    routes.append(Route("/oauth/token", token_endpoint(runtime), methods=["POST"]))
    return routes
