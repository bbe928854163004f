"""Live updates: balances and verification status of one player, and the back-office
feed of every domain event. Fed by the process's EventHub, i.e. only with committed
events relayed from the outbox. Every envelope is projected through the caller's
permissions (permissions/payloads.py) before it becomes a payload."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry
from graphql import GraphQLError

from app.events import websocket as ws
from app.events.hub import SlowConsumer
from permissions.payloads import Projection
from permissions.realtime import may_watch_balance, may_watch_feed, may_watch_verification
from resolvers.subscriptions.shared import Build, SharedDelivery
from schema.context import Info
from schema.ids import try_uuid
from schema.types.events import (
    BalanceChange,
    DomainEvent,
    PlayerEventFilter,
    VerificationStatusChange,
)

BALANCE_CHANGED = "wallet.balance_changed"
KYC_STATUS_CHANGED = "kyc.status_changed"
MAX_FILTER_TYPES = 50


def forbidden() -> GraphQLError:
    return GraphQLError("Forbidden", extensions={"code": "FORBIDDEN"})


def _player_id(raw: strawberry.ID) -> str:
    player_id = try_uuid(raw)
    if player_id is None:
        raise GraphQLError("invalid player id", extensions={"code": "BAD_INPUT"})
    return str(player_id)


async def _events(
    info: Info, subject: str | None, types: frozenset[str] | None, build: Build | None = None
) -> AsyncIterator[Any]:
    """The events the caller may watch, each projected through the caller's permissions
    and made the field's object by ``build``; what the shared delivery sent itself is not
    yielded. Without ``build`` (a payload that is not a function of the event alone, e.g.
    read from the database) the projected envelopes, never shared."""
    hub = info.context.events.hub if info.context.events is not None else None
    if hub is None:
        raise GraphQLError("live updates are not available", extensions={"code": "UNAVAILABLE"})
    socket = info.context.request

    def on_overflow() -> None:
        # The client fell too far behind: close it (it reconnects and re-reads state);
        # the hub has already dropped it, so no one else waits for it.
        if hasattr(socket, "application_state"):
            asyncio.get_running_loop().create_task(
                ws.close_websocket(socket, ws.CLOSE_SLOW_CONSUMER, "slow consumer")
            )

    projection = Projection(info.context.principal)
    shared = SharedDelivery.of(info, build, projection)
    sink = shared if shared is not None and shared.direct is not None else None
    async with hub.subscribe(subject, types, on_overflow, sink) as sub:
        while True:
            try:
                envelope = await sub.get()
            except SlowConsumer:
                return
            try:
                if shared is not None and await shared.deliver(envelope):
                    continue
                projected = projection.project(envelope)
                yield build(projected) if build is not None else projected
            finally:
                sub.done()


@strawberry.type
class PlayerSubscriptions:
    @strawberry.subscription(description="Every committed balance change of the player.")
    async def balance_changed(
        self, info: Info, player_id: strawberry.ID
    ) -> AsyncGenerator[BalanceChange, None]:
        pid = _player_id(player_id)
        if not may_watch_balance(info.context.principal, pid):
            raise forbidden()
        async for change in _events(
            info, pid, frozenset({BALANCE_CHANGED}), BalanceChange.from_event
        ):
            yield change

    @strawberry.subscription(description="The player's confirmStatus and risk level changes.")
    async def verification_status_changed(
        self, info: Info, player_id: strawberry.ID
    ) -> AsyncGenerator[VerificationStatusChange, None]:
        pid = _player_id(player_id)
        if not may_watch_verification(info.context.principal, pid):
            raise forbidden()
        async for change in _events(
            info, pid, frozenset({KYC_STATUS_CHANGED}), VerificationStatusChange.from_event
        ):
            yield change

    @strawberry.subscription(description="Back office: the live feed of domain events.")
    async def player_events(
        self, info: Info, filter: PlayerEventFilter | None = None
    ) -> AsyncGenerator[DomainEvent, None]:
        if not may_watch_feed(info.context.principal):
            raise forbidden()
        flt = filter or PlayerEventFilter()
        if flt.types is not None and not 0 < len(flt.types) <= MAX_FILTER_TYPES:
            raise GraphQLError(
                f"give 1 to {MAX_FILTER_TYPES} types", extensions={"code": "BAD_INPUT"}
            )
        subject = _player_id(flt.player_id) if flt.player_id is not None else None
        types = frozenset(flt.types) if flt.types is not None else None
        async for event in _events(info, subject, types, DomainEvent.from_event):
            yield event
