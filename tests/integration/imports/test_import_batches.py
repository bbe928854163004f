"""Set-based import apply: a 5,000-row list is applied in batches of players, each batch
one transaction; a failure in a batch leaves whole batches only, and confirming again
(twice at once) completes the import exactly once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db import Database
from app.imports import service
from app.imports.errors import ImportHasErrors
from app.segments import service as segments
from tests.integration.imports.test_marketing_import import _segment

PLAYERS = 1250  # x 4 rows = 5,000 rows
BATCH = 500  # -> batches of 500, 500, 250 players


async def _players(db: Database) -> list[uuid.UUID]:
    async with db.transaction() as s:
        rows = await s.execute(text(
            "INSERT INTO players (id, email, login, password_hash, country, currency, birth_date)"
            " SELECT gen_random_uuid(), 'b' || g || '@example.com', 'batch' || g, 'x', 'DE',"
            " 'EUR', date '1990-01-01' FROM generate_series(1, :n) g RETURNING id"
        ), {"n": PLAYERS})  # fmt: skip
        return sorted(rows.scalars())


def _list(players: list[uuid.UUID]) -> bytes:
    """Every player: a tag, e-mail consent, the static segment; even ones also SMS
    consent, odd ones opt out (which wins over their e-mail opt-in)."""
    lines = ["player_id,action,value"]
    for i, p in enumerate(players):
        last = f"{p},consent_on,sms" if i % 2 == 0 else f"{p},opt_out,"
        lines += [f"{p},add_tag,spring", f"{p},consent_on,email", f"{p},add_to_segment,spring",
                  last]  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


COUNTS = """SELECT
  (SELECT count(*) FROM player_consent_changes WHERE source = 'import'),
  (SELECT count(*) FROM outbox_events WHERE type = 'player.consent_changed'),
  (SELECT count(*) FROM player_tags WHERE tag = 'spring'),
  (SELECT count(*) FROM player_settings_changes WHERE field = 'tags'),
  (SELECT count(*) FROM segment_members),
  (SELECT count(*) FROM outbox_events WHERE type = 'segment.entered'),
  (SELECT count(*) FROM audit_log WHERE action = 'marketing_import.player'),
  (SELECT count(*) FROM audit_log WHERE action = 'marketing_import.apply')"""


async def _counts(db: Database) -> tuple[int, ...]:
    async with db.transaction() as s:
        return tuple((await s.execute(text(COUNTS))).one())


def _expected(players: int, segment_events: int | None = None) -> tuple[int, ...]:
    even, odd = (players + 1) // 2, players // 2
    consents = 2 * even + 4 * odd  # email+sms granted; all four channels withdrawn
    members = segment_events or players
    return (consents, consents, players, players, members, members, players, 1)


async def _batches(db: Database) -> list[tuple[int, int]]:
    async with db.transaction() as s:
        rows = await s.execute(text(
            "SELECT batch, players FROM marketing_import_batches ORDER BY batch"))  # fmt: skip
        return [tuple(r) for r in rows]


@pytest.fixture
def batch_settings(settings):
    return settings.model_copy(update={"import_batch_size": BATCH})


async def _rule_segment(db: Database, settings, name: str, rule) -> None:
    async with db.transaction() as s:
        await segments.create_segment(s, name=name, rule=rule, actor="t", settings=settings)


async def _members(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        rows = await s.execute(text(
            "SELECT s.name, count(*) FROM segment_members m JOIN segments s ON s.id = m.segment_id"
            " GROUP BY s.name"))  # fmt: skip
        return {name: count for name, count in rows}


async def test_a_5000_row_list_writes_exactly_the_expected_rows(db: Database, batch_settings):
    players = await _players(db)
    await _segment(db, batch_settings, "spring")
    # Rule segments follow the batch's changes (re-evaluated set-based, per batch).
    await _rule_segment(db, batch_settings, "tagged",
                        {"attr": "tags", "op": "contains", "value": "spring"})  # fmt: skip
    await _rule_segment(db, batch_settings, "texting",
                        {"attr": "marketingConsent", "op": "contains", "value": "sms"})  # fmt: skip
    seen: list[tuple[int, int]] = []
    report = await service.apply(
        db, _list(players), "csv", batch_settings, actor="staff:m", import_id="five-k",
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert (report["rows"], report["players"], report["optInsOverriddenByOptOut"]) == (
        5000, PLAYERS, PLAYERS // 2)  # fmt: skip
    assert seen == [(0, PLAYERS), (500, PLAYERS), (1000, PLAYERS), (1250, PLAYERS)]
    assert await _members(db) == {"spring": PLAYERS, "tagged": PLAYERS, "texting": PLAYERS // 2}
    assert await _counts(db) == _expected(PLAYERS, segment_events=PLAYERS * 2 + PLAYERS // 2)
    assert await _batches(db) == [(0, 500), (1, 500), (2, 250)]
    async with db.transaction() as s:
        mirrored = (await s.execute(text(
            "SELECT preferences->'marketingConsents' FROM players WHERE id = :p"),
            {"p": players[1]})).scalar_one()  # fmt: skip
        details = (await s.execute(text(
            "SELECT details FROM audit_log WHERE action = 'marketing_import.player' "
            "AND target = :t"), {"t": f"player:{players[0]}"})).scalar_one()  # fmt: skip
    assert mirrored == {"email": False, "sms": False, "push": False, "phone": False}
    assert (details["importId"], details["batch"], details["consentsOn"]) == (
        "five-k", 0, ["email", "sms"])  # fmt: skip
    again = await service.apply(db, _list(players), "csv", batch_settings, actor="staff:m",
                                import_id="five-k")  # fmt: skip
    assert again == {**report, "replayed": True}
    assert await _counts(db) == _expected(PLAYERS, segment_events=PLAYERS * 2 + PLAYERS // 2)


async def test_a_failing_batch_leaves_whole_batches_and_a_resumed_confirm_completes_once(
    db: Database, batch_settings
):
    players = await _players(db)
    await _segment(db, batch_settings, "spring")
    data = _list(players)
    # A real failure inside the second batch: the database refuses its first tag row.
    async with db.transaction() as s:
        await s.execute(text(
            "CREATE FUNCTION test_refuse_tag() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.player_id = '{players[BATCH]}' THEN RAISE EXCEPTION 'injected'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"))  # fmt: skip
        await s.execute(text(
            "CREATE TRIGGER test_refuse_tag BEFORE INSERT ON player_tags "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_tag()"))  # fmt: skip
    with pytest.raises(DBAPIError, match="injected"):
        await service.apply(db, data, "csv", batch_settings, actor="staff:m", import_id="crash")
    assert await _batches(db) == [(0, 500)]
    first_batch = (*_expected(BATCH)[:-1], 0)  # 500 players, no completion entry
    assert await _counts(db) == first_batch
    async with db.transaction() as s:
        await s.execute(text("DROP TRIGGER test_refuse_tag ON player_tags"))
        await s.execute(text("DROP FUNCTION test_refuse_tag()"))

    # Two confirmations at once resume it: each batch is applied by exactly one of them.
    results = await asyncio.gather(*(
        service.apply(db, data, "csv", batch_settings, actor="staff:m", import_id="crash")
        for _ in range(2)
    ))  # fmt: skip
    assert sorted(bool(r.get("replayed")) for r in results) == [False, True]
    assert await _batches(db) == [(0, 500), (1, 500), (2, 250)]
    assert await _counts(db) == _expected(PLAYERS)


async def test_a_resume_applies_the_plan_validated_when_the_import_started(
    db: Database, batch_settings
):
    """After a crash, a player of a batch not yet applied changes their email: the list
    names them by that old email, yet the resume applies what was validated (and cut)
    at the start, instead of refusing the file or moving batch boundaries."""
    players = await _players(db)
    await _segment(db, batch_settings, "spring")
    emails = ["player_id,email,action,value"] + [
        f",b{i}@example.com,add_tag,spring" for i in range(1, PLAYERS + 1)
    ]
    data = ("\n".join(emails) + "\n").encode()
    async with db.transaction() as s:
        by_email = dict((await s.execute(text("SELECT email, id FROM players"))).all())
        last = by_email[f"b{PLAYERS}@example.com"]
        ordered = sorted(by_email[f"b{i}@example.com"] for i in range(1, PLAYERS + 1))
        await s.execute(text(
            "CREATE FUNCTION test_refuse_moved() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.player_id = '{ordered[BATCH]}' THEN RAISE EXCEPTION 'injected'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"))  # fmt: skip
        await s.execute(text(
            "CREATE TRIGGER test_refuse_moved BEFORE INSERT ON player_tags "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_moved()"))  # fmt: skip
    with pytest.raises(DBAPIError, match="injected"):
        await service.apply(db, data, "csv", batch_settings, actor="staff:m", import_id="moved")
    async with db.transaction() as s:
        await s.execute(text("DROP TRIGGER test_refuse_moved ON player_tags"))
        await s.execute(text("DROP FUNCTION test_refuse_moved()"))
        await s.execute(text("UPDATE players SET email = 'moved@example.com' WHERE id = :p"),
                        {"p": last})  # fmt: skip

    report = await service.apply(db, data, "csv", batch_settings, actor="staff:m",
                                 import_id="moved")  # fmt: skip

    assert report["players"] == PLAYERS and not report.get("replayed")
    assert await _batches(db) == [(0, 500), (1, 500), (2, 250)]
    async with db.transaction() as s:
        tagged = (await s.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE player_id = :p) FROM player_tags "
            "WHERE tag = 'spring'"), {"p": last})).one()  # fmt: skip
    assert tuple(tagged) == (PLAYERS, 1)
    assert players == ordered


async def _erase(db: Database, settings, player_id: uuid.UUID) -> None:
    from app.gdpr.erasure import erase_player

    async with db.transaction() as s:
        await erase_player(s, settings, player_id, "asked to be forgotten", "staff:dpo")


async def _written_for(db: Database, player_id: uuid.UUID) -> tuple[int, int, int]:
    async with db.transaction() as s:
        return tuple((await s.execute(text(
            "SELECT (SELECT count(*) FROM player_tags WHERE player_id = :p),"
            " (SELECT count(*) FROM player_consent_changes WHERE player_id = :p),"
            " (SELECT count(*) FROM segment_members WHERE player_id = :p)"), {"p": player_id}
        )).one())  # fmt: skip


async def test_an_erased_player_named_by_id_is_a_row_error_and_nothing_is_written(
    db: Database, batch_settings
):
    players = (await _players(db))[:3]
    await _segment(db, batch_settings, "spring")
    await _erase(db, batch_settings, players[1])
    data = _list(players)  # 4 rows per player: lines 2-5, 6-9, 10-13
    async with db.transaction() as s:
        plan = await service.dry_run(s, data, "csv", batch_settings)
    assert [(p.line, p.code) for p in plan.problems] == [(line, "ERASED_PLAYER")
                                                         for line in (6, 7, 8, 9)]  # fmt: skip
    assert sorted(plan.changes) == [players[0], players[2]]
    with pytest.raises(ImportHasErrors):
        await service.apply(db, data, "csv", batch_settings, actor="staff:m")
    assert [await _written_for(db, p) for p in players] == [(0, 0, 0)] * 3


async def test_a_player_erased_while_an_import_runs_is_left_out_of_its_later_batches(
    db: Database, batch_settings
):
    """A crash in the second batch, then the erasure of a player of the third, then the
    resume: the stored plan still names them, the batch leaves them out."""
    players = await _players(db)
    await _segment(db, batch_settings, "spring")
    data = _list(players)
    async with db.transaction() as s:
        await s.execute(text(
            "CREATE FUNCTION test_refuse_erased() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.player_id = '{players[BATCH]}' THEN RAISE EXCEPTION 'injected'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"))  # fmt: skip
        await s.execute(text(
            "CREATE TRIGGER test_refuse_erased BEFORE INSERT ON player_tags "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_erased()"))  # fmt: skip
    with pytest.raises(DBAPIError, match="injected"):
        await service.apply(db, data, "csv", batch_settings, actor="staff:m", import_id="gone")
    async with db.transaction() as s:
        await s.execute(text("DROP TRIGGER test_refuse_erased ON player_tags"))
        await s.execute(text("DROP FUNCTION test_refuse_erased()"))
    erased = players[2 * BATCH + 7]
    await _erase(db, batch_settings, erased)

    await service.apply(db, data, "csv", batch_settings, actor="staff:m", import_id="gone")

    assert await _written_for(db, erased) == (0, 0, 0)
    assert await _written_for(db, players[2 * BATCH + 8]) == (1, 2, 1)  # even: email + sms
    async with db.transaction() as s:
        tagged = (await s.execute(text(
            "SELECT count(*) FROM player_tags WHERE tag = 'spring'"))).scalar_one()  # fmt: skip
        audited = (await s.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'marketing_import.player'"
            " AND target = :t"), {"t": f"player:{erased}"})).scalar_one()  # fmt: skip
    assert (tagged, audited) == (PLAYERS - 1, 0)
