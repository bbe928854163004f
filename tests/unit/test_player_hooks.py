"""The player_attributes_changed registry: order, idempotent registration, the payload."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.settings import Settings
from app.players import hooks
from pms.hooks import register_all, register_attribute_listeners


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Run with an empty registry and put the real listeners back afterwards."""
    saved = hooks.listeners()
    for listener in saved:
        hooks.unregister_listener(listener)
    try:
        yield
    finally:
        for listener in hooks.listeners():
            hooks.unregister_listener(listener)
        for listener in saved:
            hooks.register_listener(listener)


async def test_listeners_run_in_order_with_the_change(clean_registry: None) -> None:
    calls: list[tuple[str, Any, hooks.AttributesChanged]] = []
    session: Any = object()  # the registry only hands the session on
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    async def first(s: Any, change: hooks.AttributesChanged) -> None:
        calls.append(("first", s, change))

    async def second(s: Any, change: hooks.AttributesChanged) -> None:
        calls.append(("second", s, change))

    hooks.register_listener(first)
    hooks.register_listener(second)
    hooks.register_listener(first)  # again: still once
    player_id = uuid.uuid4()
    await hooks.player_attributes_changed(session, player_id, ["tags", "vipLevel"], settings)

    expected = hooks.AttributesChanged(player_id, frozenset({"tags", "vipLevel"}), settings)
    assert calls == [("first", session, expected), ("second", session, expected)]

    hooks.unregister_listener(first)
    calls.clear()
    await hooks.player_attributes_changed(session, player_id, ("tags",), settings)
    assert [name for name, _, _ in calls] == ["second"]


def test_the_root_wires_segments_once(clean_registry: None) -> None:
    from app.segments.service import on_player_attributes_changed

    register_attribute_listeners()
    register_attribute_listeners()
    assert hooks.listeners() == (on_player_attributes_changed,)
    register_all()  # already ran at session start: adds nothing
    assert hooks.listeners() == (on_player_attributes_changed,)


def test_the_session_is_wired() -> None:
    from app.segments.service import on_player_attributes_changed

    assert on_player_attributes_changed in hooks.listeners()
