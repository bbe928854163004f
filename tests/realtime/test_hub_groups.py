"""The hub's direct fan-out by sink group (app/events/hub.py): one frame and one count per
group and event, every socket written in subscription order, and a group without a
payload (or a subscriber with queued events) served through the queue, in order.

The sinks here stand in for sockets (they record what would be written); the hub, its
routes and its queues are the real ones."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Hashable
from typing import Any

from app.events.hub import EventHub, Subscription

TYPE = "wallet.balance_changed"


class RecordingSink:
    """A ``DirectSink`` whose socket is a list; ``frames`` holds the group's payloads."""

    def __init__(self, name: str, group: str, log: list[tuple[str, bytes]], frames: dict) -> None:
        self.name, self.group, self.log, self.frames = name, group, log, frames
        self.frame_calls = 0
        self.counted: list[int] = []
        self.full = False  # the socket's buffer is full: a slow consumer

    def key_of(self, envelope: dict[str, Any]) -> Hashable:
        return (envelope["id"], self.group)

    async def prepare(self, envelope: dict[str, Any]) -> None:
        pass

    def frame(self, envelope: dict[str, Any]) -> bytes | None:
        self.frame_calls += 1
        return self.frames.get((envelope["id"], self.group))

    def send(self, frame: bytes) -> bool:
        if self.full:
            return False
        self.log.append((self.name, frame))
        return True

    def delivered(self, envelope: dict[str, Any], count: int) -> None:
        self.counted.append(count)


def event(subject: str, n: int) -> dict[str, Any]:
    return {"id": f"e{n}", "type": TYPE, "subject": subject}


async def _subscribed(hub: EventHub, stack: contextlib.AsyncExitStack, subject: str, sinks):
    return [
        await stack.enter_async_context(hub.subscribe(subject, frozenset({TYPE}), sink=s))
        for s in sinks
    ]


async def test_one_frame_and_one_count_per_group_every_socket_in_subscription_order():
    hub = EventHub.from_settings(None, f"pms.test.{uuid.uuid4().hex}", queue_size=8)
    subject = str(uuid.uuid4())
    log: list[tuple[str, bytes]] = []
    frames = {("e0", "a"): b"A0", ("e0", "b"): b"B0", ("e1", "a"): b"A1", ("e1", "b"): b"B1"}
    # Interleaved groups, and names out of alphabetical order: the order is the hub's.
    names = [f"s{(n * 7) % 20:02d}" for n in range(20)]
    sinks = [RecordingSink(name, "ab"[n % 2], log, frames) for n, name in enumerate(names)]
    async with contextlib.AsyncExitStack() as stack:
        subs = await _subscribed(hub, stack, subject, sinks)
        for n in range(2):
            hub.dispatch(event(subject, n))

        expected = [(s.name, f"{s.group.upper()}{n}".encode()) for n in range(2) for s in sinks]
        assert log == expected
        assert sum(s.frame_calls for s in sinks) == 4  # one per group and event
        assert sorted(c for s in sinks for c in s.counted) == [10, 10, 10, 10]
        assert all(sub.queue.empty() and sub.pending == 0 for sub in subs)


async def test_a_group_without_a_payload_and_a_subscriber_behind_take_the_queue_in_order():
    hub = EventHub.from_settings(None, f"pms.test.{uuid.uuid4().hex}", queue_size=8)
    subject = str(uuid.uuid4())
    log: list[tuple[str, bytes]] = []
    frames = {("e1", "a"): b"A1", ("e2", "a"): b"A2"}  # no payload of e0 (an error)
    first, second = (RecordingSink(n, "a", log, frames) for n in ("first", "second"))
    async with contextlib.AsyncExitStack() as stack:
        a, b = await _subscribed(hub, stack, subject, [first, second])
        hub.dispatch(event(subject, 0))
        assert [a.queue.qsize(), b.queue.qsize()] == [1, 1]  # both queued, nothing written
        assert log == [] and first.counted == second.counted == []
        _handled(a)  # the first one's task handled e0: direct writes resume for it
        hub.dispatch(event(subject, 1))
        assert log == [("first", b"A1")]
        assert b.queue.qsize() == 2  # e1 waits behind e0 for the second: order kept
        assert [await b.get() for _ in range(2)] == [event(subject, 0), event(subject, 1)]
        b.done()
        b.done()
        hub.dispatch(event(subject, 2))
        assert log[1:] == [("first", b"A2"), ("second", b"A2")]


async def test_a_full_socket_is_dropped_and_its_group_keeps_receiving():
    hub = EventHub.from_settings(None, f"pms.test.{uuid.uuid4().hex}", queue_size=8)
    subject = str(uuid.uuid4())
    log: list[tuple[str, bytes]] = []
    frames = {("e0", "a"): b"A0", ("e1", "a"): b"A1"}
    sinks = [RecordingSink(n, "a", log, frames) for n in ("x", "y", "z")]
    sinks[1].full = True
    async with contextlib.AsyncExitStack() as stack:
        subs = await _subscribed(hub, stack, subject, sinks)
        hub.dispatch(event(subject, 0))
        assert subs[1].overflowed and hub.dropped == 1
        hub.dispatch(event(subject, 1))
        assert log == [("x", b"A0"), ("z", b"A0"), ("x", b"A1"), ("z", b"A1")]
        assert hub.subscriber_count == 2


def _handled(sub: Subscription) -> None:
    sub.queue.get_nowait()
    sub.done()
