"""The archiving purge against real PostgreSQL: months older than the retention go to a
signed bundle that verifies alone (its audit part chains to a signed checkpoint), then
their partitions are dropped; the audit trail and the ledger still verify afterwards;
refusals and faults leave everything in place; two purges at once archive a month once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from app.audit import verify as audit_verify
from app.ledger.balances_at import balances_at
from app.ledger.reconcile import verify as ledger_verify
from app.retention import archive, purge
from app.retention import repository as retention_repository
from app.retention.errors import ArchiveFailed, MonthTooRecent, PurgeInProgress, RetentionTooShort
from app.retention.partitions import partition_name
from tests.integration.audit.helpers import maintain, write_rows
from tests.integration.retention.helpers import backfill, exists, months_ago, pms, scalar

OLD = 6 * 12 + 1  # months ago: wholly older than 5 years


@pytest.fixture
def retention(settings, tmp_path):
    return settings.model_copy(update={"retention_archive_dir": str(tmp_path / "archive")})


@pytest.fixture
async def old_data(db, retention):
    """Two old months (3 + 2 audit rows, transfers on one player), then recent traffic."""
    first, second = months_ago(OLD + 1), months_ago(OLD)
    player = await backfill(db, retention, first, audit_rows=3, amounts=(10_000, -2_500))
    await backfill(db, retention, second, audit_rows=2, amounts=(5_000,), player=player)
    await write_rows(db, 4, action="recent.action")
    await maintain(db, retention)
    return first, second, player


async def _ledger_ok(db) -> None:
    async with db.transaction() as session:
        report = await ledger_verify(session)
    assert report.ok, [m.describe() for m in report.mismatches]


async def test_old_months_are_archived_verified_and_dropped(db, retention, old_data):
    first, second, player = old_data
    orphans = (
        "SELECT count(*) FROM audit_personal_values "
        "WHERE entry_id NOT IN (SELECT id FROM audit_log)"
    )
    kept_before = await scalar(db, "SELECT count(*) FROM audit_personal_values")
    results = await purge.purge(db, retention)

    assert [(r.month, r.audit_rows, r.ledger_rows, r.dropped) for r in results] == [
        (first, 3, 2, True), (second, 2, 1, True)
    ]  # fmt: skip
    for month in (first, second):
        for table in ("audit_log", "ledger_transfers"):
            assert not await exists(db, f"pms_partitions.{partition_name(table, month)}")
    assert await scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'old.action'") == 0
    assert await scalar(db, "SELECT count(*) FROM audit_log") == 4
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == 0
    # the dropped entries' personal values (ip, user agent) went with them
    assert kept_before > await scalar(db, "SELECT count(*) FROM audit_personal_values")
    assert await scalar(db, orphans) == 0
    # each bundle verifies from its own files, and against the log's published keys
    for r in results:
        assert archive.verify_archive(Path(r.directory or "")) == []
    manifest = json.loads((Path(results[0].directory or "") / "manifest.json").read_text())
    assert manifest["tree"]["from"] == 0 and manifest["tree"]["size"] == 3
    assert json.loads((Path(results[1].directory or "") / "manifest.json").read_text())[
        "tree"]["from"] == 3  # fmt: skip
    # the ledger: carried forward, still reconciles, balances unchanged
    carried = await scalar(db, "SELECT sum(amount) FROM ledger_carry_forward")
    assert carried == 12_500
    await _ledger_ok(db)
    async with db.read_session() as session:
        now = datetime.now(UTC)
        real = [b for b in await balances_at(session, now, player_id=player.id)
                if b.kind == "REAL"]  # fmt: skip
    assert real[0].balance == 12_500
    # the audit trail: verified from the archived prefix onward
    async with db.transaction() as session:
        prefix = await retention_repository.archived_prefix(session)
        report = await audit_verify.verify(session, None, prefix)
    assert prefix is not None and prefix.size == 5
    assert report.ok, report.problems
    assert report.size == 9


async def test_an_archive_with_an_edited_row_does_not_verify(db, retention, old_data):
    results = await purge.purge(db, retention, month=old_data[0])
    directory = Path(results[0].directory or "")
    lines = (directory / "audit_log.jsonl").read_text().splitlines()
    edited = json.loads(lines[0]) | {"outcome": "failure"}
    lines[0] = json.dumps(edited)
    (directory / "audit_log.jsonl").write_text("\n".join(lines) + "\n")

    problems = archive.verify_archive(directory)
    assert problems == ["audit_log.jsonl: SHA-256 does not match the manifest"]


async def test_audit_verify_still_finds_tampering_after_a_purge(db, retention, old_data):
    await purge.purge(db, retention)
    async with db.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text("SET LOCAL pms.retention_job = 'on'"))
        await conn.execute(
            text("UPDATE audit_log SET outcome = 'failure' WHERE id = "
                 "(SELECT min(id) FROM audit_log WHERE action = 'recent.action')")
        )  # fmt: skip
    async with db.transaction() as session:
        prefix = await retention_repository.archived_prefix(session)
        report = await audit_verify.verify(session, None, prefix)
    assert not report.ok and report.first_bad_position == 5


async def test_the_cli_dry_run_changes_nothing_then_the_purge_and_both_verifies_pass(
    db, retention, old_data
):
    first, second, _ = old_data
    env = {"PMS_RETENTION_ARCHIVE_DIR": retention.retention_archive_dir}
    dry = await pms(retention, "retention", "purge", "--dry-run", **env)
    assert dry.returncode == 0, dry.stderr
    assert f"would archive {first:%Y-%m}: 3 audit entries, 2 ledger transfers" in dry.stdout
    assert await scalar(db, "SELECT count(*) FROM audit_log") == 9
    assert not await asyncio.to_thread(Path(retention.retention_archive_dir).exists)

    run = await pms(retention, "retention", "purge", **env)
    assert run.returncode == 0, run.stderr
    assert f"archived {second:%Y-%m}: 2 audit entries, 1 ledger transfers" in run.stdout
    bundle = Path(retention.retention_archive_dir) / f"{first:%Y-%m}"
    alone = await pms(retention, "retention", "verify", str(bundle), "--against-db")
    assert (alone.returncode, alone.stdout.strip()) == (0, "OK"), alone.stdout
    audit = await pms(retention, "audit", "verify")
    assert audit.returncode == 0 and audit.stdout.startswith("OK 9 entries"), audit.stdout
    ledger = await pms(retention, "ledger", "verify")
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr


async def test_a_retention_below_five_years_is_refused_and_nothing_changes(db, retention, old_data):
    short = retention.model_copy(update={"retention_years": 3})  # bypasses the settings check
    with pytest.raises(RetentionTooShort):
        await purge.purge(db, short)
    assert await scalar(db, "SELECT count(*) FROM audit_log") == 9
    assert await scalar(db, "SELECT count(*) FROM retention_archives") == 0


async def test_a_month_younger_than_the_retention_is_refused(db, retention, old_data):
    for month in (months_ago(0), months_ago(5 * 12 - 1), months_ago(5 * 12)):
        with pytest.raises(MonthTooRecent):
            await purge.purge(db, retention, month=month)
    cli = await pms(retention, "retention", "purge", "--month", f"{months_ago(12):%Y-%m}")
    assert cli.returncode == 2 and "RETENTION_MONTH_TOO_RECENT" in cli.stderr
    assert await scalar(db, "SELECT count(*) FROM audit_log") == 9
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == 3


async def test_an_archive_write_failure_leaves_the_partitions_in_place(
    db, retention, old_data, tmp_path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    broken = retention.model_copy(update={"retention_archive_dir": str(blocker / "archive")})
    with pytest.raises(ArchiveFailed, match="could not be written"):
        await purge.purge(db, broken)
    first = old_data[0]
    assert await exists(db, f"pms_partitions.{partition_name('audit_log', first)}")
    assert await exists(db, f"pms_partitions.{partition_name('ledger_transfers', first)}")
    assert await scalar(db, "SELECT count(*) FROM audit_log") == 9
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == 3
    assert await scalar(db, "SELECT count(*) FROM retention_archives") == 0
    assert await scalar(db, "SELECT count(*) FROM ledger_carry_forward") == 0
    await _ledger_ok(db)


@pytest.mark.race
async def test_concurrent_purges_archive_each_month_once(db, retention, old_data):
    outcomes = await asyncio.gather(
        *(purge.purge(db, retention) for _ in range(4)), return_exceptions=True
    )
    done = [o for o in outcomes if isinstance(o, list) and o]
    refused = [o for o in outcomes if isinstance(o, PurgeInProgress)]
    assert len(done) == 1 and len(done[0]) == 2, outcomes
    assert len(refused) + len(done) + sum(o == [] for o in outcomes) == 4  # type: ignore[comparison-overlap]
    assert refused, outcomes
    assert await scalar(db, "SELECT count(*) FROM retention_archives") == 2
    assert await scalar(db, "SELECT sum(amount) FROM ledger_carry_forward") == 12_500
    await _ledger_ok(db)


async def test_a_month_sequenced_around_a_later_one_archives_and_verifies(db, retention):
    """A row of month M committing after rows of month M+1 were sequenced (simulated by
    moving the maintainer's floor back) lies inside M+1's tree range: M's bundle carries
    M+1's leaves as hashes, M+1's bundle proves its rows by inclusion, and the audit
    trail verifies after each purge; an edit of a kept row inside the prefix is found."""
    from sqlalchemy import text

    early, late = months_ago(OLD + 1), months_ago(OLD)
    player = await backfill(db, retention, late, audit_rows=2, amounts=(700,))
    await maintain(db, retention)
    async with db.transaction() as session:
        await session.execute(text("UPDATE audit_tree_state SET time_floor = '1970-01-01+00'"))
    await backfill(db, retention, early, audit_rows=2, amounts=(300,), player=player)
    await write_rows(db, 2, action="recent.action")
    await maintain(db, retention)
    positions = await scalar(
        db,
        "SELECT string_agg(a.action, ',' ORDER BY l.position) FROM audit_leaves l "
        "JOIN audit_log a ON a.id = l.entry_id",
    )
    assert positions.startswith("old.action,old.action,old.action,old.action")

    first = await purge.purge(db, retention, month=early)
    tree = json.loads((Path(first[0].directory or "") / "manifest.json").read_text())["tree"]
    assert (tree["from"], tree["size"]) == (0, 4)
    async with db.transaction() as session:
        prefix = await retention_repository.archived_prefix(session)
        report = await audit_verify.verify(session, None, prefix)
    assert report.ok, report.problems

    second = await purge.purge(db, retention)
    manifest = json.loads((Path(second[0].directory or "") / "manifest.json").read_text())
    assert manifest["tree"]["from"] == 4 and len(manifest["tree"]["inclusions"]) == 2
    for r in (*first, *second):
        assert archive.verify_archive(Path(r.directory or "")) == []
    async with db.transaction() as session:
        prefix = await retention_repository.archived_prefix(session)
        report = await audit_verify.verify(session, None, prefix)
    assert report.ok, report.problems
    assert await scalar(db, "SELECT sum(amount) FROM ledger_carry_forward") == 1_000
    await _ledger_ok(db)


async def test_an_edited_row_inside_the_archived_prefix_is_found(db, retention):
    from sqlalchemy import text

    early, late = months_ago(OLD + 1), months_ago(OLD)
    player = await backfill(db, retention, late, audit_rows=2, amounts=(700,))
    await maintain(db, retention)
    async with db.transaction() as session:
        await session.execute(text("UPDATE audit_tree_state SET time_floor = '1970-01-01+00'"))
    await backfill(db, retention, early, audit_rows=2, amounts=(300,), player=player)
    await maintain(db, retention)
    await purge.purge(db, retention, month=early)
    async with db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL pms.retention_job = 'on'"))
        await conn.execute(text("UPDATE audit_log SET target = 'edited' WHERE id = "
                                "(SELECT min(id) FROM audit_log)"))  # fmt: skip
    async with db.transaction() as session:
        prefix = await retention_repository.archived_prefix(session)
        report = await audit_verify.verify(session, None, prefix)
    assert not report.ok and report.first_bad_position == 0, report.problems


async def test_old_rows_in_a_default_partition_fail_verify_and_the_purge_warns(
    db, retention, old_data
):
    """Rows written before their month had a partition sit in the default one, out of the
    purge's reach (it drops whole months): verify refuses, the purge says so, none is lost."""
    env = {"PMS_RETENTION_ARCHIVE_DIR": retention.retention_archive_dir}
    clean = await pms(retention, "retention", "verify")
    assert clean.returncode == 0 and clean.stdout.startswith("OK nothing older"), clean.stdout
    stray = months_ago(OLD + 3)  # no partition for that month: the row goes to the default
    async with db.transaction() as session:
        await session.execute(text("SET LOCAL pms.retention_job = 'on'"))
        await session.execute(text(
            "INSERT INTO audit_log (occurred_at, actor, principal_kind, action, outcome) "
            "VALUES (:at, 'staff:old', 'staff', 'stray.action', 'success')"),
            {"at": datetime(stray.year, stray.month, 3, tzinfo=UTC)})  # fmt: skip
    expected = ("pms_partitions.audit_log_default holds 1 row(s) older than the retention "
                "(before ")  # fmt: skip

    verify = await pms(retention, "retention", "verify")
    assert verify.returncode == 1 and verify.stdout.startswith(f"BAD {expected}"), verify.stdout
    assert f"oldest {stray:%Y-%m}-03" in verify.stdout
    run = await pms(retention, "retention", "purge", **env)
    assert run.returncode == 0, run.stderr
    assert f"WARNING {expected}" in run.stderr
    assert "archived" in run.stdout  # the monthly partitions went as usual
    assert await scalar(db, "SELECT count(*) FROM pms_partitions.audit_log_default") == 1
