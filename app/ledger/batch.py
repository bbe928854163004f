"""Many money operations in one transaction: ``walletBatch`` and ``playRound``.

One commit (one WAL flush) for up to N operations of one or many players, each with its
own idempotency key and its own answer, in order. Every operation still runs through the
kernel (LOAD, plan, APPLY), so the money rules, limits and idempotency are those of the
single calls.

- not atomic: each operation runs in a SAVEPOINT; one that is refused is rolled back to
  it (its idempotency claim included) and the others commit;
- atomic: the first refusal (a domain error or a business outcome such as insufficient
  funds) rolls the whole transaction back; the others answer ``BatchNotApplied``.

Set-based (app/ledger/set_batch.py) when the caller gives every operation prepared
(``SetBased``): one LOAD and one APPLY for the whole batch, the same plans in between.
Whatever that path does not cover falls back to the path below, before anything is
written (its transaction rolls back).

A batch first locks the wallets of every player it names, in wallet-id order (the order
single operations lock in too), so batches touching the same players in different orders
queue instead of deadlocking. Should PostgreSQL still abort one (a deadlock or
serialization failure on some other row), it is re-run whole: safe, as its transaction
wrote nothing and every operation carries its idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import DomainError
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import repository, set_batch
from app.ledger.errors import BatchNotApplied
from app.ledger.kernel import Chain, Outcome, Prepared

log = logging.getLogger(__name__)

Call = Callable[[AsyncSession], Awaitable[Outcome]]
Answer = Outcome | DomainError
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure
ATTEMPTS = 5
_Abort = set_batch.Abort


@dataclass(frozen=True)
class SetBased:
    """What the set-based path needs: each call's ``prepare`` (checks the input, raises
    its refusal as a DomainError; a playRound's is a ``Chain``), the caller and the
    settings."""

    settings: Settings
    caller: Principal
    prepares: Sequence[Callable[[], Prepared | Chain]]


async def run_batch(
    db: Database, calls: Sequence[Call], *, atomic: bool, players: Iterable[uuid.UUID] = (),
    set_based: SetBased | None = None,
) -> list[Answer]:  # fmt: skip
    """Every call's answer, in order, after one commit; ``players``: whose wallets the
    calls touch (locked first)."""
    if set_based is not None:
        try:
            return await _retried(lambda: _run_set_based(db, set_based, atomic), len(calls))
        except set_batch.Fallback as why:
            log.debug("walletBatch one by one: %s", why)
    lock_first = sorted(set(players))
    return await _retried(lambda: _run_once(db, calls, atomic, lock_first), len(calls))


async def _retried(run: Callable[[], Awaitable[list[Answer]]], size: int) -> list[Answer]:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await run()
        except _Abort as abort:
            answers: list[Answer] = [BatchNotApplied(abort.index) for _ in range(size)]
            answers[abort.index] = abort.answer
            return answers
        except Exception as exc:
            if attempt == ATTEMPTS or not _retryable(exc):
                raise
            await asyncio.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311  (jitter)
    raise AssertionError("unreachable")


async def _run_set_based(db: Database, s: SetBased, atomic: bool) -> list[Answer]:
    items: list[Prepared | Chain | DomainError] = []
    for prepare in s.prepares:
        try:
            items.append(prepare())
        except DomainError as exc:
            items.append(exc)
    async with db.transaction() as session:
        conn = await repository.driver(session)
        return await set_batch.run(conn, s.settings, s.caller, items, atomic=atomic)


async def _run_once(
    db: Database, calls: Sequence[Call], atomic: bool, players: list[uuid.UUID]
) -> list[Answer]:
    answers: list[Answer] = []
    async with db.transaction() as session:
        if len(players) > 1:
            await repository.lock_players_wallets(await repository.driver(session), players)
        for index, call in enumerate(calls):
            answers.append(await (_atomic_step if atomic else _isolated_step)(session, index, call))
    return answers


async def _atomic_step(session: AsyncSession, index: int, call: Call) -> Answer:
    try:
        outcome = await call(session)
    except DomainError as exc:
        raise _Abort(index, exc) from exc
    if outcome.status != "OK":
        raise _Abort(index, outcome)
    return outcome


async def _isolated_step(session: AsyncSession, index: int, call: Call) -> Answer:
    try:
        async with session.begin_nested():
            return await call(session)
    except DomainError as exc:
        return exc


def _retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure anywhere in the cause chain (asyncpg raises
    it directly on the kernel's statements, SQLAlchemy wraps it on the ORM's)."""
    seen: BaseException | None = exc
    while seen is not None:
        code = getattr(seen, "sqlstate", None) or getattr(
            getattr(seen, "orig", None), "sqlstate", None
        )
        if code in RETRYABLE_SQLSTATES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
