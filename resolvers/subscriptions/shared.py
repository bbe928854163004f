"""Delivery of one subscription's events through the shared payloads of app/events/
fanout.py: on a hit the resolver writes the shared text in its own ``next`` frame and
graphql-core never runs; on a miss it executes its own selection once, for everyone of
its key. Over graphql-ws (legacy), with sharing off, or when the execution has errors
(Strawberry's pipeline then formats and masks them), events take the normal path.

When the server offers a direct socket (app/events/ws_direct.py), the delivery is also
the hub's ``DirectSink``: the hub readies each key's payload once per event and writes
every subscriber's pre-built frame in its dispatch loop, without waking its task. Its
group names the request, the caller and the operation id: a projection is a function of
the caller's principal alone, so sinks of one group write the same frame of any event."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Hashable
from typing import Any

from graphql import DocumentNode, ExecutionResult, execute

from app.events import fanout
from app.events.ws_direct import DirectSocket, direct_socket, text_frame
from app.events.ws_handlers import current_operation
from permissions.payloads import Projection
from schema.context import Info

Build = Callable[[dict[str, Any]], Any]  # a projected envelope -> the field's object


class SharedDelivery:
    def __init__(
        self,
        info: Info,
        build: Build,
        frames: fanout.SharedFrames,
        operation: Any,
        projection: Projection,
    ) -> None:
        raw = info._raw_info  # the operation's AST, schema and fragments
        self._build = build
        self._frames = frames
        self._operation = operation
        self._projection = projection
        self._socket = info.context.request
        self.direct: DirectSocket | None = direct_socket(self._socket.scope)
        self._keyed: dict[str, Any] | None = None  # the envelope ``_key`` is of
        self._key: Hashable = None
        self._context = info.context
        self._schema = raw.schema
        self._document = DocumentNode(definitions=(raw.operation, *raw.fragments.values()))
        self._prefix = fanout.next_frame_prefix(operation.id)
        self._prefix_bytes = self._prefix.encode()
        variables = operation.variables or {}
        # Everything of the request the payload depends on, besides the event and the
        # projection class: the document text (field arguments included) and variables.
        self._request_key = (operation.query, operation.operation_name, fanout.encode(variables))
        principal = info.context.principal
        caller = [principal.kind, principal.id, sorted(principal.roles), sorted(principal.scopes)]
        # Interned: equal groups are one object, a dict finds it by identity.
        self.group = sys.intern(fanout.encode([*self._request_key, caller, operation.id]))

    @classmethod
    def of(cls, info: Info, build: Build | None, projection: Projection) -> SharedDelivery | None:
        """None when events must take Strawberry's path (see the module docstring)."""
        events = info.context.events
        frames = events.shared_frames if events is not None else None
        operation = current_operation.get()
        if build is None or frames is None or operation is None:
            return None
        return cls(info, build, frames, operation, projection)

    def key_of(self, envelope: dict[str, Any]) -> Hashable:
        # Asked twice per event (the hub's prepare, then its write): computed once.
        if envelope is self._keyed:
            return self._key
        key = (envelope.get("id"), self._request_key, self._projection.class_of(envelope))
        self._keyed, self._key = envelope, key
        return key

    async def prepare(self, envelope: dict[str, Any]) -> None:
        key = self.key_of(envelope)
        if self._frames.peek(key) is None:
            await self._payload(key, envelope)

    def frame(self, envelope: dict[str, Any]) -> bytes | None:
        """The hub's frame of this sink's group (see ``DirectSink``)."""
        return self._frames.frame(self.key_of(envelope), self._prefix_bytes, text_frame)

    def send(self, frame: bytes) -> bool:
        if self._operation.completed:  # the client sent ``complete``: nothing to send
            return True
        assert self.direct is not None  # only a sink with a direct socket is the hub's
        return self.direct.write(frame)

    def delivered(self, envelope: dict[str, Any], count: int) -> None:
        self._frames.delivered(self.key_of(envelope), count)

    async def deliver(self, envelope: dict[str, Any]) -> bool:
        """Send the event's payload; False when the caller must yield it instead."""
        key = self.key_of(envelope)
        payload = self._frames.get(key) or await self._payload(key, envelope)
        if payload is None:
            return False
        if self._operation.completed:  # the client sent ``complete`` meanwhile
            return True
        await self._socket.send_text(self._prefix + payload + "}")
        return True

    async def _payload(self, key: Hashable, envelope: dict[str, Any]) -> str | None:
        """Execute and share this key's payload; None when the execution has errors."""
        result = await self._execute(self._build(self._projection.project(envelope)))
        if result.errors:
            return None
        payload = fanout.encode({"data": result.data})
        self._frames.put(key, payload)
        return payload

    async def _execute(self, root: Any) -> ExecutionResult:
        # The subscription field resolves to the event itself (Strawberry's event
        # resolver), so a plain execution with the event as root runs the selection.
        result = execute(
            self._schema,
            self._document,
            root_value=root,
            context_value=self._context,
            variable_values=self._operation.variables,
            operation_name=self._operation.operation_name,
        )
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result
