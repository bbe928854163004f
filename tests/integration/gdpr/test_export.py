"""GDPR subject access export: complete by construction (driven by the schema), with the
player's real data, through GraphQL (COMPLIANCE/ADMIN, audited) and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table on the metadata)
from app.gdpr.export import PRINCIPAL_COLUMNS, SKIP_TABLES, WITHHELD_VALUE
from tests.factories import create_player
from tests.integration.wallets.conftest import MUTATIONS, new_key

EXPORT = """mutation($p: ID!) { exportPlayerData(playerId: $p) {
  __typename ... on PlayerDataExport { playerId document } ... on UserError { code } } }"""


@pytest.fixture
async def player(db, settings):
    return await create_player(db, settings, email="gdpr.subject@example.com")


def tables_about_players() -> dict[str, list[str]]:
    """From the models: tables with a foreign key to players.id, or a player_id column, or
    a principal column - each with every column it has."""
    out = {}
    for table in SQLModel.metadata.sorted_tables:
        if table.name in SKIP_TABLES:
            continue
        refers = any(fk.column.table.name == "players" for fk in table.foreign_keys)
        if (
            table.name == "players"
            or refers
            or "player_id" in table.c
            or any(c in table.c for c in PRINCIPAL_COLUMNS)
        ):
            out[table.name] = [c.name for c in table.columns]
    return out


def test_every_foreign_key_to_players_is_one_the_export_follows():
    """The export finds a player's rows by ``player_id``: a new reference to players under
    another name fails here until the export learns it."""
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "players":
                assert fk.parent.name == "player_id", f"{table.name}.{fk.parent.name}"


async def export(gql, auth, player, role="COMPLIANCE") -> dict:
    body = await gql(EXPORT, {"p": str(player)}, **await auth.staff_headers(role, f"{role}-9"))
    return body


async def test_export_holds_every_table_and_column_about_players_with_their_rows(
    gql, auth, db, app, player, client
):
    token_headers = await auth.service_headers("wallet:operate", "player:read", client_id="ge")
    deposit = {"input": {"playerId": str(player.id), "amount": "12.00", "currency": "EUR",
                         "paymentReference": "tok_g", "idempotencyKey": new_key()}}  # fmt: skip
    assert "errors" not in await gql(MUTATIONS["deposit"], deposit, **token_headers)

    body = await export(gql, auth, player.id)
    answer = body["data"]["exportPlayerData"]
    assert answer["__typename"] == "PlayerDataExport", body
    document = json.loads(answer["document"])
    tables = document["tables"]

    for table, columns in tables_about_players().items():
        assert table in tables, table
        assert set(tables[table]["columns"]) == set(columns), table
    me = tables["players"]["rows"]
    assert len(me) == 1 and me[0]["email"] == player.email
    assert me[0]["password_hash"] == WITHHELD_VALUE
    transfers = tables["ledger_transfers"]["rows"]
    assert [(t["amount"], t["kind"]) for t in transfers] == [(1200, "DEPOSIT")]
    wallets = {w["kind"]: w["balance"] for w in tables["wallets"]["rows"]}
    assert wallets["REAL"] == 1200
    audit = tables["audit_log"]["rows"]
    assert any(a["action"] == "ledger.deposit" and a["target"] == str(player.id) for a in audit)
    assert all(r.get("player_id") in (None, str(player.id)) for t in tables.values()
               for r in t["rows"])  # fmt: skip


async def test_export_is_audited_and_limited_to_compliance_and_admin(gql, auth, db, player):
    assert (await export(gql, auth, player.id, "ADMIN"))["data"]["exportPlayerData"][
        "__typename"
    ] == "PlayerDataExport"
    denied = (await export(gql, auth, player.id, "SUPPORT"))["data"]["exportPlayerData"]
    assert denied["__typename"] == "Forbidden"
    async with db.read_session() as session:
        rows = (
            await session.execute(
                text("SELECT actor, outcome FROM audit_log "
                     "WHERE action = 'graphql.exportPlayerData' ORDER BY id")
            )
        ).all()  # fmt: skip
    assert [(r.actor, r.outcome) for r in rows] == [
        ("staff:ADMIN-9", "success"), ("staff:SUPPORT-9", "denied")
    ]  # fmt: skip


@pytest.mark.parametrize("raw,code", [("00000000-0000-0000-0000-000000000000", "NOT_FOUND"),
                                      ("nope", "VALIDATION_ERROR")])  # fmt: skip
async def test_unknown_or_malformed_player_is_a_typed_error(gql, auth, db, raw, code):
    body = await gql(EXPORT, {"p": raw}, **await auth.staff_headers("COMPLIANCE"))
    assert body["data"]["exportPlayerData"]["code"] == code


async def test_cli_export(settings, db, player, tmp_path):
    env = {"PMS_DATABASE_URL": settings.database_url or "", "PATH": "/usr/bin:/bin"}
    out = tmp_path / "export.json"
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pms", "gdpr", "export", str(player.id), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    document = json.loads(out.read_text())
    assert document["tables"]["players"]["rows"][0]["id"] == str(player.id)
    bad = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pms", "gdpr", "export", "nope"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "VALIDATION_ERROR" in bad.stderr
