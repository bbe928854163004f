"""The ``player_attributes_changed`` hook: packages that change what is known about a
player (KYC status, profile, VIP level, tags, play-style metrics) announce it here, and
packages that derive something from those attributes (segments) listen.

The announcer does not know its listeners: the composition root registers them
(``pms.hooks.register_all``). Listeners run in the announcer's session, before its
transaction commits, so whatever they write commits or rolls back with the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings


@dataclass(frozen=True)
class AttributesChanged:
    """Player ``player_id``'s ``attributes`` (names as the announcer knows them, e.g.
    ``confirmStatus``, ``vipLevel``, ``tags``) changed in the current transaction."""

    player_id: uuid.UUID
    attributes: frozenset[str]
    settings: Settings


@dataclass(frozen=True)
class PlayersChanged:
    """The same announcement for many players at once (a batch of an import)."""

    player_ids: tuple[uuid.UUID, ...]
    attributes: frozenset[str]
    settings: Settings


class AttributeListener(Protocol):
    async def __call__(self, session: AsyncSession, change: AttributesChanged) -> None: ...


class BulkAttributeListener(Protocol):
    async def __call__(self, session: AsyncSession, change: PlayersChanged) -> None: ...


_listeners: list[AttributeListener] = []
_bulk: dict[AttributeListener, BulkAttributeListener] = {}


def register_listener(
    listener: AttributeListener, bulk: BulkAttributeListener | None = None
) -> None:
    """Add ``listener`` (idempotent: registering the same one twice keeps one); ``bulk``
    is its set-based form for many players (without one, it is called per player)."""
    if listener not in _listeners:
        _listeners.append(listener)
    if bulk is not None:
        _bulk[listener] = bulk


def unregister_listener(listener: AttributeListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)
    _bulk.pop(listener, None)


def listeners() -> tuple[AttributeListener, ...]:
    return tuple(_listeners)


async def player_attributes_changed(
    session: AsyncSession,
    player_id: uuid.UUID,
    attributes: Iterable[str],
    settings: Settings,
) -> None:
    """Announce a change; every listener runs, in registration order, in ``session``."""
    change = AttributesChanged(player_id, frozenset(attributes), settings)
    for listener in tuple(_listeners):
        await listener(session, change)


async def players_attributes_changed(
    session: AsyncSession,
    player_ids: Sequence[uuid.UUID],
    attributes: Iterable[str],
    settings: Settings,
) -> None:
    """``player_attributes_changed`` for many players: each listener once, in its bulk
    form where it has one."""
    if not player_ids:
        return
    names = frozenset(attributes)
    for listener in tuple(_listeners):
        bulk = _bulk.get(listener)
        if bulk is not None:
            await bulk(session, PlayersChanged(tuple(player_ids), names, settings))
            continue
        for player_id in player_ids:
            await listener(session, AttributesChanged(player_id, names, settings))
