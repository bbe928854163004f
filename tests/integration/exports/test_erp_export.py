"""ERP export: ledger transfers, daily balances per currency and account totals that
reconcile with the ledger (`pms ledger verify`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text

from app.core.db import Database
from app.exports import service
from app.exports.cursor import ExportKind
from app.ledger.reconcile import verify
from tests.integration.exports.helpers import deposit, player_with_consents, read_files


def _jsonl(directory, name):
    return [json.loads(line) for line in (directory / f"{name}.jsonl").read_text().splitlines()]


async def _funded(db: Database, settings):
    eur = await player_with_consents(db, settings)
    usd = await player_with_consents(db, settings, currency="USD")
    await deposit(db, settings, eur, "10.00", "EUR")
    await deposit(db, settings, eur, "2.50", "EUR")
    await deposit(db, settings, usd, "7.00", "USD")
    return eur, usd


async def test_transfers_balances_and_totals_reconcile_with_the_ledger(
    db: Database, settings, tmp_path
):
    eur, usd = await _funded(db, settings)

    result = await service.run_export(db, settings, ExportKind.ERP, None, tmp_path, actor="t")

    transfers = _jsonl(result.directory, "ledger_transfers")
    assert [(t["playerId"], t["currency"], t["amount"], t["kind"]) for t in transfers] == [
        (str(eur), "EUR", 1000, "DEPOSIT"), (str(eur), "EUR", 250, "DEPOSIT"),
        (str(usd), "USD", 700, "DEPOSIT"),
    ]  # fmt: skip
    totals = {(t["currency"], t["account"]): t["balance"]
              for t in _jsonl(result.directory, "account_totals")}  # fmt: skip
    assert totals == {
        ("EUR", "HOUSE:CASH_CLEARING"): -1250, ("EUR", "WALLET:REAL"): 1250,
        ("USD", "HOUSE:CASH_CLEARING"): -700, ("USD", "WALLET:REAL"): 700,
    }  # fmt: skip
    # The wallet side equals the stored balances, and the ledger verifies the same state.
    async with db.transaction() as s:
        stored = dict(
            (await s.execute(text(
                "SELECT currency, sum(balance) FROM wallets GROUP BY currency "
                "HAVING sum(balance) <> 0"
            ))).all()
        )  # fmt: skip
    async with db.transaction() as s:
        assert (await verify(s)).ok
    assert stored == {"EUR": 1250, "USD": 700}
    today = datetime.now(UTC).date().isoformat()
    daily = {(d["day"], d["currency"], d["account"]): (d["movement"], d["closingBalance"])
             for d in _jsonl(result.directory, "daily_balances")}  # fmt: skip
    assert daily[(today, "EUR", "WALLET:REAL")] == (1250, 1250)
    assert daily[(today, "EUR", "HOUSE:CASH_CLEARING")] == (-1250, -1250)
    manifest = json.loads((result.directory / "manifest.json").read_text())
    assert manifest["reconciliation"] == {"currencySums": {"EUR": 0, "USD": 0}, "ok": True}
    assert manifest["cursor"] == {"since": "erp:v1:0", "until": result.next_cursor}


async def test_the_next_run_exports_only_newer_transfers_with_cumulative_balances(
    db: Database, settings, tmp_path
):
    eur, _ = await _funded(db, settings)
    first = await service.run_export(db, settings, ExportKind.ERP, None, tmp_path, actor="t")
    await deposit(db, settings, eur, "1.00", "EUR")

    second = await service.run_export(
        db, settings, ExportKind.ERP, first.next_cursor, tmp_path, actor="t"
    )

    assert [t["amount"] for t in _jsonl(second.directory, "ledger_transfers")] == [100]
    closing = {d["account"]: d["closingBalance"] for d in _jsonl(second.directory, "daily_balances")
               if d["currency"] == "EUR"}  # fmt: skip
    assert closing == {"WALLET:REAL": 1350, "HOUSE:CASH_CLEARING": -1350}
    # Resuming the first range after new money moved gives the first bundle again.
    again = await service.run_export(db, settings, ExportKind.ERP, None, tmp_path / "r", actor="t")
    assert read_files(again.directory) == read_files(first.directory)


async def test_an_empty_range_is_a_valid_bundle_with_the_same_cursor(
    db: Database, settings, tmp_path
):
    await _funded(db, settings)
    first = await service.run_export(db, settings, ExportKind.ERP, None, tmp_path, actor="t")
    second = await service.run_export(
        db, settings, ExportKind.ERP, first.next_cursor, tmp_path, actor="t"
    )
    assert second.next_cursor == first.next_cursor
    assert {f.name: f.rows for f in second.files}["ledger_transfers.jsonl"] == 0
