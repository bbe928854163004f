"""Wiring of every hook implementation into its owner's registry (the composition root).

``register_all()`` is idempotent; the ASGI app factory, the CLI and tests/conftest.py call
it. Each hook owner has its own small ``register_*()`` here.
"""

from __future__ import annotations

from app.bonuses.extension import BonusExtension
from app.ledger import hooks as ledger_hooks


def register_ledger_extensions() -> None:
    """The ledger's extensions, in the order the kernel calls them: bonuses (wagering, max
    bet, loyalty, deposit and tier triggers) first."""
    ledger_hooks.register(BonusExtension())


def register_all() -> None:
    register_ledger_extensions()
