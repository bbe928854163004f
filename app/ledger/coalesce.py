"""Group commit of concurrent single money operations (reserveBet, settleBet, cancelBet,
rollbackBet, rollbackRound, playRound), per process.

Natural batching, no timer: an operation of a group (one caller, its settings, client IP
and user agent: what a set-based batch shares) runs at once, alone, on today's single
path, while fewer than ``concurrency`` runs of its group are in flight; one arriving
while they are queues, and each run that ends starts the next with up to ``size`` queued
operations as one set-based batch (app/ledger/set_batch.py: one LOAD, the same plans,
one APPLY, one COMMIT). A queue of one runs alone. So one client's latency is today's,
and under load the commits, round trips and lock holds are shared.

Semantics are the single calls', non-atomic: each operation has its own idempotency key
and its own answer (Outcome, or the DomainError raised to its caller); a refusal of one
changes nothing for another (set_batch's isolation, proved equal to single calls by its
property test). A batch that set_batch declines (``Fallback``) or whose transaction
fails for any other reason (deadlock, unique violation, lost connection) wrote nothing:
its operations then run again one by one, each in its own transaction on the single path,
so every caller gets what a single call answers. Two operations of one key in a batch
answer as two single calls in a row: the first's answer, then its replay.

A caller cancelled while queued (client gone) is dropped from the queue, nothing run;
once its batch has started, it commits as a single call would have (a retry replays it).

Each operation's plan runs in its caller's context, so its audit row carries its own
request's id; IP and user agent are equal within a group.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from app.core import metrics
from app.core.db import Database
from app.core.errors import DomainError
from app.core.logging import client_ip_var, user_agent_var
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import hooks, repository, set_batch
from app.ledger.kernel import Chain, Outcome, Prepared, Unit

log = logging.getLogger(__name__)

# The single path of today (the resolver's call in its own driver transaction) and the
# checked input set_batch runs (raises the input's refusal as a DomainError).
Single = Callable[[Any], Awaitable[Outcome]]
Prepare = Callable[[], Prepared | Chain]
# One transaction (commit on normal exit): ``Database.driver_transaction`` in the API, a
# pooled asyncpg connection's in bench/wallet.py.
Transaction = Callable[[], AbstractAsyncContextManager[Unit]]


@dataclass(eq=False)
class _Op:
    prepare: Prepare
    single: Single
    future: asyncio.Future[Outcome]
    context: contextvars.Context  # the caller's (request id, IP): its single run uses it


@dataclass(eq=False)
class _Group:
    settings: Settings
    caller: Principal
    queue: deque[_Op] = field(default_factory=deque)
    in_flight: int = 0


class Coalescer:
    """One per process (pms/asgi.py's AppState); ``close`` lets queued operations finish."""

    def __init__(self, transaction: Transaction, *, size: int, concurrency: int) -> None:
        self._transaction = transaction
        self._size = size
        self._concurrency = concurrency
        self._groups: dict[Hashable, _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> Coalescer | None:
        if not settings.ledger_coalesce:
            return None
        return cls(db.driver_transaction, size=settings.ledger_coalesce_size,
                   concurrency=settings.ledger_coalesce_concurrency)  # fmt: skip

    def queued(self) -> int:
        """Operations waiting for a batch (tests, shutdown)."""
        return sum(len(g.queue) for g in self._groups.values())

    def in_flight(self) -> int:
        """Runs (alone or batches) in progress."""
        return sum(g.in_flight for g in self._groups.values())

    async def run(
        self, settings: Settings, caller: Principal, prepare: Prepare, single: Single
    ) -> Outcome:
        """The operation's answer (a DomainError is raised), as ``single`` alone gives it."""
        key = (caller, id(settings), client_ip_var.get(), user_agent_var.get())
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(settings, caller)
        if group.in_flight < self._concurrency and not group.queue:
            group.in_flight += 1
            metrics.LEDGER_COALESCED.observe(1)
            try:
                return await self._alone(single)
            finally:
                self._done(key, group)
        op = _Op(prepare, single, asyncio.get_running_loop().create_future(),
                 contextvars.copy_context())  # fmt: skip
        group.queue.append(op)
        try:
            return await op.future
        except asyncio.CancelledError:
            if not op.future.done():  # still queued: the batch skips it (done)
                op.future.cancel()
            elif not op.future.cancelled():
                op.future.exception()  # answered as we were cancelled: retrieved, not logged
            raise

    async def close(self) -> None:
        """Waits for every batch in flight and queued (new operations run as they come)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _done(self, key: Hashable, group: _Group) -> None:
        """A run of ``group`` ended: start batches of its queue while there is room."""
        group.in_flight -= 1
        while group.in_flight < self._concurrency and group.queue:
            ops: list[_Op] = []
            while group.queue and len(ops) < self._size:
                op = group.queue.popleft()
                if not op.future.done():  # a cancelled caller's is done
                    ops.append(op)
            if not ops:
                break
            group.in_flight += 1
            task = asyncio.create_task(self._batch(key, group, ops), context=ops[0].context)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if group.in_flight == 0 and not group.queue:
            self._groups.pop(key, None)

    async def _alone(self, single: Single) -> Outcome:
        async with self._transaction() as tx:
            return await single(tx)

    async def _batch(self, key: Hashable, group: _Group, ops: list[_Op]) -> None:
        metrics.LEDGER_COALESCED.observe(len(ops))
        try:
            if len(ops) == 1:
                await _answer(ops[0], self._alone(ops[0].single))
            else:
                await self._together(group, ops)
        except BaseException as exc:  # a bug here must not leave a caller waiting
            for op in ops:
                if op.future.done():
                    continue
                if isinstance(exc, Exception):
                    op.future.set_exception(exc)
                else:
                    op.future.cancel()  # the loop is shutting down
            if not isinstance(exc, Exception):
                raise
            log.exception("a coalesced batch failed")
        finally:
            self._done(key, group)

    async def _together(self, group: _Group, ops: list[_Op]) -> None:
        reason = "fallback"
        try:
            answers = await self._set_based(group, ops)
        except set_batch.Fallback as why:
            log.debug("coalesced batch one by one: %s", why)
        except Exception:
            log.warning("coalesced batch of %d failed; one by one", len(ops), exc_info=True)
            reason = "error"
        else:
            for op, answer in zip(ops, answers, strict=True):
                _settle(op.future, answer)
            return
        metrics.child(metrics.LEDGER_COALESCE_FALLBACKS, reason).inc()
        for op in ops:  # each alone, in its caller's context, in arrival order
            await asyncio.create_task(_answer(op, self._alone(op.single)), context=op.context)

    async def _set_based(self, group: _Group, ops: list[_Op]) -> list[set_batch.Answer]:
        if hooks.batch_statements() is None:
            raise set_batch.Fallback("an extension cannot run batched")
        items: list[set_batch.Item] = []
        for op in ops:
            try:
                items.append(op.prepare())
            except DomainError as exc:
                items.append(exc)
        async with self._transaction() as tx:
            conn = await repository.driver(tx)
            # Each plan in a copy of its caller's context (the batch's task runs in the first
            # one's): its audit row carries its own request's id.
            contexts = [op.context.copy() for op in ops]
            return await set_batch.run(conn, group.settings, group.caller, items, atomic=False,
                                       contexts=contexts)  # fmt: skip


async def _answer(op: _Op, run: Awaitable[Outcome]) -> None:
    try:
        outcome = await run
    except Exception as exc:
        _settle(op.future, exc)
    else:
        _settle(op.future, outcome)


def _settle(future: asyncio.Future[Outcome], answer: Any) -> None:
    if future.done():  # its caller is gone (cancelled while we ran)
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)
