"""``pms audit verify`` as a subprocess against a tampered database: each kind of
tampering is found and named by its first bad position; a clean trail exits 0."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from app.audit import note, tasks
from app.audit.canonical import entry_leaf_hash
from tests.integration.audit.helpers import audit_settings, leaves_in_order, write_rows


async def pms(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PMS_DATABASE_URL": settings.database_url or "", "PATH": "/usr/bin:/bin"}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pms", "audit", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def tamper(db, *statements: str, **params) -> None:
    """As an attacker with the owner's rights who also flips the retention switch."""
    async with db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL pms.retention_job = 'on'"))
        for statement in statements:
            await conn.execute(text(statement), params)


@pytest.fixture
async def trail(db, settings, tmp_path) -> tuple[list[dict], Path]:
    """Ten entries in ten transactions, checkpoints at 5 and 10, the last one exported."""
    s = audit_settings(settings, audit_checkpoint_every_entries=5)
    for _ in range(10):
        await write_rows(db, 1)
        if _ in (4, 9):
            await tasks.maintain(db, s)
    exported = tmp_path / "checkpoint.txt"
    run = await pms(settings, "checkpoint", "--out", str(exported))
    assert run.returncode == 0, run.stderr
    assert note.parse(exported.read_text()).checkpoint.size == 10
    return await leaves_in_order(db), exported


def first_bad(run: subprocess.CompletedProcess[str]) -> int:
    assert run.returncode == 1, (run.stdout, run.stderr)
    line = next(x for x in run.stdout.splitlines() if x.startswith("FIRST BAD POSITION"))
    return int(line.split()[3])


async def test_a_clean_trail_verifies(trail, settings):
    _, exported = trail
    run = await pms(settings, "verify", "--checkpoint", str(exported))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK 10 entries, 3 checkpoints" in run.stdout


async def test_an_edited_row_is_found(trail, db, settings):
    leaves, _ = trail
    await tamper(db, "UPDATE audit_log SET outcome = 'failure' WHERE id = :id",
                 id=leaves[4]["entry_id"])  # fmt: skip
    run = await pms(settings, "verify")
    assert first_bad(run) == 4
    assert f"entry {leaves[4]['entry_id']} was edited" in run.stdout


async def test_a_deleted_row_is_found(trail, db, settings):
    leaves, _ = trail
    await tamper(db, "DELETE FROM audit_log WHERE id = :id", id=leaves[6]["entry_id"])
    run = await pms(settings, "verify")
    assert first_bad(run) == 6 and "deleted" in run.stdout


async def test_a_row_inserted_into_the_past_is_found(trail, db, settings):
    leaves, _ = trail
    await tamper(
        db,
        "INSERT INTO audit_log (occurred_at, actor, action, outcome) "
        "VALUES (:t, 'staff:forger', 'graphql.adjust', 'success')",
        t=leaves[3]["occurred_at"],
    )
    run = await pms(settings, "verify")
    assert first_bad(run) == 4 and "inserted outside the tree" in run.stdout


async def test_reordered_leaves_are_found(trail, db, settings):
    leaves, _ = trail
    a, b = leaves[2]["entry_id"], leaves[5]["entry_id"]
    await tamper(
        db,
        "UPDATE audit_leaves SET entry_id = -1 WHERE position = 2",
        "UPDATE audit_leaves SET entry_id = :a WHERE position = 5",
        "UPDATE audit_leaves SET entry_id = :b WHERE position = 2",
        a=a, b=b,
    )  # fmt: skip
    assert first_bad(await pms(settings, "verify")) == 2


async def test_reordering_with_rewritten_hashes_is_caught_by_the_signed_roots(trail, db, settings):
    """The attacker recomputes the leaf hashes too: only the signed checkpoint roots tell,
    and the last checkpoint that still matches bounds the first bad position."""
    leaves, _ = trail
    a, b = leaves[6], leaves[8]
    await tamper(
        db,
        "UPDATE audit_leaves SET entry_id = -1 WHERE position = 6",
        "UPDATE audit_leaves SET entry_id = :a, leaf_hash = :ha WHERE position = 8",
        "UPDATE audit_leaves SET entry_id = :b, leaf_hash = :hb WHERE position = 6",
        a=a["entry_id"], b=b["entry_id"], ha=entry_leaf_hash(a), hb=entry_leaf_hash(b),
    )  # fmt: skip
    run = await pms(settings, "verify")
    assert first_bad(run) == 5
    assert "checkpoint 10: root differs" in run.stdout


async def test_a_truncated_tail_is_found_against_the_exported_checkpoint(trail, db, settings):
    _, exported = trail
    await tamper(
        db,
        "DELETE FROM audit_log WHERE id IN (SELECT entry_id FROM audit_leaves WHERE position >= 7)",
        "DELETE FROM audit_leaves WHERE position >= 7",
        "DELETE FROM audit_tree_nodes WHERE (index + 1) * (1 << level) > 7",
        "DELETE FROM audit_checkpoints WHERE tree_size > 7",
        "UPDATE audit_tree_state SET size = 7",
    )
    # The database alone looks consistent: this is why checkpoints are exported.
    assert (await pms(settings, "verify")).returncode == 0
    run = await pms(settings, "verify", "--checkpoint", str(exported))
    assert first_bad(run) == 7
    assert "truncated: the log has 7 entries, exported checkpoint has 10" in run.stdout


async def test_a_checkpoint_signed_by_an_unknown_key_is_refused(trail, settings, tmp_path):
    _, exported = trail
    genuine = note.parse(exported.read_text())
    forged = note.sign(
        note.Checkpoint(genuine.checkpoint.origin, 10, genuine.checkpoint.root,
                        datetime.now(UTC)),
        genuine.key_name, Ed25519PrivateKey.generate(),
    )  # fmt: skip
    path = tmp_path / "forged.txt"
    path.write_text(forged.text())
    run = await pms(settings, "verify", "--checkpoint", str(path))
    assert run.returncode == 2 and "AUDIT_UNKNOWN_SIGNING_KEY" in run.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text(
        exported.read_text().replace(
            base64.b64encode(genuine.checkpoint.root).decode(), base64.b64encode(bytes(32)).decode()
        )
    )
    run = await pms(settings, "verify", "--checkpoint", str(bad))
    assert run.returncode == 2 and "AUDIT_INVALID_CHECKPOINT" in run.stderr


async def test_cli_proofs_and_their_bad_input(trail, settings):
    leaves, _ = trail
    ok = await pms(settings, "inclusion", str(leaves[3]["entry_id"]), "--size", "5")
    assert ok.returncode == 0 and '"leafIndex": 3' in ok.stdout and '"treeSize": 5' in ok.stdout
    missing = await pms(settings, "inclusion", "999999")
    assert missing.returncode == 2 and "AUDIT_ENTRY_NOT_IN_TREE" in missing.stderr
    beyond = await pms(settings, "consistency", "5", "11")
    assert beyond.returncode == 2 and "AUDIT_TREE_SIZE_OUT_OF_RANGE" in beyond.stderr
