"""Random sequences of bets, wins, voids, refunds, deposits and limit changes: no limit
in force is ever passed, and the stored counters match a model computed from the
accepted operations alone (real money only: the player holds no bonus money here)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.responsible.errors import LimitExceeded
from tests.integration.responsible.conftest import Money

_ids = itertools.count(1)

cents = st.integers(min_value=1, max_value=3000)
KINDS = ("DEPOSIT", "WAGER", "LOSS")

steps = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), cents),
        st.tuples(st.just("bet"), cents),
        st.tuples(st.just("settle"), st.integers(min_value=0, max_value=6000)),
        st.tuples(st.just("cancel"), st.none()),
        st.tuples(st.just("refund"), st.none()),
        st.tuples(st.sampled_from(KINDS), st.integers(min_value=100, max_value=8000)),
    ),
    min_size=1,
    max_size=14,
)


def text(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class Model:
    """What the counters must be: each limit counts only what was accepted while it was
    in force (a limit set later starts from zero; raises wait, so only lowers apply)."""

    def __init__(self) -> None:
        self.limits: dict[str, int] = {}
        self.used: dict[str, int] = {}

    def allows(self, kind: str, amount: int) -> bool:
        return kind not in self.limits or self.used[kind] + amount <= self.limits[kind]

    def count(self, kind: str, amount: int) -> None:
        if kind in self.limits:
            self.used[kind] = self.used[kind] + amount
            if kind != "LOSS":
                self.used[kind] = max(self.used[kind], 0)

    def set(self, kind: str, amount: int) -> None:
        if kind not in self.limits:
            self.limits[kind], self.used[kind] = amount, 0
        elif amount <= self.limits[kind]:
            self.limits[kind] = amount  # a raise is only pending: nothing changes yet


async def _try(call: Any) -> dict[str, Any] | None:
    try:
        return await call
    except LimitExceeded:
        return None


@pytest.mark.race
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=steps)
async def test_random_sequences_never_pass_a_limit_in_force(money, sequence):
    m: Money = await money(deposit="200.00")
    model = Model()
    pending: list[tuple[str, str, int]] = []  # (round n, reservation id, stake)
    # (round n, stake, win, whether its settlement was counted: a limit existed then)
    settled: list[tuple[str, int, int, bool]] = []
    for name, arg in sequence:
        n = str(next(_ids))
        if name in KINDS:
            await m.set_limit(name, "DAY", text(arg))  # one period per kind: no order rule
            model.set(name, arg)
        elif name == "deposit":
            expected = model.allows("DEPOSIT", arg)
            done = await _try(m.deposit(text(arg)))
            assert (done is not None) == expected
            if done:
                model.count("DEPOSIT", arg)
        elif name == "bet":
            expected = model.allows("WAGER", arg) and model.allows("LOSS", arg)
            body = await _try(m.bet(text(arg), n))
            # Limits are checked before funds: a refusal for funds means the limits allowed.
            assert (body is not None) == expected
            if body is not None and body["status"] == "OK":
                model.count("WAGER", arg)
                model.count("LOSS", arg)
                pending.append((n, body["reservationId"], arg))
        elif name == "settle" and pending:
            rn, _, stake = pending.pop(0)
            await m.settle(rn, text(arg) if arg else "0.00")
            model.count("LOSS", -arg)
            settled.append((rn, stake, arg, bool(model.limits)))
        elif name == "cancel" and pending:
            _, rid, stake = pending.pop()
            await m.cancel(rid)
            model.count("WAGER", -stake)
            model.count("LOSS", -stake)
        elif name == "refund" and settled:
            rn, stake, win, counted = settled.pop()
            body = await m.refund_round(rn)
            if body["status"] == "OK" and counted:
                model.count("WAGER", -stake)
                model.count("LOSS", -(stake - win))
        # Every acceptance above was checked against the model's limits in force; the
        # stored counters must be the model's exactly.
        for kind in model.limits:
            assert await m.used(kind) == model.used[kind], (kind, sequence)
