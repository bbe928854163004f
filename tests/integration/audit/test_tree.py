"""The audit Merkle tree in the database: maintained in commit order without gaps, the
same tree from concurrent maintainers, signed checkpoints every N entries or M seconds,
proofs over GraphQL checked by an independent verifier, typed errors for bad input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from app.audit import checkpoints, note
from app.audit.canonical import encode
from app.core.db import Database
from tests import audit_verifier as ref
from tests.integration.audit.helpers import (
    audit_settings,
    b64,
    independent_root,
    leaves_in_order,
    maintain,
    write_rows,
)

INCLUSION = """query($e: ID!, $n: Int) { auditInclusionProof(entryId: $e, treeSize: $n) {
  __typename
  ... on AuditInclusionProof { entryId leafIndex treeSize leafHash rootHash path }
  ... on UserError { code message } } }"""
CONSISTENCY = """query($a: Int!, $b: Int) { auditConsistencyProof(first: $a, second: $b) {
  __typename
  ... on AuditConsistencyProof { first second firstRoot secondRoot path }
  ... on UserError { code message } } }"""
CHECKPOINT = """query($n: Int) { auditCheckpoint(treeSize: $n) {
  treeSize rootHash signedAt keyId note } }"""


async def test_tree_is_the_rfc6962_tree_of_the_rows_and_checkpoints_are_signed(
    db, settings, gql, auth, client
):
    s = audit_settings(settings, audit_checkpoint_every_entries=10)
    await write_rows(db, 7)
    assert await maintain(db, s) == 7
    await write_rows(db, 12)
    assert await maintain(db, s) == 12
    await write_rows(db, 3)
    assert await maintain(db, s) == 3  # 3 < 10 entries since the last: no checkpoint

    leaves = await leaves_in_order(db)
    assert [r["position"] for r in leaves] == list(range(22))
    assert all(r["leaf_hash"] == ref.leaf(encode(r)) for r in leaves)
    async with db.read_session() as session:
        stored = await checkpoints.all_checkpoints(session)
    assert [c.tree_size for c in stored] == [7, 19]
    for c in stored:
        assert c.root_hash == await independent_root(db, c.tree_size)

    headers = await auth.staff_headers("COMPLIANCE")
    cp = (await gql(CHECKPOINT, {"n": 19}, **headers))["data"]["auditCheckpoint"]
    keys = (await client.get("/.well-known/pms-audit-keys")).json()["keys"]
    assert len(keys) == 1 and keys[0]["algorithm"] == "Ed25519"
    public = b64(keys[0]["publicKey"])
    parsed = note.parse(cp["note"])
    note.verify(parsed, {(keys[0]["name"], bytes.fromhex(keys[0]["keyId"])): public})
    assert parsed.checkpoint.size == 19 and parsed.checkpoint.root == stored[1].root_hash
    assert b64(cp["rootHash"]) == stored[1].root_hash

    root19 = stored[1].root_hash
    for r in leaves[:19]:
        proof = (await gql(INCLUSION, {"e": str(r["entry_id"]), "n": 19}, **headers))["data"]
        p = proof["auditInclusionProof"]
        assert p["__typename"] == "AuditInclusionProof" and p["leafIndex"] == r["position"]
        assert ref.inclusion_ok(
            p["leafIndex"], 19, b64(p["leafHash"]), [b64(h) for h in p["path"]], root19
        )
    cons = (await gql(CONSISTENCY, {"a": 7, "b": 19}, **headers))["data"]["auditConsistencyProof"]
    assert ref.consistency_ok(7, 19, stored[0].root_hash, root19, [b64(h) for h in cons["path"]])
    assert b64(cons["firstRoot"]) == stored[0].root_hash and b64(cons["secondRoot"]) == root19
    current = (await gql(CONSISTENCY, {"a": 19}, **headers))["data"]["auditConsistencyProof"]
    assert current["second"] == 22
    assert b64(current["secondRoot"]) == await independent_root(db)


async def test_checkpoint_after_m_seconds_even_below_n_entries(db, settings):
    s = audit_settings(settings, audit_checkpoint_every_entries=1000)
    await write_rows(db, 2)
    await maintain(db, s)
    await write_rows(db, 1)
    await maintain(db, s)
    await write_rows(db, 1)
    await maintain(db, audit_settings(s, audit_checkpoint_every_seconds=0.0))
    async with db.read_session() as session:
        sizes = [c.tree_size for c in await checkpoints.all_checkpoints(session)]
    assert sizes == [2, 4]


async def test_bad_proof_requests_get_typed_errors(db, settings, gql, auth):
    await write_rows(db, 5)
    await maintain(db, settings)
    headers = await auth.staff_headers("COMPLIANCE")
    first = (await leaves_in_order(db))[0]["entry_id"]
    cases = [
        (INCLUSION, {"e": "999999"}, "auditInclusionProof", "AUDIT_ENTRY_NOT_IN_TREE"),
        (INCLUSION, {"e": "not-a-number"}, "auditInclusionProof", "AUDIT_ENTRY_NOT_IN_TREE"),
        (INCLUSION, {"e": str(first), "n": 6}, "auditInclusionProof",
         "AUDIT_TREE_SIZE_OUT_OF_RANGE"),
        (INCLUSION, {"e": str(first), "n": 0}, "auditInclusionProof", "AUDIT_ENTRY_NOT_IN_TREE"),
        (CONSISTENCY, {"a": 3, "b": 9}, "auditConsistencyProof", "AUDIT_TREE_SIZE_OUT_OF_RANGE"),
        (CONSISTENCY, {"a": 4, "b": 2}, "auditConsistencyProof", "AUDIT_TREE_SIZE_OUT_OF_RANGE"),
        (CONSISTENCY, {"a": -1}, "auditConsistencyProof", "AUDIT_TREE_SIZE_OUT_OF_RANGE"),
    ]  # fmt: skip
    for query, variables, field, code in cases:
        answer = (await gql(query, variables, **headers))["data"][field]
        assert answer["code"] == code, (variables, answer)
    async with db.read_session() as session:
        assert (await session.execute(text("SELECT size FROM audit_tree_state"))).scalar() == 5


@pytest.mark.parametrize("role", ["SUPPORT", "MARKETER", "FINANCE"])
async def test_proofs_are_for_compliance_and_admin_only(db, settings, gql, auth, role):
    await write_rows(db, 2)
    await maintain(db, settings)
    entry = str((await leaves_in_order(db))[0]["entry_id"])
    denied = await gql(INCLUSION, {"e": entry}, **await auth.staff_headers(role))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert denied["data"] is None or denied["data"]["auditInclusionProof"] is None
    for allowed_role in ("COMPLIANCE", "ADMIN"):
        ok = await gql(INCLUSION, {"e": entry}, **await auth.staff_headers(allowed_role))
        assert ok["data"]["auditInclusionProof"]["__typename"] == "AuditInclusionProof"


async def test_a_late_committing_row_gets_a_later_position_never_a_gap(db, settings):
    """T1 takes its id first but commits after T2 and after a maintainer pass."""
    async with db.engine.connect() as late:
        tx = await late.begin()
        await late.execute(
            text(
                "INSERT INTO audit_log (actor, action, outcome) "
                "VALUES ('staff:late', 'late', 'success')"
            )
        )
        await write_rows(db, 2, action="early")
        assert await maintain(db, settings) == 2
        await tx.commit()
    assert await maintain(db, settings) == 1
    leaves = await leaves_in_order(db)
    assert [(r["position"], r["action"]) for r in leaves] == [
        (0, "early"),
        (1, "early"),
        (2, "late"),
    ]
    assert leaves[2]["entry_id"] < leaves[0]["entry_id"]  # the smaller id, sequenced last


@pytest.mark.race
async def test_concurrent_maintainers_build_one_consistent_tree(db, settings):
    s = audit_settings(settings, audit_tree_batch=7, audit_checkpoint_every_entries=5)
    engines = [Database(settings.database_url or "", pool_size=2, max_overflow=0)
               for _ in range(4)]  # fmt: skip
    stop = asyncio.Event()

    async def maintainer(database: Database) -> None:
        while not stop.is_set():
            await maintain(database, s)
            await asyncio.sleep(0)

    async def writer() -> None:
        for _ in range(15):
            await write_rows(db, 4)
            await asyncio.sleep(0.005)

    try:
        tasks = [asyncio.create_task(maintainer(e)) for e in engines]
        await asyncio.gather(writer(), writer())
        stop.set()
        await asyncio.gather(*tasks)
        await maintain(engines[0], s)
    finally:
        for e in engines:
            await e.dispose()
    leaves = await leaves_in_order(db)
    assert [r["position"] for r in leaves] == list(range(120))
    assert len({r["entry_id"] for r in leaves}) == 120
    async with db.read_session() as session:
        stored = await checkpoints.all_checkpoints(session)
        nodes = (await session.execute(text("SELECT count(*) FROM audit_tree_nodes"))).scalar()
    assert nodes == sum(120 >> level for level in range(1, 7))
    assert len(stored) >= 2
    for c in stored:
        assert c.root_hash == await independent_root(db, c.tree_size)
