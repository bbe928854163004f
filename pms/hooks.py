"""Wiring every hook implementation into its owner's registry, once per process.

Lower packages never import higher ones; where one must call up (the events runtime
keeping the players' cache fresh, ...), the higher package's piece is registered here.
The ASGI app factory, the CLI and the tests call ``register_all``; it is idempotent.
"""

from __future__ import annotations

from app.events.runtime import register_subject_cache
from app.players.cache import from_settings as player_cache


def register_events() -> None:
    """The events runtime keeps the players' profile cache fresh after every commit."""
    register_subject_cache(player_cache)


def register_all() -> None:
    register_events()
