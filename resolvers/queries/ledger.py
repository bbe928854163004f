"""Ledger queries: balances, history pages, reconciliation."""

from __future__ import annotations

import strawberry

from app.ledger import reconcile
from permissions.roles import Permission as P
from permissions.rules import nullable, required
from schema.context import Info
from schema.ids import try_uuid
from schema.loaders import WalletsByPlayer
from schema.types.ledger import LedgerVerification
from schema.types.wallet import Wallet


@strawberry.type
class LedgerQueries:
    @strawberry.field(
        description="A player's wallets; empty if there is no such player or no access.",
        extensions=[nullable(P.WALLET_READ, owner_ok=True)],
    )
    async def balance(self, info: Info, player_id: strawberry.ID) -> list[Wallet]:
        pid = try_uuid(player_id)
        if pid is None:
            return []
        rows = await info.context.loaders.get(WalletsByPlayer).load(pid)
        return [Wallet.from_model(row) for row in rows]

    @strawberry.field(
        description="Recompute every account from the ledger and check sums (finance).",
        extensions=[required(P.WALLET_ADJUST)],
    )
    async def ledger_verification(self, info: Info) -> LedgerVerification:
        async with info.context.db.transaction() as session:
            report = await reconcile.verify(session)
        return LedgerVerification.from_report(report)
