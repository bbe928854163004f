"""THE mutation runner: every mutation declares itself once (``MutationSpec``: its result
union's name, its success types and the domain errors it can return) and runs its one
service call through ``run``: one transaction, the DomainError mapped to its GraphQL type
(schema/error_registry.py), and the refusal audited where the spec asks for it. A domain
error the spec does not declare is a bug, not an answer: it is re-raised (and masked).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, Union

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core import counters, metrics
from app.core.db import DriverTransaction
from app.core.errors import DomainError
from app.ledger.coalesce import Prepare, Single
from app.ledger.kernel import Outcome
from app.responsible.errors import GamblingRestricted
from permissions.errors import Forbidden
from permissions.rules import actor_of
from schema.context import Info
from schema.error_registry import graphql_type_of, to_graphql

T = TypeVar("T")
U = TypeVar("U")  # the unit of work a call runs in (a session or a driver transaction)

# Unions by name: mutations that answer alike (refreshTokens and verifyMfa) share one type.
_UNIONS: dict[str, tuple[tuple[type, ...], Any]] = {}


def _code_only(exc: DomainError) -> dict[str, Any]:
    return {"code": exc.code}


@dataclass(frozen=True)
class MutationSpec:
    """One declaration per mutation; ``union`` is its result type."""

    name: str
    success: tuple[type, ...]
    errors: tuple[type[DomainError], ...]
    # The action of the audit row written when the service refuses ("{field}" is the
    # mutation's name); None where permissions/rules.py audits the outcome already.
    failure_audit: str | None = None
    audit_details: Callable[[DomainError], dict[str, Any] | None] = _code_only
    # Refusals are FAILURE unless this says otherwise (a throttle is DENIED).
    audit_outcome: Callable[[DomainError], str] = lambda _exc: audit.FAILURE
    # Whose row it is: None (anonymous sign-in steps) or the caller (factor changes).
    audit_caller: bool = False
    forbidden: bool = True
    # A gambling operation: refused up front when the caller's token carries a gambling
    # restriction (a break, a self-exclusion), whatever the rest of its checks say.
    gambling: bool = False
    union: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.gambling and GamblingRestricted not in self.errors:
            object.__setattr__(self, "errors", (*self.errors, GamblingRestricted))
        members: list[type] = list(self.success)
        for error in self.errors:
            graphql_type = graphql_type_of(error)
            if graphql_type not in members:
                members.append(graphql_type)
        if self.forbidden and Forbidden not in members:
            members.append(Forbidden)
        known = _UNIONS.get(self.name)
        if known is not None:
            if known[0] != tuple(members):
                raise TypeError(f"union {self.name} declared twice with different members")
            object.__setattr__(self, "union", known[1])
            return
        union: Any = Union.__getitem__(tuple(members))  # built from a runtime tuple
        annotated = Annotated[union, strawberry.union(self.name)]
        _UNIONS[self.name] = (tuple(members), annotated)
        object.__setattr__(self, "union", annotated)

    def answer(self, exc: DomainError) -> Any:
        """The union member answering ``exc``; an undeclared error is re-raised."""
        if not isinstance(exc, self.errors):
            raise exc
        return to_graphql(exc)


async def run(
    info: Info,
    spec: MutationSpec,
    call: Callable[[AsyncSession], Awaitable[T]],
    present: Callable[[T], Any],
) -> Any:
    """``call`` in one transaction; its value shown by ``present`` after the commit."""
    return await _run(info, spec, info.context.db.transaction, call, present)


async def run_on_driver(
    info: Info,
    spec: MutationSpec,
    call: Callable[[DriverTransaction], Awaitable[T]],
    present: Callable[[T], Any],
) -> Any:
    """``run`` for the money mutations: the transaction on a pooled driver connection
    (``Database.driver_transaction``), as the ledger kernel needs no ORM session."""
    return await _run(info, spec, info.context.db.driver_transaction, call, present)


async def run_coalesced(
    info: Info,
    spec: MutationSpec,
    call: Single,
    prepare: Prepare,
    check: Callable[[], None] | None,
    present: Callable[[Outcome], Any],
) -> Any:
    """``run_on_driver`` for the bet operations, through the process's group commit
    (app/ledger/coalesce.py): ``call`` alone, or ``prepare`` in a set-based batch with
    concurrent ones; the same answer either way. ``check`` (input the service does not
    see) is refused before anything runs."""
    ctx = info.context
    try:
        gate(info, spec)
        if check is not None:
            check()
        value = await ctx.coalescer.run(ctx.settings, ctx.principal, prepare, call)
    except DomainError as exc:
        return await _refused(info, spec, exc)
    count_outcome(info.field_name, None)
    return present(value)


async def _run(
    info: Info,
    spec: MutationSpec,
    transaction: Callable[[], AbstractAsyncContextManager[U]],
    call: Callable[[U], Awaitable[T]],
    present: Callable[[T], Any],
) -> Any:
    try:
        gate(info, spec)
        async with transaction() as unit:
            value = await call(unit)
    except DomainError as exc:
        return await _refused(info, spec, exc)
    count_outcome(info.field_name, None)
    return present(value)


async def run_unmanaged(
    info: Info,
    spec: MutationSpec,
    call: Callable[[], Awaitable[T]],
    present: Callable[[T], Any],
) -> Any:
    """For the few services that own their transactions (a provider call between two)."""
    try:
        gate(info, spec)
        value = await call()
    except DomainError as exc:
        return await _refused(info, spec, exc)
    count_outcome(info.field_name, None)
    return present(value)


def gate(info: Info, spec: MutationSpec) -> None:
    """The restriction the access token carries (``rg``, minted at sign-in): checked
    before anything is read, so a restricted session costs the database nothing."""
    claims = info.context.claims
    if spec.gambling and claims is not None and claims.restriction:
        raise GamblingRestricted(claims.restriction)


def count_outcome(operation: str, code: str | None, count: int = 1) -> None:
    """Prometheus, and the alert rules' counters (``mutation.<name>[.error]``), per
    mutation or per operation of a batch (``count``: a batch's answers of one kind at once)."""
    metrics.child(metrics.MUTATION_RESULTS, operation, code or "success").inc(count)
    counters.bump(f"mutation.{operation}", count)
    if code is not None:
        counters.bump(f"mutation.{operation}.error", count)


async def _refused(info: Info, spec: MutationSpec, exc: DomainError) -> Any:
    return await refused(info, spec, exc, info.field_name)


async def refused(info: Info, spec: MutationSpec, exc: DomainError, operation: str) -> Any:
    """The union member answering ``exc`` for ``operation`` (a mutation, or one operation
    of a batch), counted and, where the spec asks, audited."""
    answer = spec.answer(exc)
    count_outcome(operation, exc.code)
    if spec.failure_audit is not None:
        # Rolled back, so no audit row of the call itself exists: record the refusal.
        action = spec.failure_audit.format(field=operation, python_name=info.python_name)
        subject = info.context.principal.key if spec.audit_caller else None
        await audit.record_now(
            info.context.db, actor_of(info), action, subject, spec.audit_outcome(exc),
            spec.audit_details(exc),
        )  # fmt: skip
    return answer
