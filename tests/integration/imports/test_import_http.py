"""Marketing-list imports over HTTP: GraphQL multipart upload and ``POST /imports``
(bearer token). Upload = dry run; confirmImport queues the apply once; the jobs task
applies it; the status shows progress and the final report."""

from __future__ import annotations

import csv
import json

import httpx
import pytest
from sqlalchemy import text

from app.core.db import Database
from app.exports import service as exports
from app.exports.cursor import ExportKind
from pms.asgi import create_app
from pms.tasks import run_jobs
from tests.auth import Auth
from tests.factories import create_player
from tests.integration.exports.helpers import player_with_consents
from tests.integration.imports.test_marketing_import import _segment, _state

UPLOAD = """
mutation U($file: Upload!, $importId: String, $format: String) {
  uploadMarketingList(file: $file, importId: $importId, format: $format) {
    __typename
    ... on MarketingImport { id state rows errorCount errors { line code message } report }
    ... on UserError { code message }
  }
}
"""
CONFIRM = """
mutation C($id: ID!) { confirmImport(id: $id) {
  __typename
  ... on MarketingImport { id state done total report error { code } }
  ... on UserError { code message }
} }
"""
STATUS = """query S($id: ID!) { marketingImport(id: $id) {
  id state rows done total report errors(first: 5) { line code } error { code message } } }"""


@pytest.fixture
def small_settings(settings):
    return settings.model_copy(update={"import_max_bytes": 1024, "import_batch_size": 1})


@pytest.fixture
async def api(small_settings, db):
    app = create_app(small_settings, database=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        yield http, Auth(app)


async def _upload(http, headers, data: bytes, name="list.csv", kind="text/csv", **variables):
    operations = {"query": UPLOAD, "variables": {"file": None, **variables}}
    response = await http.post(
        "/graphql", headers=headers, files={"0": (name, data, kind)},
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["data"]["uploadMarketingList"]


async def _gql(http, headers, query, variables):
    response = await http.post("/graphql", json={"query": query, "variables": variables},
                               headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _count(db: Database, sql: str) -> int:
    async with db.transaction() as s:
        return int((await s.execute(text(sql))).scalar_one())


async def test_a_list_with_row_errors_is_reported_by_line_and_cannot_be_confirmed(
    db: Database, small_settings, api
):
    http, auth = api
    player = await create_player(db, small_settings)
    marketer = await auth.staff_headers("MARKETER")
    data = (
        "email,login,player_id,action,value\n"
        f"{player.email},,,add_tag,vip\n"
        "nobody@example.com,,,add_tag,vip\n"  # line 3
        "not-an-email,,,add_tag,vip\n"  # 4
        f",{player.login},,consent_on,pigeon\n"  # 5
        f"{player.email},,,add_tag,vip\n"  # 6: duplicate of line 2
    ).encode()
    found = await _upload(http, marketer, data, importId="with-errors")
    assert found["__typename"] == "MarketingImport" and found["state"] == "HAS_ERRORS"
    assert (found["id"], found["rows"], found["errorCount"]) == ("with-errors", 5, 4)
    assert [(e["line"], e["code"]) for e in found["errors"]] == [
        (3, "UNKNOWN_PLAYER"), (4, "BAD_EMAIL"), (5, "UNKNOWN_CHANNEL"), (6, "DUPLICATE_ROW"),
    ]  # fmt: skip
    refused = (await _gql(http, marketer, CONFIRM, {"id": "with-errors"}))["confirmImport"]
    assert (refused["__typename"], refused["code"]) == ("ImportHasErrors", "IMPORT_HAS_ERRORS")
    missing = (await _gql(http, marketer, CONFIRM, {"id": "nope"}))["confirmImport"]
    assert missing["__typename"] == "NotFound"
    assert await _count(db, "SELECT count(*) FROM jobs") == 0
    assert await _state(db, player.id) == ({}, [], 0, 0)


async def test_confirmed_twice_applied_once_with_progress_and_opt_out_winning(
    db: Database, small_settings, api
):
    http, auth = api
    player = await create_player(db, small_settings)
    others = [await create_player(db, small_settings) for _ in range(3)]
    await _segment(db, small_settings, "spring")
    rows = [
        {"email": player.email, "action": "consent_on", "value": "email"},
        {"login": player.login, "action": "opt_out"},
        {"player_id": str(player.id), "action": "add_to_segment", "value": "spring"},
        *({"player_id": str(o.id), "action": "consent_on", "value": "sms"} for o in others),
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    marketer = await auth.staff_headers("MARKETER")

    found = await _upload(http, marketer, data, name="list.jsonl", kind="application/jsonl")
    assert found["state"] == "VALIDATED" and found["errors"] == [], found
    assert found["report"]["optInsOverriddenByOptOut"] == 1 and found["report"]["applied"] is False
    import_id = found["id"]
    assert await _state(db, player.id) == ({}, [], 0, 0)  # a dry run writes nothing

    first = (await _gql(http, marketer, CONFIRM, {"id": import_id}))["confirmImport"]
    second = (await _gql(http, marketer, CONFIRM, {"id": import_id}))["confirmImport"]
    assert first["state"] == second["state"] == "QUEUED" and first["id"] == second["id"]
    assert await _count(db, "SELECT count(*) FROM jobs") == 1

    assert await run_jobs(db, small_settings) == 1
    status = (await _gql(http, marketer, STATUS, {"id": import_id}))["marketingImport"]
    assert status["state"] == "APPLIED" and status["error"] is None
    assert status["done"] == status["total"] == 4  # players, reported batch by batch
    assert status["report"]["applied"] is True and status["report"]["consentsOn"] == 3
    consents, _, members, history = await _state(db, player.id)
    assert consents == {"email": False, "sms": False, "push": False, "phone": False}
    assert members == 1 and history >= 1
    assert [(await _state(db, o.id))[0]["sms"] for o in others] == [True] * 3

    third = (await _gql(http, marketer, CONFIRM, {"id": import_id}))["confirmImport"]
    assert third["state"] == "APPLIED" and third["report"] == status["report"]
    assert await run_jobs(db, small_settings) == 0
    assert (await _state(db, player.id))[3] == history  # applied once
    assert await _count(db, "SELECT count(*) FROM audit_log WHERE action = "
                            "'marketing_import.apply'") == 1  # fmt: skip
    assert await _count(db, "SELECT count(*) FROM audit_log WHERE action = "
                            "'graphql.confirmImport'") == 3  # fmt: skip


async def test_post_imports_with_a_bearer_token(db: Database, small_settings, api):
    http, auth = api
    player = await create_player(db, small_settings)
    data = f"email,action,value\n{player.email},consent_on,push\n".encode()
    csv = {"content-type": "text/csv"}

    assert (await http.post("/imports", content=data, headers=csv)).status_code == 401
    finance = await auth.staff_headers("FINANCE")
    denied = await http.post("/imports", content=data, headers={**csv, **finance})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "FORBIDDEN"

    marketer = {**csv, **await auth.staff_headers("MARKETER")}
    created = await http.post("/imports?importId=rest-1", content=data, headers=marketer)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["importId"], body["state"], body["rows"], body["errors"]) == (
        "rest-1",
        "VALIDATED",
        1,
        [],
    )
    reused = await http.post("/imports?importId=rest-1", content=data + b"x@y.z,opt_out,\n",
                             headers=marketer)  # fmt: skip
    assert reused.status_code == 400 and reused.json()["error"]["code"] == "IMPORT_ID_REUSED"
    confirmed = await http.post("/imports/rest-1/confirm", headers=marketer)
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "QUEUED"
    await run_jobs(db, small_settings)
    status = await http.get("/imports/rest-1", headers=marketer)
    assert status.json()["state"] == "APPLIED" and status.json()["done"] == 1
    assert (await _state(db, player.id))[0]["push"] is True
    assert (await http.get("/imports/none", headers=marketer)).status_code == 404
    too_long = await http.post("/imports?importId=" + "x" * 65, content=data, headers=marketer)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "VALIDATION_ERROR"
    async with db.transaction() as s:
        audited = (await s.execute(text(
            "SELECT action, target, outcome FROM audit_log WHERE action LIKE 'rest.%' ORDER BY id"
        ))).all()  # fmt: skip
    assert [tuple(r) for r in audited] == [
        ("rest.postImport", None, "denied"), ("rest.postImport", "import:rest-1", "success"),
        ("rest.postImport", "import:rest-1", "failure"),
        ("rest.confirmImport", "import:rest-1", "success"),
        ("rest.postImport", "import:" + "x" * 64, "failure"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"email,action\n" + b"a" * 2048, "over the limit"),
        (b"email;action;value\na@example.com;opt_out;\n", "delimiter"),
        (b"mail,action\na@example.com,opt_out\n", "columns needed"),
        (b"email,action\n\xff\xfe@x,opt_out\n", "not UTF-8"),
    ],
)
async def test_bad_files_are_typed_errors_and_store_nothing(
    db: Database, small_settings, api, data, message
):
    http, auth = api
    marketer = await auth.staff_headers("MARKETER")
    found = await _upload(http, marketer, data)
    assert found["__typename"] == "ImportFileInvalid" and message in found["message"]
    rest = await http.post("/imports", content=data, headers={"content-type": "text/csv",
                                                              **marketer})  # fmt: skip
    assert rest.status_code == 400 and rest.json()["error"]["code"] == "IMPORT_FILE_INVALID"
    assert message in rest.json()["error"]["message"]
    assert await _count(db, "SELECT count(*) FROM marketing_import_uploads") == 0


async def test_a_body_far_over_the_limit_is_cut_off_with_413(db: Database, small_settings, api):
    http, auth = api
    marketer = await auth.staff_headers("MARKETER")
    cap = max(small_settings.max_body_bytes, small_settings.import_max_bytes + 64 * 1024)
    huge = b"email,action\n" + b"a" * cap
    response = await http.post("/imports", content=huge, headers=marketer)
    assert response.status_code == 413
    # Plain GraphQL requests keep the ordinary body limit.
    big_json = {"query": "{ __typename }", "variables": {"x": "a" * (2 * 1024 * 1024)}}
    assert (await http.post("/graphql", json=big_json)).status_code == 413


async def test_uploads_may_exceed_the_ordinary_body_limit_up_to_the_import_limit(
    db: Database, settings, client, auth
):
    marketer = await auth.staff_headers("MARKETER")
    two_mb = b"email;action\n" + b"a;opt_out\n" * (2 * 1024 * 1024 // 10)
    assert settings.max_body_bytes < len(two_mb) < settings.import_max_bytes
    found = await _upload(client, marketer, two_mb)
    assert found["__typename"] == "ImportFileInvalid" and "delimiter" in found["message"]
    # Without a bearer token a multipart post is any site's form: refused before GraphQL.
    anonymous = await client.post("/graphql", files={"0": ("l.csv", b"x", "text/csv")},
                                  data={"operations": "{}", "map": "{}"})  # fmt: skip
    assert anonymous.status_code == 415


async def test_formula_cells_are_stored_as_text_and_escaped_again_in_the_csv_export(
    db: Database, small_settings, api, tmp_path
):
    http, auth = api
    players = [await player_with_consents(db, small_settings, email=True) for _ in range(3)]
    marketer = await auth.staff_headers("MARKETER")
    formulas = ['=HYPERLINK("http://evil")', "@SUM(A1)", "+1+1"]
    data = (
        "player_id,email,action,value\n"
        + "".join(
            f'{p},,add_tag,"{f.replace(chr(34), chr(34) * 2)}"\n'
            for p, f in zip(players, formulas, strict=True)
        )
        + ",=x@example.com,add_tag,vip\n"
    )  # an email column keeps its own rule
    found = await _upload(http, marketer, data.encode())
    assert [(e["line"], e["code"]) for e in found["errors"]] == [(5, "UNKNOWN_PLAYER")]

    clean = data.rsplit(",=x@", 1)[0].rsplit("\n", 1)[0] + "\n"
    found = await _upload(http, marketer, clean.encode(), importId="formulas")
    assert found["state"] == "VALIDATED", found
    await _gql(http, marketer, CONFIRM, {"id": "formulas"})
    assert await run_jobs(db, small_settings) == 1
    async with db.transaction() as s:
        rows = await s.execute(text("SELECT player_id, tag FROM player_tags"))
        stored = {player_id: tag for player_id, tag in rows}
    assert stored == dict(zip(players, formulas, strict=True))  # verbatim

    first = await exports.run_export(db, small_settings, ExportKind.CRM, None, tmp_path / "a",
                                     actor="t")  # fmt: skip
    with (first.directory / "players.csv").open(newline="") as f:
        cells = {r["playerId"]: r["tags"] for r in csv.DictReader(f)}
    assert cells == {str(p): "'" + t for p, t in zip(players, formulas, strict=True)}
    raw = [json.loads(line) for line in (first.directory / "players.jsonl").open()]
    assert {r["playerId"]: r["tags"] for r in raw} == {
        str(p): t for p, t in zip(players, formulas, strict=True)
    }
    again = await exports.run_export(db, small_settings, ExportKind.CRM, None, tmp_path / "b",
                                     actor="t")  # fmt: skip
    for name in ("players.csv", "players.jsonl", "manifest.json"):
        assert (again.directory / name).read_bytes() == (first.directory / name).read_bytes()
