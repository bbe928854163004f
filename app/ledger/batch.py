"""Many money operations in one transaction: ``walletBatch`` and ``playRound``.

One commit (one WAL flush) for up to N operations of one or many players, each with its
own idempotency key and its own answer, in order. Every operation still runs through the
kernel (LOAD, plan, APPLY), so the money rules, limits and idempotency are those of the
single calls.

- not atomic: each operation runs in a SAVEPOINT; one that is refused is rolled back to
  it (its idempotency claim included) and the others commit;
- atomic: the first refusal (a domain error or a business outcome such as insufficient
  funds) rolls the whole transaction back; the others answer ``BatchNotApplied``.

A batch first locks the wallets of every player it names, in wallet-id order (the order
single operations lock in too), so batches touching the same players in different orders
queue instead of deadlocking. Should PostgreSQL still abort one (a deadlock or
serialization failure on some other row), it is re-run whole: safe, as its transaction
wrote nothing and every operation carries its idempotency key.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import DomainError
from app.ledger import repository
from app.ledger.errors import BatchNotApplied
from app.ledger.kernel import Outcome

Call = Callable[[AsyncSession], Awaitable[Outcome]]
Answer = Outcome | DomainError
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure
ATTEMPTS = 5


class _Abort(Exception):
    def __init__(self, index: int, answer: Answer) -> None:
        self.index = index
        self.answer = answer


async def run_batch(
    db: Database, calls: Sequence[Call], *, atomic: bool, players: Iterable[uuid.UUID] = ()
) -> list[Answer]:
    """Every call's answer, in order, after one commit; ``players``: whose wallets the
    calls touch (locked first)."""
    lock_first = sorted(set(players))
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _run_once(db, calls, atomic, lock_first)
        except _Abort as abort:
            answers: list[Answer] = [BatchNotApplied(abort.index) for _ in calls]
            answers[abort.index] = abort.answer
            return answers
        except Exception as exc:
            if attempt == ATTEMPTS or not _retryable(exc):
                raise
            await asyncio.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311  (jitter)
    raise AssertionError("unreachable")


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
