"""The money path's audit rows: PCI DSS 10.2 fields written by the APPLY statement itself,
no money moving without its audit row, and the database refusing to change either."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.integration.wallets.conftest import GAME_ENGINE, MUTATIONS, new_key, table_counts

FAIL_DEPOSIT_AUDIT = """
CREATE OR REPLACE FUNCTION test_fail_audit() RETURNS trigger AS $$
BEGIN
    IF NEW.action = 'ledger.deposit' THEN RAISE EXCEPTION 'audit storage failed'; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql"""


def deposit_input(player: str) -> dict:
    return {"input": {"playerId": player, "amount": "25.00", "currency": "EUR",
                      "paymentReference": "tok_1", "idempotencyKey": new_key()}}  # fmt: skip


async def test_money_audit_rows_carry_the_pci_dss_fields(wallet_gql, db, player_factory):
    player = await player_factory()
    headers = {**await wallet_gql.headers(GAME_ENGINE), "user-agent": "GameEngine/4.2",
               "x-request-id": "req-pci-1"}  # fmt: skip
    body = await wallet_gql.gql(MUTATIONS["deposit"], deposit_input(player), **headers)
    assert body["data"]["deposit"]["__typename"] == "WalletOperation", body
    async with db.read_session() as session:
        row = (
            await session.execute(
                # ip and user agent are kept beside the tree (app/audit/personal.py)
                text("SELECT principal_kind, actor, action, target, outcome, occurred_at, "
                     "request_id, ip.value AS ip, ua.value AS user_agent FROM audit_log a "
                     "JOIN audit_personal_values ip ON ip.entry_id = a.id AND ip.field = 'ip' "
                     "JOIN audit_personal_values ua ON ua.entry_id = a.id "
                     "AND ua.field = 'user_agent' WHERE action = 'ledger.deposit'")
            )
        ).one()  # fmt: skip
    assert (row.principal_kind, row.actor, row.target, row.outcome) == (
        "service",
        "service:game-engine",
        player,
        "success",
    )
    assert (row.ip, row.request_id, row.user_agent) == ("127.0.0.1", "req-pci-1", "GameEngine/4.2")
    assert row.occurred_at is not None


async def test_no_money_moves_when_its_audit_row_cannot_be_written(wallet_gql, db, player_factory):
    player = await player_factory()
    before = await table_counts(db)
    async with db.engine.begin() as conn:
        await conn.execute(text(FAIL_DEPOSIT_AUDIT))
        await conn.execute(text(
            "CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION test_fail_audit()"
        ))  # fmt: skip
    try:
        body = await wallet_gql.raw(MUTATIONS["deposit"], deposit_input(player), as_=GAME_ENGINE)
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_fail_audit ON audit_log"))
            await conn.execute(text("DROP FUNCTION test_fail_audit()"))
    assert body["data"] is None or body["data"]["deposit"] is None
    assert "audit storage failed" not in str(body)  # masked, not leaked
    after = await table_counts(db)
    assert after == before
    async with db.read_session() as session:
        balance = await session.execute(
            text(
                "SELECT coalesce(sum(balance), 0) FROM wallets WHERE player_id = CAST(:p AS uuid)"
            ),
            {"p": player},
        )
        assert balance.scalar() == 0
        audit = await session.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'ledger.deposit'")
        )
        assert audit.scalar() == 0


@pytest.mark.parametrize("table", ["audit_log", "ledger_transfers"])
async def test_the_database_refuses_to_change_audit_and_ledger_rows(
    wallet_gql, db, player_factory, table
):
    player = await player_factory()
    await wallet_gql.op("deposit", playerId=player, amount="5.00", currency="EUR",
                        paymentReference="tok_2")  # fmt: skip
    column = "outcome" if table == "audit_log" else "kind"
    for statement in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}",
                      f"TRUNCATE {table} CASCADE"):  # fmt: skip
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
    # The app role may read and insert, never change or remove, even with the switch on.
    async with db.engine.connect() as conn:
        tx = await conn.begin()
        await conn.execute(text("SET LOCAL pms.retention_job = 'on'"))
        await conn.execute(text("SET LOCAL ROLE pms_app"))
        count = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
        assert count >= 1
        with pytest.raises(DBAPIError, match="permission denied"):
            await conn.execute(text(f"DELETE FROM {table}"))
        await tx.rollback()
    async with db.read_session() as session:
        privileges = (
            await session.execute(
                text("SELECT has_table_privilege('pms_app', :t, 'INSERT'), "
                     "has_table_privilege('pms_app', :t, 'UPDATE'), "
                     "has_table_privilege('pms_app', 'wallets', 'UPDATE')"),
                {"t": table},
            )
        ).one()  # fmt: skip
    assert tuple(privileges) == (True, False, True)
    # The retention job's switch lets the owner through (rolled back here).
    async with db.engine.connect() as conn:
        tx = await conn.begin()
        await conn.execute(text("SET LOCAL pms.retention_job = 'on'"))
        assert (await conn.execute(text(f"DELETE FROM {table}"))).rowcount >= 1
        await tx.rollback()
