"""The signal arithmetic, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.settings import Settings
from app.fraud.errors import InvalidFraudRule
from app.fraud.models import Signal
from app.fraud.repository import Baseline
from app.fraud.service import RuleInput, _check_rule
from app.fraud.signals import bonus_abuse, identifier_hash, on_bet

SETTINGS = Settings(_env_file=None)
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _play(b: Baseline, minutes: int, per_minute: int, stake: int = 100) -> list:
    out = []
    for m in range(minutes):
        for i in range(per_minute):
            out += on_bet(b, T0 + timedelta(minutes=m, seconds=i), stake, 0, SETTINGS)
    return out


def test_a_steady_player_never_reports_a_bet_rate():
    b = Baseline()
    observations = _play(b, 30, 4)
    assert [o for o in observations if o.signal is Signal.BET_RATE] == []
    assert b.rate_ewma == pytest.approx(4.0)


def test_a_burst_is_measured_against_the_players_own_baseline():
    b = Baseline()
    _play(b, 10, 2)  # a slow player: baseline ~2 bets a minute
    burst = [o for o in on_bet_many(b, 40) if o.signal is Signal.BET_RATE]
    assert burst[-1].value == pytest.approx(40 / b.rate_ewma, rel=1e-3)
    assert burst[-1].evidence["betsThisMinute"] == 40


def on_bet_many(b: Baseline, n: int) -> list:
    at = T0 + timedelta(hours=1)
    out = []
    for i in range(n):
        out += on_bet(b, at + timedelta(seconds=i), 100, 0, SETTINGS)
    return out


def test_a_new_player_starts_from_the_prior_not_from_themselves():
    b = Baseline()
    burst = [o for o in on_bet_many(b, 40) if o.signal is Signal.BET_RATE]
    assert burst[-1].value == 40 / SETTINGS.fraud_bet_rate_prior_per_minute


def test_a_stake_jump_needs_history_and_compares_to_the_usual_stake():
    b = Baseline()
    assert [o for o in _play(b, 1, 4, 100) if o.signal is Signal.STAKE_JUMP] == []
    _play(b, 1, 4, 100)
    jump = [o for o in on_bet(b, T0 + timedelta(hours=2), 5000, 0, SETTINGS)
            if o.signal is Signal.STAKE_JUMP]  # fmt: skip
    assert jump[0].value == pytest.approx(50.0)


def test_win_rate_is_reported_against_the_expected_rtp_after_enough_rounds():
    b = Baseline()
    out = []
    for i in range(60):
        out += on_bet(b, T0 + timedelta(minutes=i), 100, 300, SETTINGS)
    rates = [o for o in out if o.signal is Signal.WIN_RATE]
    assert len(rates) == 60 - SETTINGS.fraud_win_rate_min_rounds + 1
    assert rates[-1].value == pytest.approx(3.0 / SETTINGS.fraud_expected_rtp, rel=1e-3)


@pytest.mark.parametrize(("wagered", "value"), [(0, 1.0), (500, 0.95), (10_000, 0.0),
                                                (50_000, 0.0)])  # fmt: skip
def test_bonus_abuse_is_the_share_of_deposit_and_bonus_not_wagered(wagered, value):
    assert bonus_abuse(5000, 5000, wagered, 4000).value == pytest.approx(value)


def test_identifiers_are_hashed_per_kind_and_normalised():
    assert identifier_hash("device", " ABC ") == identifier_hash("device", "abc")
    assert identifier_hash("device", "abc") != identifier_hash("ip", "abc")
    assert len(identifier_hash("ip", "10.0.0.1")) == 64


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (RuleInput("k", "nope", 1.0, 10, "FLAG"), "signal"),
        (RuleInput("k", "bet_rate", 1.0, 10, "NUKE"), "action"),
        (RuleInput("k", "bet_rate", float("nan"), 10, "FLAG"), "threshold"),
        (RuleInput("k", "bet_rate", float("inf"), 10, "FLAG"), "threshold"),
        (RuleInput("k" * 65, "bet_rate", 1.0, 10, "FLAG"), "key"),
        (RuleInput("k", "bet_rate", 1.0, 10, "FLAG", description="d" * 501), "description"),
    ],
)
def test_rule_validation_names_the_bad_field(rule, field):
    with pytest.raises(InvalidFraudRule) as caught:
        _check_rule(rule)
    assert caught.value.field == field


def _burst(b: Baseline, start: datetime, n: int, every: timedelta) -> list:
    return [o for i in range(n)
            for o in on_bet(b, start + every * i, 100, 0, SETTINGS)
            if o.signal is Signal.BET_RATE]  # fmt: skip


def test_a_burst_across_a_minute_boundary_is_one_burst():
    """36 bets in 52.5 s, from 12:00:33 to 12:01:25.5: 18 in each calendar minute, under
    the default rule's 5x the prior (20 a minute) in either, yet 28 in the last 60 s."""
    b = Baseline()
    seen = _burst(b, T0 + timedelta(seconds=33), 36, timedelta(seconds=1.5))
    first_minute = [o for o in seen if o.evidence["minute"] == T0.isoformat()]
    assert max(o.value for o in first_minute) == 18 / 4  # the old signal's best: 4.5x
    last = seen[-1]
    assert last.evidence["betsThisMinute"] == 18
    # 18 this minute + 18 of the previous one x (60 - 25.5) / 60 still inside the window
    assert last.evidence["betsLast60s"] == pytest.approx(18 + 18 * 34.5 / 60, abs=0.05)
    assert last.value == pytest.approx((18 + 18 * 34.5 / 60) / 4, abs=0.01)
    assert last.value > 5.0


def test_the_previous_minute_counts_only_when_it_is_just_before():
    from app.fraud.signals import _last_60_seconds

    b = Baseline()
    _burst(b, T0 + timedelta(seconds=45), 15, timedelta(seconds=1))  # 12:00:45-12:00:59
    _burst(b, T0 + timedelta(minutes=2, seconds=1), 1, timedelta(seconds=1))  # a gap
    assert (b.previous_minute_count, b.minute_count) == (0, 1)
    _burst(b, T0 + timedelta(minutes=2, seconds=2), 14, timedelta(seconds=1))
    _burst(b, T0 + timedelta(minutes=3, seconds=30), 1, timedelta(seconds=1))  # just after
    assert (b.previous_minute_count, b.minute_count) == (15, 1)
    assert _last_60_seconds(b, timedelta(seconds=30)) == 1 + 15 * 0.5
