"""Hook wiring: every hook implementation registered into its owner's registry (ledger
extensions, ``player_attributes_changed`` listeners, the events runtime's subject cache).
Only the composition root knows both sides, so a domain never imports the domain that
extends it, and a lower package never imports a higher one."""

from __future__ import annotations

from app.bonuses.extension import BonusExtension
from app.events.runtime import register_subject_cache
from app.ledger import hooks as ledger_hooks
from app.ledger import observers as ledger_observers
from app.observability.ledger import record_operation
from app.players import hooks as player_hooks
from app.players.cache import from_settings as player_cache
from app.segments.service import on_player_attributes_changed

_registered = False


def register_attribute_listeners() -> None:
    """``player_attributes_changed`` (kyc, profiles, playstyle announce it) -> segment
    membership, re-evaluated in the announcer's transaction. Idempotent."""
    player_hooks.register_listener(on_player_attributes_changed)


def register_ledger_extensions() -> None:
    """The ledger's extensions, in the order the kernel calls them inside every money
    operation: bonuses (wagering, max bet, loyalty, deposit and tier triggers) first.
    Idempotent (the ledger's registry keeps one extension per name)."""
    ledger_hooks.register(BonusExtension())


def register_events() -> None:
    """The events runtime keeps the players' profile cache fresh after every commit."""
    register_subject_cache(player_cache)


def register_observability() -> None:
    """Every money operation's kind, outcome and latency -> the Prometheus metrics."""
    ledger_observers.register(record_operation)


def register_all() -> None:
    """Wire every hook. The ASGI app factory, the CLI and the tests call it, often more than
    once in one process: a second call is a no-op, because a hook registered twice would
    run twice inside every transaction that fires it.

    Each domain adds one ``register_<domain>()`` function below and one call here.
    """
    global _registered
    if _registered:
        return
    _registered = True
    register_attribute_listeners()
    register_ledger_extensions()
    register_events()
    register_observability()


def registered() -> bool:
    """Whether ``register_all`` has run in this process."""
    return _registered
