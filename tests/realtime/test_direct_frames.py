"""Shared ``next`` frames written by the hub's dispatch straight to the sockets (app/events/
ws_direct.py), over a real uvicorn server and real sockets: the frames reach clients that
negotiated permessage-deflate, the legacy protocol keeps Strawberry's path, and a client
that stops reading is dropped with 1013 and counted while the others keep receiving."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

from websockets.asyncio.client import connect

from app.core import metrics
from app.events.hub import EventHub, Subscription
from app.events.ws_direct import text_frame
from tests.auth import player_principal, staff_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import (
    WsClient,
    balance_data,
    realtime_settings,
    record_event,
    start_server,
    stop_server,
)

BALANCE = "subscription B($id: ID!) { balanceChanged(playerId: $id) { transactionId } }"
FEED = "subscription F($f: PlayerEventFilter) { playerEvents(filter: $f) { type data } }"


def hub_of(live: Any) -> EventHub:
    return live.app.state.pms.events.hub  # type: ignore[no-any-return]


async def subscriptions_of(hub: EventHub, subject: str, count: int) -> list[Subscription]:
    for _ in range(200):
        subs = list(hub._routes.get(subject, ()))
        if len(subs) == count:
            return subs
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} subscriptions of {subject} did not register")


def test_text_frame_header_sizes():
    assert text_frame(b"x" * 5)[:2] == b"\x81\x05"
    assert text_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert text_frame(b"x" * 70_000)[:2] == b"\x81\x7f"
    assert int.from_bytes(text_frame(b"x" * 70_000)[2:10]) == 70_000


async def test_shared_frames_are_written_by_the_dispatch_and_legacy_keeps_its_path(
    live, db, settings
):
    player = await create_player(db, settings)
    pid = str(player.id)
    token = await token_for(live.app, player_principal(player))
    modern = await WsClient.open(live.ws_url)  # websockets offers permessage-deflate
    assert (await modern.init(token))["type"] == "connection_ack"
    await modern.subscribe("m", BALANCE, {"id": pid})
    legacy = await WsClient.open(live.ws_url, "graphql-ws")
    await legacy.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert (await legacy.recv())["type"] == "connection_ack"
    await legacy.send(
        {"id": "l", "type": "start", "payload": {"query": BALANCE, "variables": {"id": pid}}}
    )
    subs = await subscriptions_of(hub_of(live), pid, 2)
    direct = [s for s in subs if s.sink is not None]
    assert len(direct) == 1  # graphql-transport-ws only
    assert modern.conn.protocol.extensions  # deflate negotiated, the frames come uncompressed

    for n in range(3):
        await record_event(db, "wallet.balance_changed", pid, balance_data(player.id, f"tx-{n}"))

    got = [await modern.next_payload() for _ in range(3)]
    assert [(g["id"], g["payload"]["data"]["balanceChanged"]["transactionId"]) for g in got] == [
        ("m", "tx-0"),
        ("m", "tx-1"),
        ("m", "tx-2"),
    ]
    old = [m for m in [await legacy.recv() for _ in range(3)] if m["type"] != "ka"]
    while len(old) < 3:
        if (message := await legacy.recv())["type"] != "ka":  # keep-alives between
            old.append(message)
    assert [o["type"] for o in old] == ["data"] * 3
    assert [o["payload"]["data"]["balanceChanged"]["transactionId"] for o in old] == [
        "tx-0",
        "tx-1",
        "tx-2",
    ]
    assert direct[0].pending == 0  # nothing went through the queue
    await modern.close()
    await legacy.close()


async def _stalled_client(url: str, token: str, variables: dict[str, Any]) -> WsClient:
    """A client with a tiny receive buffer that reads nothing after subscribing."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    conn = await connect(url, sock=sock, subprotocols=["graphql-transport-ws"], max_queue=1)  # type: ignore[list-item]
    client = WsClient(conn)
    assert (await client.init(token))["type"] == "connection_ack"
    await client.subscribe("slow", FEED, variables)
    return client


async def test_a_socket_that_stops_reading_is_dropped_with_1013_others_keep_up(
    settings, db, redis_url
):
    tuned = realtime_settings(settings, redis_url=redis_url, ws_write_buffer_limit_bytes=16_384)
    server, task, live = await start_server(tuned, db)
    try:
        player = await create_player(db, settings)
        pid = str(player.id)
        variables = {"f": {"types": ["wallet.balance_changed"], "playerId": pid}}
        staff = await token_for(live.app, staff_principal("SUPPORT"))
        slow = await _stalled_client(live.ws_url, staff, variables)
        fast = await WsClient.open(live.ws_url)
        assert (await fast.init(staff))["type"] == "connection_ack"
        await fast.subscribe("fast", FEED, variables)
        hub = hub_of(live)
        subs = await subscriptions_of(hub, pid, 2)
        (stalled,) = [s for s in subs if s.sink._operation.id == "slow"]  # type: ignore[union-attr]
        # The server side of the stalled socket buffers little in the kernel.
        transport = stalled.sink.direct._protocol.transport  # type: ignore[union-attr]
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        dropped = metrics.DROPPED_SLOW_CONSUMERS._value.get()
        seen = []
        for n in range(100):  # ~8 KiB frames: far more than the stalled socket's buffers
            data = {"playerId": pid, "transactionId": f"tx-{n}", "operation": "o" * 8000}
            await hub.publish(
                {"id": str(uuid.uuid4()), "type": "wallet.balance_changed", "subject": pid,
                 "time": "2026-12-01T12:00:00+00:00", "data": data}
            )  # fmt: skip
            got = await fast.next_payload()  # the reading client keeps up
            seen.append(got["payload"]["data"]["playerEvents"]["data"]["transactionId"])

        assert seen == [f"tx-{n}" for n in range(100)]  # in order, none missed
        assert stalled.overflowed
        assert await slow.closed_with(20) == 1013
        assert metrics.DROPPED_SLOW_CONSUMERS._value.get() - dropped == 1
        assert hub.subscriber_count == 1  # the fast one is still registered
        await fast.close()
    finally:
        await stop_server(server, task)
