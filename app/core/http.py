"""Plain ASGI middleware (cheaper than BaseHTTPMiddleware on every request): request ids
and the request body size limit."""

from __future__ import annotations

import json
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.logging import client_ip_var, request_id_var, user_agent_var

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a sane ``X-Request-ID`` from the caller or makes one; logs and responses
    carry it, so a masked error can be found in the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        client = scope.get("client")
        ip_token = client_ip_var.set(client[0] if client else None)
        agent = headers.get(b"user-agent", b"").decode("latin-1")[:256]
        agent_token = user_agent_var.set(agent or None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)
            user_agent_var.reset(agent_token)


class BodyTooLarge(Exception):
    pass


# What a multipart envelope adds around an uploaded file (boundaries, the operations part).
UPLOAD_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length up front and by
    counting streamed chunks (a chunked body has no Content-Length)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, *, upload_max_bytes: int = 0,
        upload_paths: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.app = app
        self.max_bytes = max_bytes
        # File uploads (multipart/form-data, or any body on a pure upload path such as
        # /imports) may be bigger; the service refuses a file over its own limit.
        self.upload_max_bytes = max(upload_max_bytes, max_bytes)
        self.upload_paths = upload_paths

    def _limit(self, scope: Scope, headers: dict[bytes, bytes]) -> int:
        path = scope.get("path", "")
        is_form = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        if path == "/imports" or (path in self.upload_paths and is_form):
            return self.upload_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        max_bytes = self._limit(scope, headers)
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _send_413(send, max_bytes)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_413(send, max_bytes)


async def _send_413(send: Send, max_bytes: int) -> None:
    body = json.dumps({"error": f"request body larger than {max_bytes} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
