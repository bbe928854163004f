"""CRM export: segment memberships entered/left and consent-aware players, by cursor."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import text

from app.core import bundles
from app.core.db import Database
from app.exports import hooks, service, signing
from app.exports.cursor import ExportKind
from app.exports.errors import ExportBusy, ExportCursorKindMismatch, InvalidExportCursor
from app.players.models import PlayerStatus
from app.segments import service as segments
from app.segments.models import SegmentKind
from tests.integration.exports.helpers import player_with_consents, read_files, set_status


def _jsonl(directory, name):
    return [json.loads(line) for line in (directory / f"{name}.jsonl").read_text().splitlines()]


async def _static_segment(db: Database, settings, name: str, player_ids):
    async with db.transaction() as s:
        segment, _ = await segments.create_segment(
            s, name=name, rule=None, actor="test", settings=settings, kind=SegmentKind.STATIC
        )
        await segments.add_static_members(s, segment.id, player_ids)
    return segment


async def test_players_are_exported_by_consent_and_suppressed_players_without_contact_data(
    db: Database, settings, tmp_path
):
    emailable = await player_with_consents(db, settings, email=True)
    sms_only = await player_with_consents(db, settings, sms=True)
    no_consent = await player_with_consents(db, settings)
    excluded = await player_with_consents(db, settings, email=True, sms=True)
    await set_status(db, excluded, PlayerStatus.SELF_EXCLUDED)

    result = await service.run_export(
        db, settings, ExportKind.CRM, None, tmp_path, actor="test", channels=["email"]
    )

    rows = {r["playerId"]: r for r in _jsonl(result.directory, "players")}
    assert set(rows) == {str(p) for p in (emailable, sms_only, no_consent, excluded)}
    assert rows[str(emailable)]["marketable"] is True
    assert rows[str(emailable)]["channels"] == "email"
    assert rows[str(emailable)]["email"].endswith("@example.com")
    assert rows[str(emailable)]["phone"] is None
    for player, reason in ((sms_only, "NO_CONSENT"), (no_consent, "NO_CONSENT"),
                           (excluded, "SELF_EXCLUDED")):  # fmt: skip
        row = rows[str(player)]
        assert (row["marketable"], row["suppressionReason"]) == (False, reason)
        assert row["email"] is None and row["country"] is None and row["channels"] is None
    assert result.next_cursor.startswith("crm:v1:")
    assert result.until.position > 0


async def test_memberships_entered_and_left_since_the_cursor(db: Database, settings, tmp_path):
    a = await player_with_consents(db, settings, email=True)
    b = await player_with_consents(db, settings, email=True)
    segment = await _static_segment(db, settings, "vip list", [a, b])
    first = await service.run_export(db, settings, ExportKind.CRM, None, tmp_path, actor="t")
    entered = _jsonl(first.directory, "segment_memberships")
    assert sorted((r["change"], r["playerId"]) for r in entered) == sorted(
        [("entered", str(a)), ("entered", str(b))]
    )
    assert {r["segmentName"] for r in entered} == {"vip list"}

    async with db.transaction() as s:
        await segments.remove_static_members(s, segment.id, [a])
    second = await service.run_export(
        db, settings, ExportKind.CRM, first.next_cursor, tmp_path, actor="t"
    )

    rows = _jsonl(second.directory, "segment_memberships")
    assert [(r["change"], r["playerId"], r["segmentId"]) for r in rows] == [
        ("left", str(a), str(segment.id))
    ]
    assert _jsonl(second.directory, "players") == []  # nobody's data changed in between
    assert second.since.position == first.until.position
    assert second.until.position > first.until.position


async def test_a_suppression_hook_marks_members_and_players_suppressed(
    db: Database, settings, tmp_path
):
    cooling = await player_with_consents(db, settings, email=True)
    await _static_segment(db, settings, "reactivation", [cooling])

    async def cooling_off(session, player_ids):
        return {p: "COOLING_OFF" for p in player_ids if p == cooling}

    hooks.register_suppression("test-cooling-off", cooling_off)
    try:
        result = await service.run_export(db, settings, ExportKind.CRM, None, tmp_path, actor="t")
    finally:
        hooks._checks.pop("test-cooling-off")
    [member] = _jsonl(result.directory, "segment_memberships")
    assert (member["suppressed"], member["suppressionReason"]) == (True, "COOLING_OFF")
    [player] = _jsonl(result.directory, "players")
    assert (player["marketable"], player["email"]) == (False, None)


async def test_a_resumed_run_writes_byte_identical_files(db: Database, settings, tmp_path):
    a = await player_with_consents(db, settings, email=True)
    await _static_segment(db, settings, "list", [a])
    first = await service.run_export(db, settings, ExportKind.CRM, None, tmp_path / "1", actor="t")
    # New activity after the first run must not leak into the resumed range.
    later = await player_with_consents(db, settings, email=True)

    again = await service.run_export(db, settings, ExportKind.CRM, None, tmp_path / "2", actor="t")

    assert again.until == first.until
    assert read_files(first.directory) == read_files(again.directory)
    assert str(later) not in (again.directory / "players.jsonl").read_text()
    async with db.transaction() as s:
        key = await signing.public_key(s, bundles.read_manifest(again.directory)["keyId"])
        runs = (
            await s.execute(text("SELECT count(*), min(manifest_sha256) FROM export_runs"))
        ).one()
    assert key is not None and bundles.verify_bundle(again.directory, key) == []
    assert tuple(runs) == (1, first.manifest_sha256)
    async with db.transaction() as s:
        audited = (
            await s.execute(text("SELECT actor, target FROM audit_log WHERE action = 'export.crm'"))
        ).all()
    assert [tuple(a) for a in audited] == [("t", f"export:{first.since}..{first.until}")] * 2


async def test_formula_cells_are_escaped_in_the_csv(db: Database, settings, tmp_path):
    a = await player_with_consents(db, settings, email=True)
    async with db.transaction() as s:
        # Text as an old import stored it: kept as it is, neutralised on the way out.
        await s.execute(
            text("INSERT INTO player_profiles (player_id, first_name) VALUES (:p, :n) "
                 "ON CONFLICT (player_id) DO UPDATE SET first_name = :n"),
            {"p": a, "n": '=HYPERLINK("http://evil")'},
        )  # fmt: skip
    result = await service.run_export(db, settings, ExportKind.CRM, None, tmp_path, actor="t")
    with (result.directory / "players.csv").open(newline="") as f:
        [row] = list(csv.DictReader(f))
    assert row["firstName"] == '\'=HYPERLINK("http://evil")'
    assert _jsonl(result.directory, "players")[0]["firstName"] == '=HYPERLINK("http://evil")'


async def test_bad_cursors_are_typed_errors_and_record_nothing(db: Database, settings, tmp_path):
    with pytest.raises(ExportCursorKindMismatch):
        await service.run_export(db, settings, ExportKind.CRM, "erp:v1:0", tmp_path, actor="t")
    with pytest.raises(InvalidExportCursor):
        await service.run_export(db, settings, ExportKind.CRM, "crm:v1:999999", tmp_path, actor="t")
    with pytest.raises(InvalidExportCursor):
        await service.run_export(db, settings, ExportKind.CRM, "nonsense", tmp_path, actor="t")
    async with db.transaction() as s:
        assert (await s.execute(text("SELECT count(*) FROM export_runs"))).scalar_one() == 0
    assert list(tmp_path.iterdir()) == []


async def test_the_range_waits_for_writers_that_hold_an_id_below_the_head(db: Database, settings):
    await player_with_consents(db, settings)
    async with db.engine.connect() as writer:
        await writer.begin()
        await writer.execute(
            text("INSERT INTO outbox_events (event_id, type, source, data) "
                 "VALUES (gen_random_uuid(), 'test.pending', 'test', '{}')")
        )  # fmt: skip
        with pytest.raises(ExportBusy):
            await service.settled_head(db, "outbox_events", 0.3)
        await writer.commit()
    async with db.transaction() as s:
        newest = (await s.execute(text("SELECT max(id) FROM outbox_events"))).scalar_one()
    assert await service.settled_head(db, "outbox_events", 0.3) == newest
