"""Consistency control: recompute every account from the ledger and prove the zero sums.

Months archived by the retention purge are gone from ``ledger_transfers``; their sums
per wallet and house account are in ``ledger_carry_forward`` (the opening balance at the
cut), so an account's total is what was carried forward plus the transfers kept."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_WALLET_BALANCES = text("""
SELECT w.id, w.player_id::text, w.kind, w.currency, w.balance, coalesce(t.total, 0) AS ledger
FROM wallets w
LEFT JOIN (
    SELECT wallet_id, sum(amount) AS total FROM (
        SELECT wallet_id, amount FROM ledger_transfers
        UNION ALL
        SELECT wallet_id, amount FROM ledger_carry_forward
    ) kept GROUP BY wallet_id
) t
       ON t.wallet_id = w.id
WHERE w.balance <> coalesce(t.total, 0)
ORDER BY w.id
""")

_WALLET_HELD = text("""
SELECT w.id, w.player_id::text, w.kind, w.currency, w.held, coalesce(h.total, 0) AS pending
FROM wallets w
LEFT JOIN (
    SELECT wallet_id, sum(amount) AS total FROM (
        SELECT real_wallet_id AS wallet_id, real_amount AS amount FROM ledger_holds
        WHERE status = 'PENDING'
        UNION ALL
        SELECT bonus_wallet_id, bonus_amount FROM ledger_holds
        WHERE status = 'PENDING' AND bonus_wallet_id IS NOT NULL
    ) legs GROUP BY wallet_id
) h ON h.wallet_id = w.id
WHERE w.held <> coalesce(h.total, 0)
ORDER BY w.id
""")

# Wallet balances as stored plus house balances as derived (minus each transfer's amount):
# every currency must come to zero.
_CURRENCY_SUMS = text("""
SELECT currency, sum(amount) AS total FROM (
    SELECT currency, balance AS amount FROM wallets
    UNION ALL
    SELECT currency, -amount FROM ledger_transfers
    UNION ALL
    SELECT currency, -amount FROM ledger_carry_forward
) accounts
GROUP BY currency
HAVING sum(amount) <> 0
ORDER BY currency
""")

_STRAY_TRANSFERS = text("""
SELECT t.id, t.currency, w.currency AS wallet_currency, (h.kind IS NULL) AS no_house
FROM ledger_transfers t
JOIN wallets w ON w.id = t.wallet_id
LEFT JOIN house_accounts h ON h.currency = t.currency AND h.kind = t.house_account
WHERE t.currency <> w.currency OR h.kind IS NULL
ORDER BY t.id
LIMIT 1000
""")

_COUNTS = text("""
SELECT (SELECT count(*) FROM wallets), (SELECT count(*) FROM ledger_transfers),
       (SELECT count(DISTINCT currency) FROM wallets)
""")


@dataclass(frozen=True)
class Mismatch:
    kind: str  # WALLET_BALANCE, WALLET_HELD, CURRENCY_SUM, TRANSFER
    account: str
    currency: str
    expected: int
    actual: int

    def describe(self) -> str:
        return (
            f"{self.kind} {self.account} [{self.currency}]: "
            f"expected {self.expected}, stored {self.actual}"
        )


@dataclass(frozen=True)
class Report:
    wallets_checked: int
    transfers_checked: int
    currencies_checked: int
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        return not self.mismatches


async def verify(session: AsyncSession) -> Report:
    """Runs in one REPEATABLE READ snapshot so concurrent money traffic cannot show up
    as a false mismatch."""
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    mismatches: list[Mismatch] = []
    for r in await session.execute(_WALLET_BALANCES):
        mismatches.append(
            Mismatch("WALLET_BALANCE", f"wallet {r.id} ({r.player_id} {r.kind})", r.currency,
                     int(r.ledger), int(r.balance))
        )  # fmt: skip
    for r in await session.execute(_WALLET_HELD):
        mismatches.append(
            Mismatch("WALLET_HELD", f"wallet {r.id} ({r.player_id} {r.kind})", r.currency,
                     int(r.pending), int(r.held))
        )  # fmt: skip
    for r in await session.execute(_CURRENCY_SUMS):
        mismatches.append(Mismatch("CURRENCY_SUM", "all accounts", r.currency, 0, int(r.total)))
    for r in await session.execute(_STRAY_TRANSFERS):
        what = "no house account" if r.no_house else f"wallet holds {r.wallet_currency}"
        mismatches.append(Mismatch("TRANSFER", f"transfer {r.id}: {what}", r.currency, 0, 0))
    wallets, transfers, currencies = (await session.execute(_COUNTS)).one()
    return Report(int(wallets), int(transfers), int(currencies), mismatches)
