"""Limits enforced inside the money path: deposit, wager and loss limits refuse with a
typed LimitExceeded and write nothing; wins, voids and refunds move the loss counter."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from app.responsible.errors import LimitExceeded
from tests.integration.wallets.conftest import new_key, scalar, wallets_of


async def test_a_deposit_over_the_deposit_limit_is_refused_and_writes_nothing(money, db):
    m = await money(deposit=None)
    await m.set_limit("DEPOSIT", "DAY", "30.00")
    assert (await m.deposit("20.00"))["status"] == "OK"
    before = await wallets_of(db, str(m.player))
    key = new_key()

    with pytest.raises(LimitExceeded) as refused:
        await m.deposit("10.01", key)

    assert (refused.value.kind, refused.value.period) == ("DEPOSIT", "DAY")
    assert (refused.value.limit, refused.value.remaining) == (3000, 1000)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert refused.value.resets_at == datetime.combine(tomorrow, time(0), tzinfo=UTC)
    assert await wallets_of(db, str(m.player)) == before
    assert await m.used("DEPOSIT") == 2000
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys WHERE key = :k", k=key) == 0
    assert (await m.deposit("10.00"))["status"] == "OK"  # exactly up to the limit
    assert await m.used("DEPOSIT") == 3000
    reached = await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'limit.reached'")
    assert reached == 1


async def test_a_bet_over_the_wager_limit_is_refused(money, db):
    m = await money()
    await m.set_limit("WAGER", "DAY", "5.00")
    assert (await m.bet("3.00", "1"))["status"] == "OK"
    with pytest.raises(LimitExceeded) as refused:
        await m.bet("2.01", "2")
    assert refused.value.remaining == 200
    assert (await wallets_of(db, str(m.player)))["REAL"]["held"] == 300
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == 1


async def test_wins_voids_and_refunds_move_the_loss_counter(money):
    m = await money()
    await m.set_limit("LOSS", "DAY", "10.00")
    await m.bet("4.00", "1")
    assert await m.used("LOSS") == 400
    await m.settle("1", "1.50")
    assert await m.used("LOSS") == 250  # stake 4.00 minus win 1.50
    held = await m.bet("3.00", "2")
    assert await m.used("LOSS") == 550
    await m.cancel(held["reservationId"])
    assert await m.used("LOSS") == 250  # a voided bet gives its stake back
    await m.refund_round("1")
    assert await m.used("LOSS") == 0  # a refunded round gives back its loss
    await m.bet("9.00", "3")
    await m.settle("3", "20.00")
    assert await m.used("LOSS") == -1100  # winnings leave room
    assert (await m.bet("20.00", "4"))["status"] == "OK"
    with pytest.raises(LimitExceeded):
        await m.bet("1.01", "5")


async def test_an_expired_hold_gives_its_stake_back_like_a_voided_bet(money, db, settings):
    from sqlalchemy import text as sql

    from app.ledger import tasks

    m = await money()
    await m.set_limit("WAGER", "DAY", "5.00")
    await m.set_limit("LOSS", "DAY", "5.00")
    held = await m.bet("5.00", "1")
    with pytest.raises(LimitExceeded):
        await m.bet("0.01", "2")
    async with db.transaction() as s:
        await s.execute(sql("UPDATE ledger_holds SET expires_at = now() - interval '1 second' "
                            "WHERE id = :id"), {"id": int(held["reservationId"])})  # fmt: skip

    assert await tasks.expire_holds(db, settings) == 1

    status = await scalar(db, "SELECT status FROM ledger_holds WHERE id = :id",
                          id=int(held["reservationId"]))  # fmt: skip
    assert status == "EXPIRED"
    assert (await m.used("WAGER"), await m.used("LOSS")) == (0, 0)
    assert (await m.bet("5.00", "3"))["status"] == "OK"  # the whole limit again
    assert (await m.used("WAGER"), await m.used("LOSS")) == (500, 500)
    assert (await wallets_of(db, str(m.player)))["REAL"]["held"] == 500


async def _move_to_yesterday(db, player, **extra: str) -> None:
    """As if what was counted so far was counted a day ago: the limits' windows and the
    player's holds (and ``extra`` statements) a day back."""
    from sqlalchemy import text as sql

    async with db.transaction() as s:
        await s.execute(sql("UPDATE gambling_limits SET window_start = window_start - "
                            "interval '1 day' WHERE player_id = :p"), {"p": player})  # fmt: skip
        await s.execute(sql("UPDATE ledger_holds SET created_at = created_at - "
                            "interval '1 day' WHERE player_id = :p"), {"p": player})  # fmt: skip
        for statement in extra.values():
            await s.execute(sql(statement), {"p": player})


async def test_a_bet_counted_in_a_closed_window_gives_nothing_back_into_todays(money, db):
    """Voiding yesterday's bet today must not open room today that the player never used:
    its stake was counted in yesterday's window, which is gone."""
    m = await money()
    await m.set_limit("LOSS", "DAY", "10.00")
    await m.set_limit("WAGER", "DAY", "10.00")
    yesterday = await m.bet("4.00", "1")
    await _move_to_yesterday(db, m.player)
    today = await m.bet("6.00", "2")
    assert (await m.used("LOSS"), await m.used("WAGER")) == (600, 600)  # a fresh window

    await m.cancel(yesterday["reservationId"])
    assert (await m.used("LOSS"), await m.used("WAGER")) == (600, 600)  # not 200
    with pytest.raises(LimitExceeded):
        await m.bet("4.01", "3")
    await m.cancel(today["reservationId"])
    assert (await m.used("LOSS"), await m.used("WAGER")) == (0, 0)  # today's, given back


async def test_an_expired_hold_of_a_closed_window_gives_nothing_back(money, db, settings):
    from app.ledger import tasks

    m = await money()
    await m.set_limit("LOSS", "DAY", "10.00")
    await m.bet("4.00", "1")
    await _move_to_yesterday(db, m.player, expire="UPDATE ledger_holds SET expires_at = "
                             "now() - interval '1 second' WHERE player_id = :p")  # fmt: skip
    await m.bet("6.00", "2")

    assert await tasks.expire_holds(db, settings) == 1
    assert await m.used("LOSS") == 600


async def test_a_round_settled_in_a_closed_window_refunds_nothing_into_todays(money, db):
    m = await money()
    await m.set_limit("LOSS", "DAY", "10.00")
    await m.bet("4.00", "1")
    await m.settle("1", "1.00")
    assert await m.used("LOSS") == 300
    await _move_to_yesterday(db, m.player, round="UPDATE game_rounds SET derived = jsonb_set("
                             "derived, '{rgAt}', to_jsonb((derived->>'rgAt')::timestamptz "
                             "- interval '1 day')) WHERE player_id = :p")  # fmt: skip
    await m.bet("5.00", "2")
    await m.refund_round("1")
    assert await m.used("LOSS") == 500  # not 200: yesterday's loss stays in yesterday


async def test_a_lowered_limit_applies_to_the_next_bet(money):
    m = await money()
    await m.set_limit("WAGER", "WEEK", "50.00")
    await m.bet("10.00", "1")
    await m.set_limit("WAGER", "WEEK", "10.00")
    with pytest.raises(LimitExceeded) as refused:
        await m.bet("0.01", "2")
    assert (refused.value.period, refused.value.remaining) == ("WEEK", 0)


async def test_self_exclusion_takes_the_player_out_of_every_segment(money, db, settings):
    from app.audit.service import Actor
    from app.responsible import service as rg
    from app.responsible.models import ExclusionKind
    from app.segments import service as segments

    m = await money(deposit=None)
    async with db.transaction() as s:
        await segments.create_segment(
            s, name="everyone", rule={"attr": "country", "op": "ne", "value": "XX"},
            actor="staff:marketer", settings=settings,
        )  # fmt: skip
    members = "SELECT count(*) FROM segment_members WHERE player_id = :p"
    assert await scalar(db, members, p=m.player) == 1

    async with db.transaction() as s:
        await rg.exclude(s, settings, rg.Caller(Actor(f"player:{m.player}"), True),
                         player_id=m.player, kind=ExclusionKind.SELF_EXCLUSION,
                         ends_at=None)  # fmt: skip

    assert await scalar(db, members, p=m.player) == 0
    left = await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'segment.left' "
                            "AND subject = :p", p=str(m.player))  # fmt: skip
    assert left == 1
    async with db.transaction() as s:  # a full recompute keeps them out too
        await segments.recompute_all(s, settings)
    assert await scalar(db, members, p=m.player) == 0


async def _shift(db, player, **columns: str) -> None:
    from sqlalchemy import text as sql

    sets = ", ".join(f"{c} = now() - interval '{v}'" for c, v in columns.items())
    async with db.transaction() as s:
        await s.execute(sql(f"UPDATE gambling_limits SET {sets} WHERE player_id = :p "
                            "AND kind = 'SESSION'"), {"p": player})  # fmt: skip


async def test_a_session_limit_refuses_bets_until_a_break_has_passed(money, db):
    from app.responsible.errors import SessionLimitReached

    m = await money()
    await m.set_limit("SESSION", "DAY", "60")
    assert (await m.bet("1.00", "1"))["status"] == "OK"
    # An hour into the session, the last bet a minute ago: the limit is reached.
    await _shift(db, m.player, window_start="61 minutes", last_activity_at="1 minute")
    with pytest.raises(SessionLimitReached) as refused:
        await m.bet("1.00", "2")
    last = await scalar(db, "SELECT last_activity_at FROM gambling_limits WHERE kind = 'SESSION'")
    assert refused.value.available_at == last + timedelta(minutes=30)
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == 1
    # After a 30-minute break a new session starts.
    await _shift(db, m.player, window_start="95 minutes", last_activity_at="31 minutes")
    assert (await m.bet("1.00", "3"))["status"] == "OK"
    started = await scalar(db, "SELECT now() - window_start < interval '1 minute' "
                               "FROM gambling_limits WHERE kind = 'SESSION'")  # fmt: skip
    assert started is True


async def test_session_limits_take_whole_minutes_with_period_day(money):
    from app.core.errors import ValidationFailed

    m = await money(deposit=None)
    for period, amount in (("WEEK", "60"), ("DAY", "1.5"), ("DAY", "0"), ("DAY", "1441")):
        with pytest.raises(ValidationFailed):
            await m.set_limit("SESSION", period, amount)
    assert await scalar(m.db, "SELECT count(*) FROM gambling_limits") == 0


async def test_the_reality_check_shows_the_current_session(money, db, settings):
    from app.responsible import service as rg

    m = await money()
    await m.bet("4.00", "1")
    await m.settle("1", "1.50")
    await m.bet("2.00", "2")
    await m.settle("2", "0.00")
    async with db.read_session() as s:
        check = await rg.reality_check(s, settings, m.player)
    assert check is not None
    assert (check.minutes_played, check.net_result, check.currency) == (0, -450, "EUR")
    assert check.next_check_at == check.started_at + timedelta(minutes=60)


async def test_after_a_self_exclusion_the_account_opens_only_after_a_return_request_and_cooling(
    money, db, settings
):
    from sqlalchemy import text as sql

    from app.audit.service import Actor
    from app.responsible import service as rg
    from app.responsible.errors import ExclusionActive
    from app.responsible.models import ExclusionKind

    m = await money(deposit=None)
    caller = rg.Caller(Actor(f"player:{m.player}"), True)
    status = "SELECT status FROM players WHERE id = :p"

    async def run(call: Any) -> Any:
        async with db.transaction() as s:
            return await call(s)

    await run(lambda s: rg.exclude(s, settings, caller, player_id=m.player,
                                   kind=ExclusionKind.SELF_EXCLUSION,
                                   ends_at=rg.now() + timedelta(days=180)))  # fmt: skip
    with pytest.raises(ExclusionActive):
        await run(lambda s: rg.request_return(s, settings, caller, player_id=m.player))
    await run(lambda s: s.execute(sql("UPDATE player_exclusions SET ends_at = now() "
                                      "- interval '1 minute'")))  # fmt: skip
    assert await run(lambda s: rg.end_breaks(s, settings)) == 0  # no return request yet
    await run(lambda s: rg.request_return(s, settings, caller, player_id=m.player))
    assert await run(lambda s: rg.end_breaks(s, settings)) == 0  # cooling period
    assert await scalar(db, status, p=m.player) == "SELF_EXCLUDED"
    await run(lambda s: s.execute(sql("UPDATE player_exclusions SET return_requested_at = "
                                      "now() - interval '25 hours'")))  # fmt: skip
    assert await run(lambda s: rg.end_breaks(s, settings)) == 1
    assert await scalar(db, status, p=m.player) == "ACTIVE"


async def test_a_break_that_is_over_reopens_the_account(money, db, settings):
    from sqlalchemy import text as sql

    from app.audit.service import Actor
    from app.responsible import service as rg
    from app.responsible.models import ExclusionKind

    m = await money(deposit=None)
    caller = rg.Caller(Actor(f"player:{m.player}"), True)
    async with db.transaction() as s:
        await rg.exclude(s, settings, caller, player_id=m.player, kind=ExclusionKind.BREAK,
                         ends_at=rg.break_end(24, rg.now()))  # fmt: skip
    async with db.transaction() as s:
        assert await rg.end_breaks(s, settings) == 0
        await s.execute(sql("UPDATE player_exclusions SET ends_at = now() - interval '1 s'"))
    async with db.transaction() as s:
        assert await rg.end_breaks(s, settings) == 1
    assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=m.player) == "ACTIVE"


async def test_replicas_ending_breaks_at_once_end_each_break_once(money, db, settings):
    """Two processes' end_breaks tasks in concurrent transactions: one ends the break
    (one exclusion_ended event), the other skips the round instead of waiting for the
    player's lock and writing the event again."""
    import asyncio

    from sqlalchemy import text as sql

    from app.audit.service import Actor
    from app.responsible import service as rg
    from app.responsible.models import ExclusionKind

    m = await money(deposit=None)
    caller = rg.Caller(Actor(f"player:{m.player}"), True)
    async with db.transaction() as s:
        await rg.exclude(s, settings, caller, player_id=m.player, kind=ExclusionKind.BREAK,
                         ends_at=rg.break_end(24, rg.now()))  # fmt: skip
        await s.execute(sql("UPDATE player_exclusions SET ends_at = now() - interval '1 s'"))

    async def other_replica() -> int:
        async with db.transaction() as s:
            return await rg.end_breaks(s, settings)

    waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND datname = current_database() AND query LIKE '%players%'")  # fmt: skip
    async with db.transaction() as first:
        assert await rg.end_breaks(first, settings) == 1
        second = asyncio.create_task(other_replica())
        for _ in range(100):  # until it finished or waits for the player's row lock
            if second.done() or await scalar(db, waiting):
                break
            await asyncio.sleep(0.05)
    assert await second == 0
    events = "SELECT count(*) FROM outbox_events WHERE type = 'player.exclusion_ended'"
    assert await scalar(db, events) == 1
