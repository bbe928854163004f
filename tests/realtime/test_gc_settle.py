"""The full GC pass after a wave of connections (app/events/gc_settle.py): due only once
the subscriptions stood still and grew by a tenth since the last full collection,
whoever ran that one."""

from __future__ import annotations

import gc

from app.events.gc_settle import MINIMUM, GcSettle


class Count:
    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> int:
        return self.value


def test_due_only_after_the_count_stood_still_and_grew_enough():
    count = Count()
    settle = GcSettle(count, quiet_seconds=2.0)
    count.value = MINIMUM * 4
    assert not settle.due(0.0)  # it just changed: connections still arriving
    assert not settle.due(1.9)
    assert settle.due(2.0)
    count.value += 1
    assert not settle.due(2.5)  # moved again: wait another quiet span
    assert settle.due(4.5)


def test_a_small_wave_is_left_to_cpython():
    count = Count()
    settle = GcSettle(count, quiet_seconds=0.0)
    count.value = MINIMUM - 1
    settle.due(0.0)
    assert not settle.due(1.0)


async def test_any_full_collection_moves_the_baseline():
    count = Count()
    settle = GcSettle(count, quiet_seconds=0.0)
    settle.install()
    try:
        count.value = 10_000
        settle.due(0.0)
        assert settle.due(1.0)
        gc.collect()  # CPython's (or anyone's) full pass counts as well
        assert not settle.due(2.0)
        count.value = 10_900  # +9 %: under a tenth
        settle.due(3.0)
        assert not settle.due(4.0)
        count.value = 11_000  # +10 %
        settle.due(5.0)
        assert settle.due(6.0)
        await settle.run()
        assert settle.collections == 1
        assert not settle.due(7.0)  # its own pass moved the baseline too
    finally:
        settle.uninstall()
    assert settle._observed not in gc.callbacks


def test_leaving_subscribers_lower_the_baseline():
    count = Count()
    settle = GcSettle(count, quiet_seconds=0.0)
    settle.install()
    try:
        count.value = 10_000
        gc.collect()
        count.value = 2_000  # most left: the next wave is measured from here
        settle.due(0.0)
        count.value = 4_000
        settle.due(1.0)
        assert settle.due(2.0)
    finally:
        settle.uninstall()
