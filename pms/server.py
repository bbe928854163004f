"""uvicorn's server with the PMS shutdown order (issue 17 item 3): close the app's
WebSockets with 1001 (going away), then uvicorn drains HTTP requests for up to
``shutdown_timeout_seconds`` and runs the lifespan shutdown (which flushes the relay)."""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn

log = logging.getLogger("pms")


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app_state: Any) -> None:
        super().__init__(config)
        self.app_state = app_state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn alone would fail open WebSockets with 1012 after stopping the listener.
        closed = await self.app_state.close_websockets()
        if closed:
            log.info("shutdown: closed %d WebSocket(s) with 1001", closed)
        await super().shutdown(sockets)
