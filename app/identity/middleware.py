"""The gate in front of the GraphQL HTTP endpoint: content type, execution timeout and
bearer-token authentication. WebSocket connections pass through (they authenticate in
``connection_init`` with the same ``authenticate_token``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.identity.auth import principal_from_header
from app.identity.runtime import IdentityRuntime
from app.identity.tokens import InvalidToken

log = logging.getLogger(__name__)

PRINCIPAL_SCOPE_KEY = "pms.principal"
CLAIMS_SCOPE_KEY = "pms.claims"
JSON_TYPES = ("application/json", "application/graphql-response+json")
UPLOAD_TYPE = "multipart/form-data"


async def _send_json(
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    raw = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": raw})


def _error(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class GraphQLGate:
    def __init__(
        self, app: ASGIApp, runtime: Callable[[], IdentityRuntime], timeout_seconds: float
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.timeout = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] == "POST":
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            # File uploads (GraphQL multipart) are a form a foreign page could post too; a
            # bearer token, which no such page can attach, makes them ours: only with one.
            upload = media_type == UPLOAD_TYPE and "authorization" in headers
            if media_type not in JSON_TYPES and not upload:
                await _send_json(
                    send, 415, _error("only application/json bodies are accepted", "UNSUPPORTED")
                )
                return
            if media_type not in ("application/json", UPLOAD_TYPE):
                # The GraphQL-over-HTTP media type is JSON too; Strawberry only reads this one.
                scope = {**scope, "headers": [
                    (k, b"application/json" if k.lower() == b"content-type" else v)
                    for k, v in scope["headers"]
                ]}  # fmt: skip
        try:
            principal, claims = await principal_from_header(
                headers.get("authorization"), self.runtime()
            )
        except InvalidToken as exc:
            challenge = f'Bearer error="invalid_token", error_description="{exc.message}"'
            await _send_json(
                send,
                401,
                _error(exc.message, exc.code),
                [(b"www-authenticate", challenge.encode())],
            )
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        scope[CLAIMS_SCOPE_KEY] = claims
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.timeout):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            log.warning("GraphQL request exceeded %.1fs and was cancelled", self.timeout)
            if not started:
                await _send_json(send, 503, _error("the request took too long", "TIMEOUT"))
