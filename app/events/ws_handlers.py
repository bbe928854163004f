"""Strawberry's two WebSocket protocol handlers with the limits HTTP has: queries and
mutations sent over a socket run under the same execution timeout as over HTTP (a
subscription is long-lived by design and is not cut), and a peer that is gone is a
normal end, not an ERROR traceback.

The view that uses them sets ``operation_timeout_seconds`` (None: no timeout).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from contextvars import ContextVar
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLFormattedError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from graphql.error import GraphQLSyntaxError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportError,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyError

log = logging.getLogger(__name__)

TIMEOUT_CODE = "TIMEOUT"

# The graphql-transport-ws operation whose task is running: its subscription resolver may
# then write shared ``next`` frames itself (app/events/fanout.py). Set inside the
# operation's own task, so it never leaks to another operation; None over graphql-ws.
current_operation: ContextVar[Operation[Any, Any] | None] = ContextVar(
    "pms_ws_operation", default=None
)


def is_subscription(query: str, operation_name: str | None) -> bool:
    """Whether the operation that will run is a subscription (a bad document is not:
    it then fails validation at once, under the timeout)."""
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None
            or (definition.name is not None and definition.name.value == operation_name)
        ):
            return definition.operation == OperationType.SUBSCRIPTION
    return False


def _timeout_of(view: Any) -> float | None:
    value = getattr(view, "operation_timeout_seconds", None)
    return float(value) if value is not None else None


def _timeout_error(seconds: float) -> GraphQLFormattedError:
    error = GraphQLError("the request took too long", extensions={"code": TIMEOUT_CODE})
    log.warning("WebSocket operation exceeded %.1fs and was cancelled", seconds)
    return error.formatted


def is_disconnect(error: BaseException) -> bool:
    """A send or receive on a socket the peer (or the server's shutdown) already closed."""
    from starlette.websockets import WebSocketDisconnect
    from strawberry.http.exceptions import WebSocketDisconnected

    if isinstance(error, WebSocketDisconnect | WebSocketDisconnected | ConnectionError):
        return True
    # Starlette/uvicorn: 'Cannot call "send" once a close message has been sent.' and
    # 'Unexpected ASGI message ... after sending websocket.close'.
    return isinstance(error, RuntimeError) and "close" in str(error)


class TimedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws with the execution timeout on queries and mutations."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        current_operation.set(operation)
        timeout = _timeout_of(self.view)
        if timeout is None or is_subscription(operation.query, operation.operation_name):
            await super().run_operation(operation)
            return
        try:
            async with asyncio.timeout(timeout):
                await super().run_operation(operation)
        except TimeoutError:
            with suppress(Exception):
                await self.send_message(
                    TransportError(id=operation.id, type="error", payload=[_timeout_error(timeout)])
                )
            self.operations.pop(operation.id, None)

    async def handle_task_exception(self, error: Exception) -> None:
        if is_disconnect(error):
            log.info("WebSocket peer gone while an operation ran: %s", error)
            return
        await super().handle_task_exception(error)


class TimedLegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """The legacy graphql-ws (subscriptions-transport-ws) protocol, same timeout; a
    refused ``connection_init`` (the socket is already closed) is one log line."""

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        timeout = _timeout_of(self.view)
        run = super().handle_async_results(operation_id, query, operation_name, variables)
        if timeout is None or is_subscription(query, operation_name):
            await run
            return
        try:
            async with asyncio.timeout(timeout):
                await run
        except TimeoutError:
            with suppress(Exception):
                await self.send_message(
                    LegacyError(type="error", id=operation_id, payload=_timeout_error(timeout))
                )

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if message.get("payload") is None:  # optional in the protocol: no parameters
            message = ConnectionInitMessage(type="connection_init", payload={})
        try:
            await super().handle_connection_init(message)
        except Exception as error:
            if not is_disconnect(error):
                raise
            log.info("legacy graphql-ws connection refused in connection_init")
