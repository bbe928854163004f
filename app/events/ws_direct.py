"""Pre-built WebSocket frames written straight to a connection's transport.

The hub's dispatch writes one shared ``next`` frame to thousands of sockets in one loop
(app/events/hub.py): no task wake-up, ASGI message, middleware chain or per-frame
compression per subscriber. Frames go out uncompressed (RSV1 clear), which
permessage-deflate allows for any message (RFC 7692 section 6), so a client that
negotiated compression reads them as it reads the others.

Only uvicorn's default WebSocket implementation (``websockets-sansio``) is reached this
way; under any other server ``direct_socket`` is None and frames take the ASGI path.
"""

from __future__ import annotations

import struct
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

SCOPE_KEY = "pms.direct_socket"


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented server-to-client text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class DirectSocket:
    """Writes whole frames to one open connection; refuses when its buffer is full."""

    __slots__ = ("_protocol", "limit")

    def __init__(self, protocol: WebSocketsSansIOProtocol, limit: int) -> None:
        self._protocol = protocol
        self.limit = limit

    def write(self, frame: bytes) -> bool:
        """False when more than ``limit`` bytes already wait for the peer (a slow
        consumer); a closing socket takes nothing and is not slow."""
        protocol = self._protocol
        transport = protocol.transport
        if protocol.close_sent or protocol.disconnected or transport.is_closing():
            return True
        if transport.get_write_buffer_size() > self.limit:
            return False
        transport.write(frame)  # whole frames only: never interleaves with uvicorn's
        return True

    def buffered(self) -> int:
        return int(self._protocol.transport.get_write_buffer_size())


def direct_socket(scope: Scope) -> DirectSocket | None:
    """The connection's direct writer, when the server offers one."""
    found = scope.get("extensions", {}).get(SCOPE_KEY)
    return found if isinstance(found, DirectSocket) else None


class DirectSocketMiddleware:
    """Puts a ``DirectSocket`` in a WebSocket scope served by uvicorn's sans-io protocol.

    Must wrap the app where ``send`` is still uvicorn's bound ``send`` (outermost)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        protocol: Any = getattr(send, "__self__", None)
        if scope["type"] == "websocket" and isinstance(protocol, WebSocketsSansIOProtocol):
            extensions = dict(scope.get("extensions") or {})
            extensions[SCOPE_KEY] = DirectSocket(protocol, self.limit)
            scope = {**scope, "extensions": extensions}
        await self.app(scope, receive, send)
