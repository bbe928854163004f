"""The outer edge of every HTTP answer (run by app/core/edge.py): no exception leaves
the app as a plain-text 500 (or a dropped keep-alive connection), an unavailable
dependency is a JSON 503 with ``Retry-After``, and every response carries the security
headers (the 413 and the boundary's own answers too).
"""

from __future__ import annotations

import json
import logging

from starlette.types import Message, Scope, Send

from app.core.logging import request_id_var
from app.core.outage import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_CODE,
    UNAVAILABLE_MESSAGE,
    is_unavailable,
)

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"


def error_body(path: str, status: int, code: str, message: str) -> bytes:
    """GraphQL paths answer in the GraphQL error shape, REST paths in the REST one."""
    request_id = request_id_var.get()
    if path.startswith(GRAPHQL_PATH):
        body: dict[str, object] = {
            "errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]
        }
    else:
        body = {"error": {"code": code, "message": message, "requestId": request_id}}
    return json.dumps(body).encode()


async def send_error(send: Send, path: str, status: int, code: str, message: str) -> None:
    raw = error_body(path, status, code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def unavailable_start(start: Message) -> Message:
    """The response start of an answer whose execution met an unavailable dependency
    (``outage_var``, e.g. a GraphQL result with a masked error): 503 + Retry-After."""
    headers = [*start.get("headers", []), (b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
    return {**start, "status": 503, "headers": headers}


async def answer_failure(exc: Exception, scope: Scope, send: Send, started: bool) -> None:
    """What escaped the app (a REST handler's bug, the auth gate's revocation lookup with
    the database down), answered JSON: 503 + Retry-After when a dependency is
    unavailable, 500 otherwise. Not re-raised, so the server keeps the connection alive."""
    path = str(scope.get("path", ""))
    if is_unavailable(exc):
        log.warning(
            "%s %s: a dependency is unavailable: %r [request_id=%s]",
            scope["method"], path, exc, request_id_var.get(),
        )  # fmt: skip
        status, code, message = 503, UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE
    else:
        log.exception(
            "%s %s failed unexpectedly [request_id=%s]",
            scope["method"], path, request_id_var.get(),
        )  # fmt: skip
        status, code, message = 500, "INTERNAL_ERROR", "Unexpected error."
    if not started:
        await send_error(send, path, status, code, message)


# Cache-Control is set only where the app did not choose one (the JWKS is cacheable).
_SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"),)
_NO_STORE = (b"cache-control", b"no-store")


def security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``X-Content-Type-Options: nosniff`` on every response and ``Cache-Control:
    no-store`` unless the route set its own: GraphQL and auth responses carry tokens
    and personal data, which no shared cache may keep."""
    names = {name.lower() for name, _ in headers}
    headers = headers + [h for h in _SECURITY_HEADERS if h[0] not in names]
    if b"cache-control" not in names:
        headers.append(_NO_STORE)
    return headers
