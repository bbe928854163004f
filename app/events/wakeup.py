"""Wakes the outbox relay right after a commit instead of at its next poll.

Every process holds a connection of its own to one PostgreSQL channel. A commit in this
process that wrote outbox rows (``Database.on_commit``) wakes the local relay at once and
sends one NOTIFY, so that another process's relay wakes too. Only ONE process LISTENs:
the leader, whose connection holds a session advisory lock on the channel's name (taken
with ``pg_try_advisory_lock``, so nobody waits). Every relay woken by the same NOTIFY
would claim the same rows, and all but one would find them locked: a pass each for
nothing. The others try to take the lock every ``TAKEOVER_SECONDS``; a leader that dies
releases it with its connection, and the next one LISTENs and wakes its relay once for
what was committed meanwhile. The poll stays as the fallback in every process: a longer
one (``outbox_listen_poll_seconds``) while the connection stands, the normal one
(``outbox_poll_seconds``) while it is down and being re-opened; a re-opened connection
wakes the relay once for what it may have missed.

The NOTIFY is sent after the commit, on this connection, never inside the writing
transaction: PostgreSQL serialises the commits of notifying transactions on one global
lock held through their WAL flush, which would put every money transaction in one file.
Notifies are coalesced: one in flight per process, and one more after it when commits
arrived meanwhile, so their rate is bounded by the round trip, not by the commit rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from app.core.db import asyncpg_dsn

log = logging.getLogger(__name__)

CHANNEL = "pms_outbox"
RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
TAKEOVER_SECONDS = 0.5  # how often a process that is not the leader tries to become it
LEAD = "SELECT pg_try_advisory_lock(hashtext($1))"


class RelayWakeup:
    def __init__(
        self, url: str, listen_poll: float, channel: str = CHANNEL, *, relays: bool = True
    ) -> None:
        self.dsn = asyncpg_dsn(url)
        self.listen_poll = listen_poll
        self.channel = channel
        self.relays = relays  # False: this process only NOTIFYs (it runs no relay)
        self.leading = False  # this process LISTENs for the others' commits
        self._event = asyncio.Event()
        self._conn: Any = None
        self._conn_lock = asyncio.Lock()  # asyncpg: one statement at a time per connection
        self._lost = asyncio.Event()
        self._opened = asyncio.Event()  # the first attempt to connect ended (either way)
        self._task: asyncio.Task[None] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._notify_again = False
        self._own_pid = 0
        self.notifications = 0  # received from other processes (tests and diagnostics)
        self.connects = 0

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self, ready_within: float = 0.0) -> None:
        """Start listening; with ``ready_within``, wait (that long at most) until the
        connection is up and the leadership tried, so a process is not ready before."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="pms:outbox-listen")
        if ready_within > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._opened.wait(), ready_within)

    async def stop(self) -> None:
        for task in (self._task, self._notifier):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._notifier = None
        await self._close()

    def poke(self) -> None:
        """A local commit wrote outbox rows: wake this relay and, once, the others."""
        self._event.set()
        self._notify_again = True
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._notify(), name="pms:outbox-notify")

    async def wait(self, poll: float) -> None:
        """Until woken, or the poll interval (the longer one while listening) passed."""
        timeout = max(poll, self.listen_poll) if self.listening else poll
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

    async def _notify(self) -> None:
        while self._notify_again:
            self._notify_again = False
            conn = self._conn
            if conn is None or conn.is_closed():
                return  # the other relays find it at their poll
            try:
                async with self._conn_lock:
                    await conn.execute(f"NOTIFY {self.channel}")
            except Exception as exc:  # a suspect connection: the listener's loop re-opens it
                log.debug("outbox NOTIFY failed: %r", exc)
                self._lost.set()
                return

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self._open()
                failures = 0
                self._event.set()  # what was committed while not listening
                await self._hold()
                log.warning("outbox LISTEN connection lost; polling until it is back")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                level = logging.WARNING if failures in (0, 10) else logging.DEBUG
                log.log(level, "outbox LISTEN failed (%r); polling meanwhile", exc)
            self._opened.set()
            await self._close()
            await asyncio.sleep(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)])
            failures += 1

    async def _open(self) -> None:
        self._lost.clear()
        # synchronous_commit off: a NOTIFY-only transaction need not wait for its WAL flush.
        conn = await asyncpg.connect(
            self.dsn,
            timeout=5,
            server_settings={"application_name": "pms-outbox-listen", "synchronous_commit": "off"},
        )
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self._own_pid = conn.get_server_pid()
        self._conn = conn
        self.connects += 1
        await self._try_lead()
        self._opened.set()

    async def _hold(self) -> None:
        """Until the connection is lost; meanwhile, if not leading, try to lead."""
        while True:
            timeout = None if self.leading or not self.relays else TAKEOVER_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), timeout)
            if self._lost.is_set():
                return
            await self._try_lead()

    async def _try_lead(self) -> None:
        if not self.relays or self.leading:
            return
        async with self._conn_lock:
            if not await self._conn.fetchval(LEAD, self.channel):
                return
            await self._conn.add_listener(self.channel, self._notified)
        self.leading = True
        self._event.set()  # what the previous leader may have left undelivered

    def _notified(self, _conn: Any, pid: int, *_: Any) -> None:
        if pid == self._own_pid:
            return  # this process's own NOTIFY: its relay was woken by ``poke`` already
        self.notifications += 1
        self._event.set()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.leading = False  # the lock goes with the connection
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
