"""Play-style metrics from bet and payment events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.errors import ValidationFailed
from app.playstyle import service
from app.playstyle.models import PlayerMetrics
from tests.factories import create_player

PLAY_STYLE = """
query($id: ID!) { player(id: $id) { playStyle {
  betCount sessionCount averageBet { amount currency } medianBet { amount }
  favouriteGames favouriteCategories preferredHourUtc preferredTimeOfDay
  netDeposits { amount } ggr { amount } } } }
"""


async def bet(target, player, stake, at, game="starburst", category="slots"):
    await service.record_bet(target, player.id, game_id=game, provider="netent",
                             category=category, stake_minor=stake, currency="EUR",
                             placed_at=at)  # fmt: skip


async def test_metrics_from_bets_wins_and_payments(gql, db, settings, auth):
    player = await create_player(db, settings)
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    async with db.transaction() as s:
        for i, stake in enumerate([100, 100, 200, 400, 10_000]):
            await bet(s, player, stake, start + timedelta(minutes=i))
        await bet(s, player, 100, start + timedelta(hours=5), game="roulette", category="table")
        await service.record_win(s, player.id, 500, "EUR", start)
        await service.record_deposit(s, player.id, 20_000, "EUR", start)
        await service.record_withdrawal(s, player.id, 5_000, "EUR", start)

    marketer = await auth.staff_headers("MARKETER")  # play style is marketing data, no PII
    body = await gql(PLAY_STYLE, {"id": str(player.id)}, **marketer)
    style = body["data"]["player"]["playStyle"]

    assert style["betCount"] == 6
    assert style["sessionCount"] == 2  # 5 hours apart
    assert style["averageBet"] == {"amount": "18.16", "currency": "EUR"}
    median = float(style["medianBet"]["amount"])
    assert 1.0 * 0.9 <= median <= 2.0 * 1.1  # true median 1.50, histogram within ~9%
    assert style["favouriteGames"] == ["starburst", "roulette"]
    assert style["favouriteCategories"] == ["slots", "table"]
    assert (style["preferredHourUtc"], style["preferredTimeOfDay"]) == (20, "EVENING")
    assert style["netDeposits"]["amount"] == "150.00"
    assert style["ggr"]["amount"] == "104.00"


async def test_bad_amounts_and_currency_mismatch_are_refused(session, settings):
    player = await create_player(session, settings)
    now = datetime.now(UTC)
    await service.record_deposit(session, player.id, 100, "EUR", now)

    with pytest.raises(ValidationFailed):
        await service.record_deposit(session, player.id, -5, "EUR", now)
    with pytest.raises(ValidationFailed):
        await service.record_deposit(session, player.id, 100, "USD", now)
    with pytest.raises(ValidationFailed):
        await service.record_deposit(session, player.id, 100, "EUR", now.replace(tzinfo=None))
    row = await session.get(PlayerMetrics, player.id)
    assert (row.deposit_count, row.deposit_total) == (1, 100)


def test_median_from_histogram_is_close():
    hist = [0] * 128
    for stake in [150] * 50 + [10_000] * 49:
        hist[service.stake_bucket(stake)] += 1
    assert abs(service.median_from_histogram(hist) - 150) / 150 < 0.1


async def test_session_gap_and_top_keys_limits(session, settings):
    # Bound parameters now carry these limits; check they still apply.
    from app.playstyle.repository import SESSION_GAP_SECONDS, TOP_KEYS

    player = await create_player(session, settings)
    start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    gap = timedelta(seconds=SESSION_GAP_SECONDS)
    await bet(session, player, 100, start, game="g0")
    await bet(session, player, 100, start + gap - timedelta(seconds=1), game="g0")  # same
    await bet(session, player, 100, start + 2 * gap + timedelta(seconds=1), game="g0")  # new
    for i in range(1, TOP_KEYS + 1):  # g1..g50: the 50th distinct key is one too many
        await bet(session, player, 100, start + 3 * gap, game=f"g{i}")

    row = await session.get(PlayerMetrics, player.id, populate_existing=True)
    assert row.session_count == 2
    assert len(row.game_counts) == TOP_KEYS
    assert row.game_counts["g0"] == 3
    assert f"g{TOP_KEYS}" not in row.game_counts
    assert len(row.hour_histogram) == 24 and len(row.stake_histogram) == 128
    assert (row.hour_histogram[10], row.hour_histogram[11]) == (2, TOP_KEYS + 1)
