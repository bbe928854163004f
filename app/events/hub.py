"""In-process fan-out of committed domain events to live subscribers.

broadcaster is only the transport between replicas (``memory://`` or Redis pub/sub): each
process holds ONE broadcaster subscription to one channel and dispatches every event to
its local subscribers itself. That avoids broadcaster 0.3.1's first-subscriber race and
its unbounded per-subscriber queues: here every subscriber has a bounded queue, and one
that falls behind is dropped (its ``overflowed`` callback closes the client's socket)
instead of making the process grow without bound.

A subscriber with a ``DirectSink`` (a shared payload written straight to its socket,
resolvers/subscriptions/shared.py) is served inside the dispatch loop itself: no task
wakes up per subscriber. Its bound is the socket's write buffer instead of the queue; the
queue still carries what the sink cannot write (a payload with errors), and once one
envelope is queued the next ones queue behind it, so events stay in order.

Sinks of one ``group`` write the same bytes for every event, so per event the hub asks one
sink of each group for the frame and counts the group's writes once: what is left per
subscriber is a type check and the socket write (bench/README.md "subs5").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AsyncExitStack
from typing import Any, Protocol

from broadcaster import Broadcast
from broadcaster._backends.redis import RedisBackend

from app.core import metrics

log = logging.getLogger(__name__)

ALL = "*"  # the routing key of subscribers that want every subject (back office feed)


class SlowConsumer(Exception):
    """The subscriber's queue overflowed: it missed events and must reconnect."""


class DirectSink(Protocol):
    """Writes an event's frame to one subscriber's socket without waiting."""

    # Sinks of one group write the same frame for every event (same request, caller and
    # operation id): the hub builds it and counts it once per group. A string, so its
    # hash is computed once.
    group: str

    def key_of(self, envelope: dict[str, Any]) -> Hashable:
        """What the frame's payload depends on (sinks of one key share one payload)."""

    async def prepare(self, envelope: dict[str, Any]) -> None:
        """Make the payload of this sink's key ready (run once per key and event)."""

    def frame(self, envelope: dict[str, Any]) -> bytes | None:
        """The group's frame of the event; None: no payload, the envelope is queued."""

    def send(self, frame: bytes) -> bool:
        """True: written (or nothing to write); False: the socket's buffer is full (a
        slow consumer)."""

    def delivered(self, envelope: dict[str, Any], count: int) -> None:
        """``count`` sinks of this one's group were offered the event's frame."""


# Per event and sink group: [the group's frame (None: queue), a sink of it, offers].
Batches = dict[str, list[Any]]


class _SafeRedisBackend(RedisBackend):
    """broadcaster's Redis backend with its start-up race fixed.

    The original sets the ready flag *before* SUBSCRIBE completes; its listener can then
    enter ``listen()`` with no channel subscribed, return at once and wait forever.
    """

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()


def make_broadcast(redis_url: str | None) -> Broadcast:
    if redis_url:
        return Broadcast(backend=_SafeRedisBackend(redis_url))
    return Broadcast("memory://")


class Subscription:
    """One live consumer: a bounded queue of matching event envelopes."""

    def __init__(
        self,
        key: str,
        types: frozenset[str] | None,
        maxsize: int,
        on_overflow: Callable[[], None] | None,
        sink: DirectSink | None = None,
    ) -> None:
        self.key = key
        self.types = types
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        self._on_overflow = on_overflow
        self.sink = sink
        self.pending = 0  # envelopes queued and not yet handled (see ``done``)

    def wants(self, envelope: dict[str, Any]) -> bool:
        return self.types is None or envelope.get("type") in self.types

    def offer(self, envelope: dict[str, Any], batches: Batches | None = None) -> bool:
        """Deliver the event without waiting; False (and marked overflowed) when full.
        ``batches``: the frames of this event by sink group so far (see ``Batches``)."""
        types = self.types  # inlined ``wants``: this runs once per subscriber and event
        if types is not None and envelope.get("type") not in types:
            return True
        sink = self.sink
        if sink is not None and self.pending == 0:
            if batches is None:
                batches = {}
            batch = batches.get(sink.group)
            if batch is None:
                batch = batches[sink.group] = [sink.frame(envelope), sink, 0]
            if batch[0] is not None:
                batch[2] += 1
                return sink.send(batch[0]) or self._overflow()
        try:
            self.queue.put_nowait(envelope)
        except asyncio.QueueFull:
            return self._overflow()
        self.pending += 1
        return True

    def done(self) -> None:
        """The consumer has handled one queued envelope (direct writes may resume)."""
        self.pending = max(0, self.pending - 1)

    def _overflow(self) -> bool:
        self.overflowed = True
        if self._on_overflow is not None:
            self._on_overflow()
        return False

    async def get(self) -> dict[str, Any]:
        if self.overflowed:
            raise SlowConsumer
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.get()


class EventHub:
    """Publishes envelopes through broadcaster and fans them out in this process."""

    def __init__(self, broadcast: Broadcast, channel: str, queue_size: int) -> None:
        self.broadcast = broadcast
        self.channel = channel
        self.queue_size = queue_size
        # By routing key, in subscription order (a dict as an ordered set): the dispatch
        # walks the objects (and sockets) in the order they were made, which costs less
        # per write than a set's hash order (bench/README.md "subs5").
        self._routes: dict[str, dict[Subscription, None]] = {}
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self._pump: asyncio.Task[None] | None = None
        self.dropped = 0  # subscribers disconnected for being too slow

    @classmethod
    def from_settings(cls, redis_url: str | None, channel: str, queue_size: int) -> EventHub:
        return cls(make_broadcast(redis_url), channel, queue_size)

    async def start(self) -> None:
        """Connect and take this process's single broadcaster subscription."""
        async with self._lock:
            if self._stack is not None:
                return
            stack = AsyncExitStack()
            await self.broadcast.connect()
            stack.push_async_callback(self.broadcast.disconnect)
            subscriber = await stack.enter_async_context(self.broadcast.subscribe(self.channel))
            self._pump = asyncio.create_task(self._run(subscriber), name="pms:event-hub")
            self._stack = stack

    async def stop(self) -> None:
        async with self._lock:
            if self._pump is not None:
                self._pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._pump
                self._pump = None
            if self._stack is not None:
                await self._stack.aclose()
                self._stack = None

    async def publish(self, envelope: dict[str, Any]) -> None:
        await self.broadcast.publish(self.channel, json.dumps(envelope, separators=(",", ":")))

    async def _run(self, subscriber: Any) -> None:
        async for event in subscriber:
            try:
                envelope = json.loads(event.message)
            except ValueError:
                log.warning("ignoring a malformed event on %s", self.channel)
                continue
            await self.prepare(envelope)
            self.dispatch(envelope)

    def _matching(self, envelope: dict[str, Any]) -> list[Subscription]:
        subject = envelope.get("subject")
        found: list[Subscription] = []
        for key in (subject, ALL):
            subs = self._routes.get(key) if key is not None else None
            if subs:
                found.extend(subs)
        return found

    async def prepare(self, envelope: dict[str, Any]) -> None:
        """Ready the shared payload of every distinct key among the direct sinks (one
        sink per group is asked: a group's sinks have one key)."""
        groups: set[str] = set()
        keys: set[Hashable] = set()
        for sub in self._matching(envelope):
            sink = sub.sink
            if sink is None or sink.group in groups or not sub.wants(envelope):
                continue
            groups.add(sink.group)
            key = sink.key_of(envelope)
            if key not in keys:
                keys.add(key)
                try:
                    await sink.prepare(envelope)
                except Exception:  # its subscribers take the queue and fail there, alone
                    log.exception("could not prepare a shared payload of %s", envelope.get("type"))

    def dispatch(self, envelope: dict[str, Any]) -> None:
        """Hand one event to every matching local subscriber; never waits."""
        batches: Batches = {}
        for sub in self._matching(envelope):
            if not sub.offer(envelope, batches):
                self.dropped += 1
                metrics.DROPPED_SLOW_CONSUMERS.inc()
                self._remove(sub)
        for _, sink, offered in batches.values():
            if offered:
                sink.delivered(envelope, offered)

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        subject: str | None = None,
        types: frozenset[str] | None = None,
        on_overflow: Callable[[], None] | None = None,
        sink: DirectSink | None = None,
    ) -> AsyncIterator[Subscription]:
        """Receive events about ``subject`` (None = every subject) of ``types`` (None = all)."""
        sub = Subscription(subject or ALL, types, self.queue_size, on_overflow, sink)
        async with self._lock:
            self._routes.setdefault(sub.key, {})[sub] = None
        metrics.ACTIVE_SUBSCRIPTIONS.inc()
        try:
            yield sub
        finally:
            metrics.ACTIVE_SUBSCRIPTIONS.dec()
            async with self._lock:
                self._remove(sub)

    def _remove(self, sub: Subscription) -> None:
        subs = self._routes.get(sub.key)
        if subs is not None:
            subs.pop(sub, None)
            if not subs:
                del self._routes[sub.key]

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._routes.values())
