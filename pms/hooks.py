"""Hook registrations: every hook implementation is wired into its owner's registry here,
the one place that knows both sides. ``register_all`` is idempotent; the ASGI app
factory, the CLI and the test suite call it at start-up."""

from __future__ import annotations


def register_attribute_listeners() -> None:
    """``player_attributes_changed`` (app/players/hooks.py) -> segment membership."""
    from app.players import hooks
    from app.segments.service import on_player_attributes_changed

    hooks.register_listener(on_player_attributes_changed)


def register_all() -> None:
    register_attribute_listeners()
