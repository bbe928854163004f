"""The hub's direct fan-out in one process: CPU per delivery of ``EventHub.prepare`` (its
walk over the subscribers, the payloads being there) and ``EventHub.dispatch`` to N real
loopback sockets, against a bare ``transport.write`` loop over the same sockets in
the same run (the floor: one send per socket is the kernel's share, bench/README.md
"subs5").

Each subscriber is the real ``Subscription`` + ``SharedDelivery`` + ``DirectSocket`` of
the tree under test, over a uvloop transport; only the GraphQL side is left out (each
event's payload is put in the shared frames, as the hub's ``prepare`` would). Two sink
groups (two callers) alternate, as the 10,000-subscriber bench's two subscriptions do.

    .venv/bin/python bench/fanout_dispatch.py [--sockets 5000] [--rounds 30] [--runs 2]
        [--baseline-tree DIR]

With ``--baseline-tree`` each run measures both trees, alternated, each in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TYPE = "wallet.balance_changed"
REQUEST = ("q", "B", "{}")


class _Peer(asyncio.Protocol):
    transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        pass


class _Protocol:
    """What DirectSocket reads of uvicorn's protocol."""

    close_sent = False
    disconnected = False

    def __init__(self, transport: Any) -> None:
        self.transport = transport


class _Operation:
    completed = False
    id = "1"


class _Projection:
    def __init__(self, cls: int) -> None:
        self.cls = cls

    def class_of(self, envelope: dict[str, Any]) -> int:
        return self.cls


def _sink(frames: Any, transport: Any, n: int) -> Any:
    from app.events import fanout
    from app.events.ws_direct import DirectSocket
    from resolvers.subscriptions.shared import SharedDelivery

    sink = SharedDelivery.__new__(SharedDelivery)  # no GraphQL request behind it
    sink._frames, sink._operation, sink._projection = frames, _Operation(), _Projection(n % 2)
    sink.direct = DirectSocket(_Protocol(transport), 1 << 20)  # type: ignore[arg-type]
    sink._keyed, sink._key, sink._request_key = None, None, REQUEST
    sink._executed = None  # the base tree's per-sink state; unused by later trees
    sink.group = sys.intern(f"caller-{n % 2}")  # as the two callers' groups
    sink._prefix = fanout.next_frame_prefix("1")
    sink._prefix_bytes = sink._prefix.encode()
    return sink


async def _measure(sockets: int, rounds: int) -> tuple[float, float, float]:
    from app.events import fanout
    from app.events.hub import EventHub

    loop = asyncio.get_running_loop()
    accepted: list[_Peer] = []

    def accept() -> _Peer:
        accepted.append(_Peer())
        return accepted[-1]

    server = await loop.create_server(accept, "127.0.0.1", 0, backlog=8192)
    port = server.sockets[0].getsockname()[1]
    for first in range(0, sockets, 200):
        wave = min(200, sockets - first)
        await asyncio.gather(
            *(loop.create_connection(_Peer, "127.0.0.1", port) for _ in range(wave))
        )
    while len(accepted) < sockets:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    frames = fanout.SharedFrames(64)
    hub = EventHub.from_settings(None, f"bench.{uuid.uuid4().hex}", queue_size=100)
    payload = fanout.encode({"data": {"balanceChanged": {"transactionId": "x" * 36}}})
    frame = b"\x81" + bytes((len(payload) + 37,)) + b"y" * (len(payload) + 37)
    prepared: list[float] = []
    dispatched: list[float] = []
    bare: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        for n, peer in enumerate(accepted):
            sink = _sink(frames, peer.transport, n)
            await stack.enter_async_context(hub.subscribe("p", frozenset({TYPE}), sink=sink))
        gc.collect()
        gc.freeze()
        for _ in range(rounds):
            envelope = {"id": str(uuid.uuid4()), "type": TYPE, "subject": "p"}
            for cls in (0, 1):
                frames.put((envelope["id"], REQUEST, cls), payload)
            started = time.process_time()
            await hub.prepare(envelope)  # the payloads are there: only the hub's walk
            prepared.append(time.process_time() - started)
            started = time.process_time()
            hub.dispatch(envelope)
            dispatched.append(time.process_time() - started)
            await asyncio.sleep(0.05)  # the peers read
            started = time.process_time()
            for peer in accepted:
                peer.transport.write(frame)
            bare.append(time.process_time() - started)
            await asyncio.sleep(0.05)
    server.close()
    return tuple(statistics.median(xs) / sockets for xs in (prepared, dispatched, bare))  # type: ignore[return-value]


def child(sockets: int, rounds: int) -> None:
    import uvloop

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(" ".join(f"{x * 1e6:.2f}" for x in uvloop.run(_measure(sockets, rounds))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--baseline-tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.sockets, args.rounds)
        return
    trees = [("this", ROOT)]
    if args.baseline_tree:
        trees.append(("base", Path(args.baseline_tree).resolve()))
    print(f"{args.sockets} sockets, {args.rounds} rounds; CPU us per delivery (median round)")
    for run in range(args.runs):
        for name, tree in trees if run % 2 == 0 else trees[::-1]:
            command = [sys.executable, str(Path(__file__).resolve()), "--child",
                       "--sockets", str(args.sockets), "--rounds", str(args.rounds)]  # fmt: skip
            out = subprocess.run(command, cwd=tree, env={"PYTHONPATH": str(tree)},
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
            prepare, dispatch, bare = (float(x) for x in out.split())
            print(f"run {run + 1} {name}: prepare {prepare:.2f}, dispatch {dispatch:.2f}, "
                  f"bare write {bare:.2f}, (prepare + dispatch) / bare "
                  f"{(prepare + dispatch) / bare:.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
