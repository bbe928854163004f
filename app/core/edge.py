"""The edge of every HTTP request, one pure-ASGI layer (five before: one send wrapper
and one call each per request): the request id and the caller's address and agent for
the logs and audit rows, the body size limit (413), the error boundary (no exception
leaves as a plain-text 500, an unavailable dependency is a JSON 503 with Retry-After:
app/core/http_guard.py), the HTTP metrics by route template, and the security headers on
every answer, the layer's own included. Each rule keeps its own helper where it was
(http.py, http_guard.py); this module only runs them in the old order."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.http import CLIENT_REQUEST_ID, BodyLimit, BodyTooLarge, send_413
from app.core.http_guard import answer_failure, security_headers, unavailable_start
from app.core.logging import client_ip_var, request_id_var, user_agent_var
from app.core.outage import OutageFlag, outage_var

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"  # not counted in the HTTP metrics (a scrape is not traffic)


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, body: BodyLimit) -> None:
        self.app = app
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            tokens = _set_request_vars(scope, dict(scope["headers"]))
            try:
                await self.app(scope, receive, send)
            finally:
                _reset_request_vars(tokens)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started_at = time.perf_counter()
        headers = dict(scope["headers"])
        tokens = _set_request_vars(scope, headers)
        request_id = request_id_var.get().encode()
        flag = OutageFlag()
        outage_token = outage_var.set(flag)
        max_bytes = self.body.limit(scope, headers)
        state: dict[str, Any] = {"status": 500, "started": False, "received": 0}

        async def edge_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                if flag.unavailable and message["status"] < 500:
                    message = unavailable_start(message)
                state["status"] = message["status"]
                extra = [(b"x-request-id", request_id)]
                message = {**message, "headers": security_headers([
                    *message.get("headers", []), *extra])}  # fmt: skip
            await send(message)

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > max_bytes:
                    raise BodyTooLarge
            return message

        try:
            declared = headers.get(b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
                await send_413(edge_send, max_bytes)
                return
            try:
                await self.app(scope, limited_receive, edge_send)
            except BodyTooLarge:
                if not state["started"]:
                    await send_413(edge_send, max_bytes)
            except Exception as exc:
                await answer_failure(exc, scope, edge_send, state["started"])
        finally:
            outage_var.reset(outage_token)
            if scope["path"] != METRICS_PATH:
                _count(scope, state["status"], time.perf_counter() - started_at)
            _reset_request_vars(tokens)


def _set_request_vars(scope: Scope, headers: dict[bytes, bytes]) -> tuple[Any, Any, Any]:
    """A sane ``X-Request-ID`` from the caller, or a new one; the caller's address and
    User-Agent (cut to the audit column)."""
    incoming = headers.get(b"x-request-id", b"").decode("latin-1")
    request_id = incoming if CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    client = scope.get("client")
    agent = headers.get(b"user-agent", b"").decode("latin-1")[:256]
    return (
        request_id_var.set(request_id),
        client_ip_var.set(client[0] if client else None),
        user_agent_var.set(agent or None),
    )


def _reset_request_vars(tokens: tuple[Any, Any, Any]) -> None:
    request_id_var.reset(tokens[0])
    client_ip_var.reset(tokens[1])
    user_agent_var.reset(tokens[2])


def _count(scope: Scope, status: int, seconds: float) -> None:
    """Requests by route *template* (``/players/{player_id}``, set by Starlette's router
    on the scope), never the raw path, so a scrape stays bounded."""
    route = getattr(scope.get("route"), "path", None)
    route = route if isinstance(route, str) and route else "unmatched"
    method = scope["method"]
    metrics.child(metrics.HTTP_REQUESTS, route, method, f"{status // 100}xx").inc()
    metrics.child(metrics.HTTP_LATENCY, route, method).observe(seconds)
