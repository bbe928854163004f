"""Wakes the outbox relay right after a commit instead of at its next poll.

Every process LISTENs on one PostgreSQL channel over a connection of its own. A commit in
this process that wrote outbox rows (``Database.on_commit``) wakes the local relay at
once and sends one NOTIFY, so the relays of the other processes wake too. The poll stays
as the fallback: a longer one (``outbox_listen_poll_seconds``) while the LISTEN
connection stands, the normal one (``outbox_poll_seconds``) while it is down and being
re-opened; a re-opened LISTEN wakes the relay once for what it may have missed.

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


class RelayWakeup:
    def __init__(self, url: str, listen_poll: float, channel: str = CHANNEL) -> None:
        self.dsn = asyncpg_dsn(url)
        self.listen_poll = listen_poll
        self.channel = channel
        self._event = asyncio.Event()
        self._conn: Any = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._notify_again = False
        self._own_pid = 0
        self.notifications = 0  # received from other processes (tests and diagnostics)
        self.connects = 0

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="pms:outbox-listen")

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
                await self._lost.wait()
                log.warning("outbox LISTEN connection lost; polling until it is back")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                level = logging.WARNING if failures in (0, 10) else logging.DEBUG
                log.log(level, "outbox LISTEN failed (%r); polling meanwhile", exc)
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
        await conn.add_listener(self.channel, self._notified)
        self._conn = conn
        self.connects += 1

    def _notified(self, _conn: Any, pid: int, *_: Any) -> None:
        if pid == self._own_pid:
            return  # this process's own NOTIFY: its relay was woken by ``poke`` already
        self.notifications += 1
        self._event.set()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
