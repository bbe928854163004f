"""The outbox relay's LISTEN/NOTIFY wake-up (app/events/wakeup.py): events reach
subscribers right after the commit with the poll set to an hour, a dropped LISTEN
connection is re-opened (and what was committed meanwhile delivered), and several
workers each deliver every event exactly once, in order, to their own subscribers.

Every test runs under ``asyncio.timeout``: a wake-up that never comes fails the test
instead of hanging the module."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.core.db import Database
from app.core.settings import Settings
from app.events.wakeup import RelayWakeup
from tests.auth import player_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import (
    WsClient,
    balance_data,
    realtime_settings,
    record_event,
    start_server,
    stop_server,
)
from tests.realtime.test_subscriptions import BALANCE

HOUR = 3600.0
TEST_SECONDS = 60


def slow_poll(settings: Settings, redis_url: str) -> Settings:
    """The relay polls once an hour: only a wake-up delivers within the test."""
    return realtime_settings(
        settings, redis_url=redis_url, outbox_poll_seconds=HOUR, outbox_listen_poll_seconds=HOUR
    )


async def subscriber(live: Any, player: Any) -> WsClient:
    ws = await WsClient.open(live.ws_url)
    ack = await ws.init(await token_for(live.app, player_principal(player)))
    assert ack["type"] == "connection_ack"
    await ws.subscribe("1", BALANCE, {"id": str(player.id)})
    return ws


async def received(ws: WsClient, count: int) -> list[str]:
    out = []
    for _ in range(count):
        message = await ws.next_payload(wait=20)
        assert message["type"] == "next", message
        out.append(message["payload"]["data"]["balanceChanged"]["transactionId"])
    return out


async def registered(live: Any, count: int) -> None:
    """Until the hub holds ``count`` subscriptions (a subscribe is asynchronous)."""
    while live.app.state.pms.events.hub.subscriber_count < count:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def listening(wakeup: RelayWakeup, connects: int = 1) -> None:
    while not (wakeup.listening and wakeup.connects >= connects):  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def published_attempts(db: Database, subject: str, count: int) -> list[int]:
    """The relay attempts of the subject's balance events once ``count`` are published."""
    query = text(
        "SELECT attempts FROM outbox_events WHERE subject = :s "
        "AND type = 'wallet.balance_changed' AND published_at IS NOT NULL ORDER BY id"
    )
    while True:
        async with db.engine.connect() as conn:
            attempts = list((await conn.execute(query, {"s": subject})).scalars())
        if len(attempts) >= count:
            return attempts
        await asyncio.sleep(0.02)


def wakeup_of(live: Any) -> RelayWakeup:
    wakeup = live.app.state.pms.events.wakeup
    assert isinstance(wakeup, RelayWakeup)
    return wakeup


@pytest.fixture
async def other_replica(settings: Settings) -> AsyncIterator[Database]:
    """A second process's database handle that NOTIFYs after its outbox commits, as a
    replica's events runtime does (it runs no relay of its own)."""
    other = Database(settings.database_url or "")
    wakeup = RelayWakeup(other.url, HOUR, relays=False)
    await wakeup.start()
    other.on_commit.append(wakeup.poke)
    async with asyncio.timeout(TEST_SECONDS):
        await listening(wakeup)
    yield other
    await wakeup.stop()
    await other.dispose()


async def test_a_local_commit_wakes_the_relay_with_the_poll_at_an_hour(settings, db, redis_url):
    async with asyncio.timeout(TEST_SECONDS):
        server, task, live = await start_server(slow_poll(settings, redis_url), db)
        try:
            player = await create_player(db, settings)
            ws = await subscriber(live, player)
            await registered(live, 1)
            txs = [f"local-{n}" for n in range(3)]
            for tx in txs:  # the server's own Database: its on-commit hook pokes the relay
                await record_event(db, "wallet.balance_changed", str(player.id),
                                   balance_data(player.id, tx))  # fmt: skip
            assert await received(ws, 3) == txs
            await ws.close()
        finally:
            await stop_server(server, task)


async def test_another_replicas_commit_wakes_it_through_notify(
    settings, db, redis_url, other_replica
):
    async with asyncio.timeout(TEST_SECONDS):
        server, task, live = await start_server(slow_poll(settings, redis_url), db)
        try:
            await listening(wakeup_of(live))
            player = await create_player(db, settings)
            ws = await subscriber(live, player)
            await registered(live, 1)
            txs = [f"remote-{n}" for n in range(3)]
            for tx in txs:
                await record_event(other_replica, "wallet.balance_changed", str(player.id),
                                   balance_data(player.id, tx))  # fmt: skip
            assert await received(ws, 3) == txs
            assert wakeup_of(live).notifications >= 1
            # and nothing twice: the next frame is the next event, not a repeat
            await record_event(other_replica, "wallet.balance_changed", str(player.id),
                               balance_data(player.id, "remote-last"))  # fmt: skip
            assert await received(ws, 1) == ["remote-last"]
            await ws.close()
        finally:
            await stop_server(server, task)


async def test_a_dropped_listen_connection_is_reopened_and_catches_up(
    settings, db, redis_url, other_replica
):
    async with asyncio.timeout(TEST_SECONDS):
        server, task, live = await start_server(slow_poll(settings, redis_url), db)
        try:
            wakeup = wakeup_of(live)
            await listening(wakeup)
            player = await create_player(db, settings)
            ws = await subscriber(live, player)
            await registered(live, 1)
            # Committed by a process that sends no NOTIFY, then the LISTEN connection is
            # killed: only the re-opened connection's catch-up can deliver it.
            silent = Database(settings.database_url or "")
            try:
                await record_event(silent, "wallet.balance_changed", str(player.id),
                                   balance_data(player.id, "while-down"))  # fmt: skip
                async with silent.engine.begin() as conn:
                    killed = (await conn.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'pms-outbox-listen' AND pid = :pid"
                    ), {"pid": wakeup._own_pid})).scalar_one()  # fmt: skip
            finally:
                await silent.dispose()
            assert killed == 1
            assert await received(ws, 1) == ["while-down"]
            await listening(wakeup, connects=2)
            # and the re-opened LISTEN hears the next NOTIFY (the poll is still an hour)
            await record_event(other_replica, "wallet.balance_changed", str(player.id),
                               balance_data(player.id, "after"))  # fmt: skip
            assert await received(ws, 1) == ["after"]
            await ws.close()
        finally:
            await stop_server(server, task)


async def test_the_poll_delivers_when_nothing_notifies(settings, db, redis_url):
    """Wake-up off: the poll alone, as before (and the fallback's path)."""
    quick = realtime_settings(settings, redis_url=redis_url, outbox_wakeup=False)
    async with asyncio.timeout(TEST_SECONDS):
        server, task, live = await start_server(quick, db)
        try:
            assert live.app.state.pms.events.wakeup is None
            player = await create_player(db, settings)
            ws = await subscriber(live, player)
            await registered(live, 1)
            await record_event(db, "wallet.balance_changed", str(player.id),
                               balance_data(player.id, "polled"))  # fmt: skip
            assert await received(ws, 1) == ["polled"]
            await ws.close()
        finally:
            await stop_server(server, task)


async def test_several_workers_deliver_every_event_exactly_once_in_order(
    settings, db, redis_url, other_replica
):
    """Three workers (own Database, relay, LISTEN and hub each) over one Redis channel;
    their relays race for every woken batch with SKIP LOCKED. Every subscriber on every
    worker gets every event once, in commit order."""
    channel = f"pms.events.test.{uuid.uuid4().hex[:10]}"
    worker_settings = slow_poll(settings, redis_url).model_copy(update={"events_channel": channel})
    dbs = [Database(settings.database_url or "") for _ in range(3)]
    servers = []
    async with asyncio.timeout(TEST_SECONDS * 2):
        try:
            for worker_db in dbs:
                servers.append(await start_server(worker_settings, worker_db))
            for _, _, live in servers:
                await listening(wakeup_of(live))
            player = await create_player(db, settings)
            sockets = []
            for _, _, live in servers:
                sockets += [await subscriber(live, player) for _ in range(2)]
                await registered(live, 2)
            txs = [f"fleet-{n}" for n in range(12)]

            async def commit(through: Database, chunk: list[str]) -> None:
                for tx in chunk:
                    await record_event(through, "wallet.balance_changed", str(player.id),
                                       balance_data(player.id, tx))  # fmt: skip

            # Commits from two workers and the other replica, each in its own order;
            # the per-subject order is the outbox's id order, i.e. the commit order.
            await asyncio.gather(commit(dbs[0], txs[0:4]), commit(dbs[1], txs[4:8]))
            await commit(other_replica, txs[8:12])
            async with db.engine.connect() as conn:
                order = list((await conn.execute(text(
                    "SELECT data->>'transactionId' FROM outbox_events "
                    "WHERE subject = :s AND type = 'wallet.balance_changed' ORDER BY id"),
                    {"s": str(player.id)})).scalars())  # fmt: skip
            assert sorted(order) == sorted(txs)
            for ws in sockets:
                assert await received(ws, 12) == order
            # exactly once: one more event is the very next frame everywhere
            await commit(other_replica, ["fleet-last"])
            for ws in sockets:
                assert await received(ws, 1) == ["fleet-last"]
                await ws.close()
            # The relay marks a batch published after handing it over: wait for the marks.
            attempts = await published_attempts(db, str(player.id), 13)
            assert attempts == [1] * 13  # each event relayed by one worker, once
        finally:
            for server, task, _ in servers:
                await stop_server(server, task)
            for worker_db in dbs:
                await worker_db.dispose()


async def two_workers(settings: Settings, redis_url: str) -> tuple[list[Any], list[Database]]:
    """Two workers on one events channel, each with its own Database (its own LISTEN)."""
    channel = f"pms.events.test.{uuid.uuid4().hex[:10]}"
    worker_settings = slow_poll(settings, redis_url).model_copy(update={"events_channel": channel})
    dbs = [Database(settings.database_url or "") for _ in range(2)]
    return [await start_server(worker_settings, worker_db) for worker_db in dbs], dbs


async def readyz(live: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_one_worker_listens_before_it_is_ready_and_only_its_relay_wakes(
    settings, db, redis_url, other_replica
):
    """The LISTEN connection is up before start-up ends (no waiting here), one worker
    leads, and another process's NOTIFY wakes only the leader's relay; the event still
    reaches the other worker's subscribers through the hub."""
    async with asyncio.timeout(TEST_SECONDS):
        servers, dbs = await two_workers(settings, redis_url)
        try:
            wakeups = [wakeup_of(live) for _, _, live in servers]
            assert [w.listening for w in wakeups] == [True, True]
            assert [w.leading for w in wakeups] == [True, False]  # the first one started
            assert [(await readyz(live))["relay_wakeup"] for _, _, live in servers] == [
                "leader",
                "listening",
            ]
            player = await create_player(db, settings)
            sockets = []
            for _, _, live in servers:
                sockets.append(await subscriber(live, player))
                await registered(live, 1)
            txs = [f"led-{n}" for n in range(3)]
            for tx in txs:
                await record_event(other_replica, "wallet.balance_changed", str(player.id),
                                   balance_data(player.id, tx))  # fmt: skip
            for ws in sockets:
                assert await received(ws, 3) == txs
                await ws.close()
            assert wakeups[0].notifications >= 1
            assert wakeups[1].notifications == 0  # never woken by another's commit
            assert await published_attempts(db, str(player.id), 3) == [1, 1, 1]
        finally:
            for server, task, _ in servers:
                await stop_server(server, task)
            for worker_db in dbs:
                await worker_db.dispose()


async def test_when_the_leader_goes_the_next_worker_leads_and_catches_up(
    settings, db, redis_url, other_replica
):
    """The leader's LISTEN connection ends (as when its process dies: the advisory lock
    goes with it) with an undelivered event in the outbox: the other worker takes the
    lock, delivers that event by its catch-up, and hears the next NOTIFY."""
    async with asyncio.timeout(TEST_SECONDS):
        servers, dbs = await two_workers(settings, redis_url)
        try:
            leader, follower = (wakeup_of(live) for _, _, live in servers)
            assert leader.leading and not follower.leading
            player = await create_player(db, settings)
            ws = await subscriber(servers[1][2], player)
            await registered(servers[1][2], 1)
            silent = Database(settings.database_url or "")  # commits and NOTIFYs nobody
            try:
                await record_event(silent, "wallet.balance_changed", str(player.id),
                                   balance_data(player.id, "leaderless"))  # fmt: skip
            finally:
                await silent.dispose()
            await leader.stop()  # its relay polls once an hour: it delivers nothing now
            assert await received(ws, 1) == ["leaderless"]
            assert follower.leading
            await record_event(other_replica, "wallet.balance_changed", str(player.id),
                               balance_data(player.id, "after"))  # fmt: skip
            assert await received(ws, 1) == ["after"]
            assert follower.notifications >= 1
            assert await published_attempts(db, str(player.id), 2) == [1, 1]
            await ws.close()
        finally:
            for server, task, _ in servers:
                await stop_server(server, task)
            for worker_db in dbs:
                await worker_db.dispose()
