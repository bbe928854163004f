"""Exports started over GraphQL as background jobs: the mutation queues, the task runner
(pms/tasks.py) runs, the status query shows state, progress, rows, cursor and manifest.
Also: several replicas claiming at once, a dead replica's lease, the schedule."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.core import bundles, jobs
from app.core.db import Database
from app.exports import jobs as export_jobs
from app.exports import signing
from app.exports.cursor import ExportKind
from pms.asgi import create_app
from pms.tasks import run_jobs
from tests.auth import Auth
from tests.conftest import GraphQLClient
from tests.integration.exports.helpers import deposit, player_with_consents

START_CRM = """
mutation S($since: String, $channels: [String!]) {
  startCrmExport(since: $since, channels: $channels) {
    __typename
    ... on ExportQueued { job { id kind state since } }
    ... on UserError { code message }
  }
}
"""
START_ERP = """
mutation S($since: String) {
  startErpExport(since: $since) {
    __typename
    ... on ExportQueued { job { id kind state since } }
    ... on UserError { code message }
  }
}
"""
JOB_FIELDS = """id kind state since done total files { name rows } nextCursor manifestPath
  manifestSha256 push { state attempts files error } error { code message } requestedBy
  startedAt finishedAt"""
CRM_JOB = f"query J($id: ID!) {{ crmExportJob(id: $id) {{ {JOB_FIELDS} }} }}"
ERP_JOB = f"query J($id: ID!) {{ erpExportJob(id: $id) {{ {JOB_FIELDS} }} }}"


@pytest.fixture
def job_settings(settings, tmp_path):
    return settings.model_copy(update={"export_dir": str(tmp_path / "exports")})


@pytest.fixture
async def api(job_settings, db):
    app = create_app(job_settings, database=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        yield GraphQLClient(http), Auth(app)


def _sha256(path: Path) -> str:
    return bundles.sha256_hex(path.read_bytes())


async def _job_rows(db: Database) -> list[tuple[str, str, int]]:
    async with db.transaction() as s:
        rows = await s.execute(text("SELECT kind, state, attempts FROM jobs ORDER BY created_at"))
        return [tuple(r) for r in rows]


async def test_a_marketer_starts_a_crm_export_and_reads_its_finished_job(
    db: Database, job_settings, api
):
    gql, auth = api
    await player_with_consents(db, job_settings, email=True)
    await player_with_consents(db, job_settings, sms=True)
    marketer = await auth.staff_headers("MARKETER")

    started = (await gql(START_CRM, {"channels": ["email"]}, **marketer))["data"]["startCrmExport"]
    assert started["__typename"] == "ExportQueued", started
    job = started["job"]
    assert (job["kind"], job["state"], job["since"]) == ("crm", "QUEUED", "crm:v1:0")
    queued = (await gql(CRM_JOB, {"id": job["id"]}, **marketer))["data"]["crmExportJob"]
    assert queued["state"] == "QUEUED" and queued["nextCursor"] is None

    assert await run_jobs(db, job_settings) == 1

    done = (await gql(CRM_JOB, {"id": job["id"]}, **marketer))["data"]["crmExportJob"]
    assert done["state"] == "DONE" and done["error"] is None, done
    rows = {f["name"]: f["rows"] for f in done["files"]}
    assert rows["players.jsonl"] == 2 and rows["segment_memberships.jsonl"] == 0
    assert done["done"] == done["total"] == 2
    assert re.fullmatch(r"crm:v1:[1-9][0-9]*", done["nextCursor"])
    assert done["requestedBy"].startswith("staff:") and done["finishedAt"] and done["push"] is None
    manifest = Path(done["manifestPath"])
    assert manifest.parent.parent == Path(job_settings.export_dir)
    assert _sha256(manifest) == done["manifestSha256"]
    async with db.transaction() as s:
        key = await signing.public_key(s, bundles.read_manifest(manifest.parent)["keyId"])
    assert key is not None and bundles.verify_bundle(manifest.parent, key) == []
    assert bundles.read_manifest(manifest.parent)["cursor"]["until"] == done["nextCursor"]
    # The next job starts from that cursor: nothing new, an empty range.
    again = (await gql(START_CRM, {"since": done["nextCursor"]}, **marketer))["data"]
    await run_jobs(db, job_settings)
    second = await gql(CRM_JOB, {"id": again["startCrmExport"]["job"]["id"]}, **marketer)
    assert second["data"]["crmExportJob"]["nextCursor"] == done["nextCursor"]


async def test_export_permissions_follow_the_kind(db: Database, job_settings, api):
    gql, auth = api
    finance = await auth.staff_headers("FINANCE")
    marketer = await auth.staff_headers("MARKETER")
    support = await auth.staff_headers("SUPPORT")

    refused = (await gql(START_CRM, {}, **finance))["data"]["startCrmExport"]
    assert refused == {"__typename": "Forbidden", "code": "FORBIDDEN",
                       "message": "you may not do this"}  # fmt: skip
    assert (await gql(START_ERP, {}, **marketer))["data"]["startErpExport"]["code"] == "FORBIDDEN"
    assert (await gql(START_ERP, {}, **support))["data"]["startErpExport"]["code"] == "FORBIDDEN"
    erp = (await gql(START_ERP, {}, **finance))["data"]["startErpExport"]
    assert erp["__typename"] == "ExportQueued"
    assert await _job_rows(db) == [("export.erp", "QUEUED", 0)]  # the refusals queued nothing
    # A job is read through its kind's query and permission only.
    job_id = erp["job"]["id"]
    assert (await gql(ERP_JOB, {"id": job_id}, **finance))["data"]["erpExportJob"]["id"] == job_id
    assert (await gql(ERP_JOB, {"id": job_id}, **marketer))["data"]["erpExportJob"] is None
    admin = await auth.staff_headers("ADMIN")
    assert (await gql(CRM_JOB, {"id": job_id}, **admin))["data"]["crmExportJob"] is None
    async with db.transaction() as s:
        denied = (await s.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'graphql.startCrmExport' "
            "AND outcome = 'denied'"))).scalar_one()  # fmt: skip
    assert denied == 1


async def test_bad_cursors_and_channels_are_typed_and_queue_nothing(
    db: Database, job_settings, api
):
    gql, auth = api
    admin = await auth.staff_headers("ADMIN")
    other = (await gql(START_ERP, {"since": "crm:v1:0"}, **admin))["data"]["startErpExport"]
    assert other["__typename"] == "ExportCursorKindMismatch"
    assert other["code"] == "EXPORT_CURSOR_KIND_MISMATCH"
    bogus = (await gql(START_CRM, {"since": "yesterday"}, **admin))["data"]["startCrmExport"]
    assert (bogus["__typename"], bogus["code"]) == ("InvalidExportCursor", "INVALID_EXPORT_CURSOR")
    fax = (await gql(START_CRM, {"channels": ["fax"]}, **admin))["data"]["startCrmExport"]
    assert fax["__typename"] == "ValidationError"
    assert await _job_rows(db) == []


async def test_a_job_that_fails_records_its_typed_error(db: Database, job_settings, api):
    gql, auth = api
    admin = await auth.staff_headers("ADMIN")
    ahead = (await gql(START_ERP, {"since": "erp:v1:999999"}, **admin))["data"]["startErpExport"]
    await run_jobs(db, job_settings)
    job = (await gql(ERP_JOB, {"id": ahead["job"]["id"]}, **admin))["data"]["erpExportJob"]
    assert job["state"] == "FAILED" and job["error"]["code"] == "INVALID_EXPORT_CURSOR"
    assert job["nextCursor"] is None and job["manifestPath"] is None


@pytest.mark.race
async def test_replicas_claim_each_job_once(db: Database, job_settings):
    """Eight runners (replicas) drain twelve jobs at once: every job runs exactly once."""
    player = await player_with_consents(db, job_settings, email=True)
    await deposit(db, job_settings, player, "10.00", "EUR")
    async with db.transaction() as s:
        for n in range(12):
            kind = ExportKind.ERP if n % 2 else ExportKind.CRM
            await export_jobs.start(s, kind, None, "test")
    ran = await asyncio.gather(*(run_jobs(db, job_settings) for _ in range(8)))
    assert sum(ran) == 12
    rows = await _job_rows(db)
    assert len(rows) == 12 and {(state, attempts) for _, state, attempts in rows} == {("DONE", 1)}


async def test_a_running_job_whose_lease_ran_out_is_taken_over(db: Database, job_settings):
    async with db.transaction() as s:
        job = await export_jobs.start(s, ExportKind.ERP, None, "test")
    claimed = await jobs.claim(db, ["export.erp"], 60)
    assert claimed is not None and claimed.id == job.id
    assert await jobs.claim(db, ["export.erp"], 60) is None  # leased: nobody else takes it
    async with db.transaction() as s:  # the replica died: its lease runs out
        await s.execute(text("UPDATE jobs SET lease_until = now() - interval '1 second'"))
    assert await run_jobs(db, job_settings) == 1
    assert await _job_rows(db) == [("export.erp", "DONE", 2)]


async def test_the_schedule_queues_due_exports_from_the_last_cursor(db: Database, job_settings):
    scheduled = job_settings.model_copy(update={"export_schedule": {"erp": 3600.0}})
    player = await player_with_consents(db, scheduled, email=True)
    await deposit(db, scheduled, player, "10.00", "EUR")
    first = await export_jobs.schedule(db, scheduled)
    assert [j.payload["since"] for j in first] == ["erp:v1:0"]
    assert await export_jobs.schedule(db, scheduled) == []  # one is queued already
    await run_jobs(db, scheduled)
    assert await export_jobs.schedule(db, scheduled) == []  # not due for an hour
    async with db.transaction() as s:
        done = await jobs.get(s, first[0].id)
        await s.execute(text("UPDATE jobs SET created_at = now() - interval '2 hours'"))
    assert done is not None and done.result is not None
    second = await export_jobs.schedule(db, scheduled)
    assert [j.payload["since"] for j in second] == [done.result["nextCursor"]]
    assert second[0].requested_by == export_jobs.SCHEDULE_ACTOR
