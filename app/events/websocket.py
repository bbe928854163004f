"""WebSocket plumbing for GraphQL subscriptions: authentication in ``connection_init``,
closing the socket when the token expires, a message size limit, and a close that may be
called twice (the hub closes slow consumers while the protocol handler may close too).

Close codes: 4403 no credentials in ``connection_init``, 4401 invalid or expired token,
1009 message too big, 4400 malformed message, 4409 duplicate subscription id (the last
two from Strawberry's protocol handler), 1013 slow consumer (it fell behind by more than
``subscription_queue_size`` events and must reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter

from app.core.principal import Principal

log = logging.getLogger(__name__)

CLOSE_NO_CREDENTIALS = 4403
CLOSE_INVALID_TOKEN = 4401
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_SLOW_CONSUMER = 1013
CLOSE_TOO_BIG = 1009


class InvalidCredentials(Exception):
    """The bearer token is not valid (bad signature, expired, unknown key...)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller and when its credentials stop being valid."""

    principal: Principal
    expires_at: datetime | None
    # Whether the session behind the token still stands (not logged out, account not
    # blocked); None = only the expiry ends the connection.
    still_valid: Callable[[], Awaitable[bool]] | None = None
    # The verified token claims (a subscription may need more than the principal).
    claims: Any = None
    # The bearer token itself: sockets of one token share one session check per sweep.
    token: str | None = None


# Verifies a bearer token: returns the caller or raises InvalidCredentials.
Authenticator = Callable[[str], Awaitable[Caller]]


def bearer_token(value: object) -> str | None:
    """The token of an ``authorization`` value ``Bearer <token>`` (None if absent/empty)."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# Tasks that belong to one WebSocket connection, cancelled when it ends.
connection_tasks: ContextVar[list[asyncio.Task[Any]] | None] = ContextVar(
    "pms_ws_connection_tasks", default=None
)


async def close_websocket(ws: Any, code: int, reason: str) -> None:
    """Close if still open; never raises (the peer may be gone already)."""
    if getattr(ws, "application_state", None) == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):
        await ws.close(code=code, reason=reason)


def close_at(ws: Any, when: datetime, code: int, reason: str) -> None:
    """Close ``ws`` at ``when`` (token expiry); cancelled with the connection."""

    async def waiter() -> None:
        await asyncio.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()))
        log.info("closing a subscription socket: %s", reason)
        await close_websocket(ws, code, reason)

    task = asyncio.create_task(waiter(), name="pms:ws-expiry")
    tasks = connection_tasks.get()
    if tasks is not None:
        tasks.append(task)


async def _checked(check: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await check()
    except Exception:  # the session store is unreachable: keep the socket, retry next time
        log.warning("could not re-check a subscription's session", exc_info=True)
        return True


class SessionWatch:
    """Closes subscription sockets whose token expired or whose session ended (logout,
    logout everywhere, account status change): a subscription must not outlive the
    session that opened it.

    One sweep per process every ``interval`` seconds; each distinct token is checked once
    per sweep, at most ``concurrency`` checks at a time. A watcher task per socket made
    10,000 sockets 10,000 session-store lookups a second, all in the same instant, which
    exhausted the store's connection pool (bench/README.md "Subscriptions").
    """

    def __init__(self, interval: float, code: int, concurrency: int = 8) -> None:
        self.interval = interval
        self.code = code
        self.concurrency = concurrency
        # Sockets grouped by token when added, so a sweep costs per token, not per socket.
        self._groups: dict[object, tuple[Caller, set[Any]]] = {}
        self._keys: dict[Any, object] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, ws: Any, caller: Caller) -> None:
        key = caller.token if caller.token is not None else id(caller)
        self._groups.setdefault(key, (caller, set()))[1].add(ws)
        self._keys[ws] = key
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pms:ws-sessions")

    def discard(self, ws: Any) -> None:
        key = self._keys.pop(ws, None)
        group = self._groups.get(key) if key is not None else None
        if group is not None:
            group[1].discard(ws)
            if not group[1]:
                del self._groups[key]

    def __len__(self) -> int:
        return len(self._keys)

    async def _run(self) -> None:
        while self._keys:  # ends with the last socket; add() starts it again
            await asyncio.sleep(self.interval)
            await self.sweep()

    async def sweep(self) -> None:
        now = datetime.now(UTC)
        checks: list[object] = []
        for key, (caller, sockets) in list(self._groups.items()):
            if caller.expires_at is not None and caller.expires_at <= now:
                for ws in list(sockets):
                    await self._close(ws, "Token expired")
            elif caller.still_valid is not None:
                checks.append(key)
        limit = asyncio.Semaphore(self.concurrency)

        async def check(key: object) -> None:
            group = self._groups.get(key)
            still_valid = group[0].still_valid if group is not None else None
            if group is None or still_valid is None:
                return
            async with limit:
                valid = await _checked(still_valid)
            if not valid:
                for ws in list(group[1]):
                    await self._close(ws, "Session ended")

        await asyncio.gather(*(check(key) for key in checks))

    async def _close(self, ws: Any, reason: str) -> None:
        self.discard(ws)
        log.info("closing a subscription socket: %s", reason)
        await close_websocket(ws, self.code, reason)


class IdempotentCloseAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, but a second close (or a close after the peer left) is a
    no-op instead of an ASGI protocol error."""

    async def close(self, code: int, reason: str) -> None:
        await close_websocket(self.ws, code, reason)


class WebSocketMessageLimit:
    """Closes a WebSocket with 1009 when a client message exceeds ``max_bytes``; the app
    then sees a disconnect, and anything it still sends is dropped."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        closed = False

        async def limited_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive":
                size = len(message.get("text") or "") + len(message.get("bytes") or b"")
                if size > self.max_bytes:
                    if not closed:
                        closed = True
                        reason = f"message larger than {self.max_bytes} bytes"
                        await send(
                            {"type": "websocket.close", "code": CLOSE_TOO_BIG, "reason": reason}
                        )
                    return {"type": "websocket.disconnect", "code": CLOSE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal closed
            if closed:
                return
            if message["type"] == "websocket.close":
                closed = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
