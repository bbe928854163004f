"""One execution and one serialization per event for identical subscriptions.

The hub already holds one broadcaster subscription per process and hands every event to
each local subscriber's bounded queue. What used to cost per subscriber was the rest:
executing the subscription's selection over the event and JSON-encoding the result. Here
the encoded ``payload`` of a ``next`` message is kept per (event, document, variables,
projection class); the first subscriber of a key executes and encodes, every other one
only wraps the shared text in its own frame (the operation id differs per socket).

A key must name everything the payload depends on; the caller builds it (the projection
class comes from permissions/payloads.py, the one place that decides what a caller sees).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from app.core import metrics


def encode(value: Any) -> str:
    """As Strawberry's view encodes WebSocket messages (compact separators)."""
    return json.dumps(value, separators=(",", ":"))


def next_frame_prefix(operation_id: str) -> str:
    """What precedes the encoded payload in a graphql-transport-ws ``next`` message of
    one operation; the message is ``prefix + payload + "}"``."""
    return f'{{"id":{encode(operation_id)},"type":"next","payload":'


class SharedFrames:
    """A bounded LRU of encoded payloads: old events fall out as new ones arrive.

    Beside each payload, its WebSocket frames by ``next`` prefix (the operation id): the
    sockets whose operation has the same id (clients number them "1", "2"...) write the
    same bytes, built once per event instead of once per socket."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._payloads: OrderedDict[Hashable, str] = OrderedDict()
        self._frames: dict[Hashable, dict[bytes, bytes]] = {}
        self._fresh: set[Hashable] = set()  # executed, no frame of it written yet
        # Resolved once: a labelled child per call costs a lookup under a lock.
        self._shared = metrics.SUBSCRIPTION_PAYLOADS.labels("shared")
        self._executed = metrics.SUBSCRIPTION_PAYLOADS.labels("executed")

    def get(self, key: Hashable) -> str | None:
        payload = self._payloads.get(key)
        if payload is not None:
            self._shared.inc()
        return payload

    def peek(self, key: Hashable) -> str | None:
        """As ``get``, not counted (the hub looks before it writes)."""
        return self._payloads.get(key)

    def frame(self, key: Hashable, prefix: bytes, build: Callable[[bytes], bytes]) -> bytes | None:
        """The frame of ``key``'s payload behind ``prefix`` (None: no payload), built by
        ``build(prefix + payload + "}")`` the first time."""
        frames = self._frames.get(key)
        if frames is None:
            return None
        found = frames.get(prefix)
        if found is None:
            found = frames[prefix] = build(prefix + self._payloads[key].encode() + b"}")
        return found

    def delivered(self, key: Hashable, count: int) -> None:
        """``count`` frames of ``key`` were written; the first after its execution is not
        a shared one. Counted per batch: a labelled child's ``inc`` takes a lock."""
        if key in self._fresh:
            self._fresh.discard(key)
            count -= 1
        if count > 0:
            self._shared.inc(count)

    def put(self, key: Hashable, payload_json: str) -> None:
        self._executed.inc()
        self._payloads[key] = payload_json
        self._frames[key] = {}
        self._fresh.add(key)
        if len(self._payloads) > self.maxsize:
            old, _ = self._payloads.popitem(last=False)
            self._frames.pop(old, None)
            self._fresh.discard(old)

    def __len__(self) -> int:
        return len(self._payloads)
