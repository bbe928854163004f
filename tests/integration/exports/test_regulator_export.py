"""The regulator export: a bundle of a time range with point-in-time balances and audit
entries proven in a signed checkpoint; ``pms export verify`` finds every kind of tampering
and names it; bad ranges and unknown players leave no files."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from app.audit import note, tasks
from app.audit.canonical import encode
from app.audit.service import Actor
from app.core import bundles
from app.core.errors import NotFound
from app.exports import signing
from app.exports.errors import InvalidExportRange
from app.exports.regulator import RegulatorRange, entry_from_row, run_regulator_export
from app.exports.regulator_verify import verify_directory
from app.ledger.balances_at import balances_at
from app.players.models import PlayerStatus
from tests import audit_verifier as ref
from tests.integration.exports.helpers import deposit, player_with_consents, set_status
from tests.integration.exports.test_export_cli import pms


async def db_now(db) -> datetime:
    async with db.read_session() as s:
        return (await s.execute(text("SELECT clock_timestamp()"))).scalar_one()


def rows(directory: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (directory / f"{name}.jsonl").read_text().splitlines()]


async def kyc_decision(db, player: uuid.UUID) -> None:
    case = uuid.uuid4()
    async with db.transaction() as s:
        await s.execute(
            text("INSERT INTO kyc_cases (id, player_id, provider, status, documents) "
                 "VALUES (:c, :p, 'sandbox', 'VERIFIED', '[]')"),
            {"c": case, "p": player},
        )  # fmt: skip
        await s.execute(
            text("INSERT INTO kyc_case_events (case_id, player_id, actor, action, from_status, "
                 "to_status, risk_level, reasons) VALUES (:c, :p, 'staff:k-1', 'review', "
                 "'MANUAL_REVIEW', 'VERIFIED', 'LOW', '[\"documents ok\"]')"),
            {"c": case, "p": player},
        )  # fmt: skip


@pytest.fixture
async def history(db, settings):
    """Two players; money, a block and a KYC decision before and after a middle time."""
    alice = await player_with_consents(db, settings)
    bob = await player_with_consents(db, settings)
    await deposit(db, settings, alice, "10.00", "EUR")
    await deposit(db, settings, bob, "3.00", "EUR")
    await tasks.checkpoint_now(db, settings)  # the checkpoint current at `middle`
    await asyncio.sleep(0.01)
    middle = await db_now(db)
    await deposit(db, settings, alice, "5.00", "EUR")
    await set_status(db, bob, PlayerStatus.BLOCKED)
    await kyc_decision(db, alice)
    await asyncio.sleep(0.01)
    end = await db_now(db)
    await deposit(db, settings, alice, "7.00", "EUR")  # after the range: not exported
    return {"alice": alice, "bob": bob, "middle": middle, "end": end}


async def export(db, settings, out: Path, start, end, player=None, **kw):
    return await run_regulator_export(
        db, settings, RegulatorRange(start, end, player), out, actor=Actor("staff:c-1"), **kw
    )


async def test_bundle_holds_the_range_with_balances_then_and_proven_audit_entries(
    db, settings, history, tmp_path
):
    seen: list[tuple[int, int]] = []
    result = await export(db, settings, tmp_path, history["middle"], history["end"],
                          progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    bundle = result.directory
    transfers = rows(bundle, "ledger_transfers")
    assert [(t["playerId"], t["amount"]) for t in transfers] == [(str(history["alice"]), 500)]
    balances = {(b["playerId"], b["kind"]): b["balance"] for b in rows(bundle, "balances_to")}
    assert balances[(str(history["alice"]), "REAL")] == 1500
    assert balances[(str(history["bob"]), "REAL")] == 300
    before = {(b["playerId"], b["kind"]): b["balance"] for b in rows(bundle, "balances_from")}
    assert before[(str(history["alice"]), "REAL")] == 1000
    # The same figures as the balancesAt rule gives (one rule, two ways out).
    async with db.read_session() as s:
        ledger = await balances_at(s, history["end"], limit=1000)
    assert {(str(b.player_id), b.kind): b.balance for b in ledger} == balances
    [status] = rows(bundle, "status_changes")
    assert (status["playerId"], status["toStatus"]) == (str(history["bob"]), "BLOCKED")
    [kyc] = rows(bundle, "kyc_decisions")
    assert (kyc["playerId"], kyc["toStatus"]) == (str(history["alice"]), "VERIFIED")
    assert {p["id"] for p in rows(bundle, "players")} == {str(history["alice"]),
                                                           str(history["bob"])}  # fmt: skip

    manifest = json.loads((bundle / "manifest.json").read_text())
    counts = {f["name"]: f["rows"] for f in manifest["files"]}
    assert counts["ledger_transfers.jsonl"] == counts["ledger_transfers.csv"] == 1
    assert manifest["kind"] == "regulator" and manifest["range"]["to"] == history["end"].isoformat()
    # Audit entries: each re-encoded and proven by the test's own RFC 6962 code against
    # the root of the signed checkpoint in the bundle.
    signed = note.parse((bundle / "checkpoint.txt").read_text())
    entries = rows(bundle, "audit_entries")
    assert entries and {e["action"] for e in entries} == {"ledger.deposit"}
    for e in entries:
        leaf = ref.leaf(encode(entry_from_row(e)))
        path = [base64.b64decode(h) for h in e["inclusionPath"].split()]
        assert ref.inclusion_ok(e["position"], signed.checkpoint.size, leaf, path,
                                signed.checkpoint.root)  # fmt: skip
    times = [datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in entries]
    assert all(history["middle"] < t <= history["end"] for t in times)
    consistency = manifest["audit"]["consistency"]
    earlier = note.parse((bundle / "checkpoint_previous.txt").read_text()).checkpoint
    assert ref.consistency_ok(earlier.size, signed.checkpoint.size, earlier.root,
                              signed.checkpoint.root,
                              [base64.b64decode(h) for h in consistency["path"]])  # fmt: skip
    total = seen[-1][1]
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    # The export itself is an audited read of personal data.
    async with db.read_session() as s:
        audited = (await s.execute(text(
            "SELECT details->>'manifestSha256' FROM audit_log WHERE action = 'export.regulator'"
        ))).scalars().all()  # fmt: skip
    assert audited == [result.manifest_sha256]


async def test_one_players_bundle_holds_only_that_player(db, settings, history, tmp_path):
    alice = history["alice"]
    result = await export(db, settings, tmp_path, history["middle"], history["end"], alice)
    bundle = result.directory
    for name in ("players", "ledger_transfers", "balances_to", "balances_from",
                 "kyc_decisions"):  # fmt: skip
        found = {r.get("playerId", r.get("id")) for r in rows(bundle, name)}
        assert found == {str(alice)}, name
    assert rows(bundle, "status_changes") == []
    for e in rows(bundle, "audit_entries"):
        assert str(alice) in (e["resource"] or "") + e["actor"], e


@pytest.mark.parametrize(
    ("shift_start", "shift_end", "message"),
    [
        (timedelta(0), timedelta(hours=-1), "reversed"),
        (timedelta(0), timedelta(0), "reversed or empty"),
        (timedelta(0), timedelta(days=1), "in the future"),
    ],
)
async def test_bad_ranges_are_refused_and_leave_no_files(
    db, settings, tmp_path, shift_start, shift_end, message
):
    now = await db_now(db)
    with pytest.raises(InvalidExportRange, match=message):
        await export(db, settings, tmp_path, now + shift_start, now + shift_end)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


async def test_unknown_player_and_too_long_graphql_range_are_refused(db, settings, tmp_path):
    now = await db_now(db)
    with pytest.raises(NotFound):
        await export(db, settings, tmp_path, now - timedelta(days=1), now, uuid.uuid4())
    with pytest.raises(InvalidExportRange, match="longer than 31 days"):
        await export(db, settings, tmp_path, now - timedelta(days=40), now, max_days=31)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


async def test_a_failure_midway_leaves_no_partial_bundle(db, settings, history, tmp_path):
    def explode(done: int, total: int) -> None:
        if done:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        await export(db, settings, tmp_path, history["middle"], history["end"], progress=explode)
    assert list(tmp_path.iterdir()) == []


# --- the CLI and its verifier ----------------------------------------------------------


async def resign(db, settings, bundle: Path, manifest: dict) -> None:
    """A forger holding the export key: rewrites the manifest and signs it again."""
    for entry in manifest["files"]:
        path = bundle / entry["name"]
        entry["sha256"] = bundles._sha256(path)
        entry["bytes"] = path.stat().st_size
        entry["rows"] = bundles.count_rows(path) or entry["rows"]
    async with db.transaction() as s:
        _, key = await signing.active_key(s, settings)
    data = (bundles.canonical_json(manifest) + "\n").encode()
    (bundle / "manifest.json").write_bytes(data)
    (bundle / "manifest.json.sig").write_bytes(base64.b64encode(key.sign(data)) + b"\n")


def edit_line(path: Path, index: int, change) -> None:
    lines = path.read_text().splitlines()
    row = json.loads(lines[index])
    change(row)
    lines[index] = bundles.canonical_json(row)
    path.write_text("\n".join(lines) + "\n")


async def test_cli_exports_and_verify_names_each_kind_of_tampering(db, settings, history, tmp_path):
    start, end = history["middle"].isoformat(), history["end"].isoformat()
    made = await asyncio.to_thread(pms, settings, "export", "regulator", "--from", start,
                                   "--to", end, "--out", str(tmp_path / "out"),
                                   "--progress")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "100%" in made.stderr and "ETA" in made.stderr
    bundle = Path(next(x for x in made.stdout.splitlines() if x.startswith("bundle: "))[8:])
    manifest = json.loads((bundle / "manifest.json").read_text())

    cases: dict[str, Path] = {}
    for name in ("clean", "edited", "removed", "swapped", "signature", "audit", "checkpoint"):
        cases[name] = tmp_path / name
        shutil.copytree(bundle, cases[name])
    edit_line(cases["edited"] / "ledger_transfers.jsonl", 0, lambda r: r.update(amount=50000))
    lines = (cases["removed"] / "balances_to.jsonl").read_text().splitlines()
    (cases["removed"] / "balances_to.jsonl").write_text("\n".join(lines[1:]) + "\n")
    a, b = cases["swapped"] / "balances_from.csv", cases["swapped"] / "balances_to.csv"
    a_data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(a_data)
    sig = cases["signature"] / "manifest.json.sig"
    raw = bytearray(base64.b64decode(sig.read_bytes()))
    raw[0] ^= 1
    sig.write_bytes(base64.b64encode(bytes(raw)) + b"\n")
    # With the export key stolen, the audit part still holds against the audit key.
    edit_line(cases["audit"] / "audit_entries.jsonl", 0, lambda r: r.update(outcome="failure"))
    await resign(db, settings, cases["audit"], json.loads(json.dumps(manifest)))
    forged = note.sign(note.parse((bundle / "checkpoint.txt").read_text()).checkpoint,
                       settings.audit_log_origin, Ed25519PrivateKey.generate())  # fmt: skip
    (cases["checkpoint"] / "checkpoint.txt").write_text(forged.text())
    await resign(db, settings, cases["checkpoint"], json.loads(json.dumps(manifest)))

    found = {}
    async with db.read_session() as session:
        for name, path in cases.items():
            found[name] = "\n".join(await verify_directory(session, path))
    assert found["clean"] == ""
    expected = {
        "edited": "ledger_transfers.jsonl: SHA-256 does not match the manifest",
        "removed": "balances_to.jsonl: 7 rows, the manifest says 8",
        "swapped": "balances_from.csv: SHA-256 does not match the manifest",
        "signature": "the manifest signature does not verify",
        "audit": "was edited (its fields do not hash to its leaf)",
        "checkpoint": "checkpoint.txt: checkpoint signed by unknown key",
    }
    for name, message in expected.items():
        assert message in found[name], (name, found[name])
    assert "balances_to.csv: SHA-256 does not match" in found["swapped"]
    assert "is not proven in the checkpoint" in found["audit"]
    # The command: exit 0 and OK for the intact bundle, 1 naming the problem otherwise.
    clean, edited = await asyncio.gather(
        asyncio.to_thread(pms, settings, "export", "verify", str(cases["clean"])),
        asyncio.to_thread(pms, settings, "export", "verify", str(cases["audit"])),
    )
    assert (clean.returncode, clean.stdout.strip()) == (0, "OK"), clean
    assert edited.returncode == 1 and "FAIL audit_entries.jsonl line 1: entry" in edited.stdout


async def test_cli_refuses_a_reversed_range_with_its_code(db, settings, tmp_path):
    now = datetime.now(UTC)
    run, bad = await asyncio.gather(
        asyncio.to_thread(pms, settings, "export", "regulator", "--from", now.isoformat(),
                          "--to", (now - timedelta(days=1)).isoformat(),
                          "--out", str(tmp_path / "x")),
        asyncio.to_thread(pms, settings, "export", "regulator", "--from", "2026-01-01",
                          "--to", "yesterday"),
    )  # fmt: skip
    assert run.returncode == 2 and "EXPORT_RANGE_INVALID" in run.stderr, run.stderr
    assert not (tmp_path / "x").exists() or list((tmp_path / "x").iterdir()) == []
    assert bad.returncode == 2 and "--to: not an ISO 8601 time" in bad.stderr


# --- GraphQL ---------------------------------------------------------------------------

EXPORT = """mutation($from: DateTime!, $to: DateTime!, $p: ID) {
  exportRegulatorBundle(from: $from, to: $to, playerId: $p) {
    __typename ... on UserError { code message }
    ... on RegulatorExport { directory manifestSha256 auditTreeSize auditRootHash
                             files { name rows sha256 } } } }"""


@pytest.fixture
def app(settings, db, tmp_path):
    from pms.asgi import create_app

    server = settings.model_copy(update={"export_dir": str(tmp_path / "server")})
    return create_app(server, database=db)


async def test_compliance_exports_through_graphql_and_others_are_forbidden(
    gql, auth, db, settings, history, tmp_path
):
    span = {"from": history["middle"].isoformat(), "to": history["end"].isoformat()}
    body = await gql(EXPORT, span, **await auth.staff_headers("COMPLIANCE", "c-7"))
    answer = body["data"]["exportRegulatorBundle"]
    assert answer["__typename"] == "RegulatorExport", body
    bundle = Path(answer["directory"])
    assert bundle.parent == tmp_path / "server"
    assert bundles.sha256_hex((bundle / "manifest.json").read_bytes()) == answer["manifestSha256"]
    files = {f["name"]: f["rows"] for f in answer["files"]}
    assert files["ledger_transfers.jsonl"] == 1 and files["checkpoint.txt"] == 1
    async with db.read_session() as s:
        assert await verify_directory(s, bundle) == []
        audited = (await s.execute(text(
            "SELECT actor, outcome FROM audit_log WHERE action = 'export.regulator'"
        ))).all()  # fmt: skip
    assert [tuple(r) for r in audited] == [("staff:c-7", "success")]

    for role in ("SUPPORT", "MARKETER", "FINANCE"):
        denied = await gql(EXPORT, span, **await auth.staff_headers(role, f"{role}-1"))
        assert denied["data"]["exportRegulatorBundle"]["__typename"] == "Forbidden", role
    now = await db_now(db)
    cases = [
        ({"from": now.isoformat(), "to": (now + timedelta(hours=1)).isoformat()},
         "EXPORT_RANGE_INVALID"),
        ({"from": (now - timedelta(days=32)).isoformat(), "to": now.isoformat()},
         "EXPORT_RANGE_INVALID"),
        ({**span, "p": str(uuid.uuid4())}, "NOT_FOUND"),
        ({**span, "p": "not-a-player"}, "VALIDATION_ERROR"),
    ]  # fmt: skip
    admin = await auth.staff_headers("ADMIN", "a-1")
    for variables, code in cases:
        refused = await gql(EXPORT, variables, **admin)
        assert refused["data"]["exportRegulatorBundle"]["code"] == code, (variables, refused)
    assert [p.name for p in (tmp_path / "server").iterdir()] == [bundle.name]


# --- streaming -------------------------------------------------------------------------


async def test_memory_stays_flat_as_the_range_grows(db, settings, tmp_path, monkeypatch):
    """Batches of 200: four times the audit entries (with their proofs) and transfers
    must not need four times the memory; a buffered export would (~2 kB a row)."""
    import tracemalloc

    from app.exports import regulator_repository, repository

    monkeypatch.setattr(regulator_repository, "BATCH", 200)
    monkeypatch.setattr(repository, "BATCH", 200)
    peaks = []
    for n in (1500, 6000):
        start = await db_now(db)
        async with db.transaction() as s:
            await s.execute(text(
                "INSERT INTO audit_log (actor, principal_kind, action, target, outcome, ip, "
                "request_id, user_agent, details) SELECT 'staff:s-' || g, 'staff', 'bulk', "
                "'p-' || g, 'success', '10.0.0.1', md5(g::text), 'ua', "
                "jsonb_build_object('note', repeat('x', 400), 'n', g) "
                "FROM generate_series(1, :n) g"), {"n": n})  # fmt: skip
        await asyncio.sleep(0.01)
        end = await db_now(db)
        # The maintainer's memory is bounded by its batch (audit_tree_batch), not by the
        # range: sequence first, so the peak measured is the export's own.
        await tasks.maintain(db, settings)
        tracemalloc.start()
        result = await export(db, settings, tmp_path / str(n), start, end)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert {f.name: f.rows for f in result.files}["audit_entries.jsonl"] == n
    grown = peaks[1] - peaks[0]
    assert grown < 3 * 1024 * 1024, f"peak grew {grown / 1e6:.1f} MB for 4500 more rows ({peaks})"


async def test_a_receiver_verifies_offline_with_the_published_keys(
    db, settings, history, client, tmp_path
):
    import os
    import subprocess
    import sys

    from tests.integration.exports.test_export_cli import ROOT

    result = await export(db, settings, tmp_path / "out", history["middle"], history["end"])
    export_doc = (await client.get("/.well-known/pms-export-keys")).json()
    audit_doc = (await client.get("/.well-known/pms-audit-keys")).json()
    assert [k["algorithm"] for k in export_doc["keys"]] == ["Ed25519"]
    (tmp_path / "export-keys.json").write_text(json.dumps(export_doc))
    (tmp_path / "audit-keys.json").write_text(json.dumps(audit_doc))
    tampered = tmp_path / "tampered"
    shutil.copytree(result.directory, tampered)
    edit_line(tampered / "audit_entries.jsonl", 0, lambda r: r.update(actor="staff:nobody"))
    await resign(db, settings, tampered, json.loads((tampered / "manifest.json").read_text()))

    # No database at all: a dead URL proves the keys come from the documents.
    env = {**os.environ, "PMS_DATABASE_URL": "postgresql+asyncpg://x@127.0.0.1:9/none",
           "PMS_ENV": "test"}  # fmt: skip

    def verify(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pms", "export", "verify", str(path), "--export-keys",
             str(tmp_path / "export-keys.json"), "--audit-keys", str(tmp_path / "audit-keys.json")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    good, bad = await asyncio.gather(
        asyncio.to_thread(verify, result.directory), asyncio.to_thread(verify, tampered)
    )
    assert (good.returncode, good.stdout.strip()) == (0, "OK"), (good.stdout, good.stderr)
    assert bad.returncode == 1 and "was edited" in bad.stdout, (bad.stdout, bad.stderr)
