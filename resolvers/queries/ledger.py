"""Ledger queries: balances, history pages, reconciliation."""

from __future__ import annotations

import uuid

import strawberry

from app.ledger import reconcile
from app.ledger import repository as ledger
from permissions.roles import Permission as P
from permissions.rules import nullable, required
from schema.context import Info
from schema.inputs.ledger import LedgerFilter
from schema.pagination import (
    Connection,
    check_page_size,
    decode_id_cursor,
    encode_cursor,
)
from schema.types.ledger import LedgerEntry, LedgerVerification
from schema.types.wallet import Wallet


async def ledger_page(
    info: Info,
    flt: LedgerFilter | None,
    first: int,
    after: str | None,
    *,
    wallet_id: int | None = None,
    player_id: uuid.UUID | None = None,
) -> Connection[LedgerEntry]:
    limit = check_page_size(first, info.context.settings.max_page_size)
    before = decode_id_cursor(after)
    data = (flt or LedgerFilter()).to_data()
    async with info.context.db.read_session() as session:
        rows, has_next, total = await ledger.history(
            session, data, limit, before, wallet_id=wallet_id, player_id=player_id
        )
    return Connection[LedgerEntry].build(
        [(encode_cursor(row.id), LedgerEntry.from_row(row, kind)) for row, kind in rows],
        has_next=has_next,
        has_previous=before is not None,
        total=total,
    )


@strawberry.type
class LedgerQueries:
    @strawberry.field(
        description="A player's wallets; empty if there is no such player or no access.",
        extensions=[nullable(P.WALLET_READ, owner_ok=True)],
    )
    async def balance(self, info: Info, player_id: strawberry.ID) -> list[Wallet]:
        try:
            pid = uuid.UUID(str(player_id))
        except ValueError:
            return []
        rows = await info.context.loaders.wallets_by_player.load(pid)
        return [Wallet.from_model(row) for row in rows]

    @strawberry.field(
        description="Recompute every account from the ledger and check sums (finance).",
        extensions=[required(P.WALLET_ADJUST)],
    )
    async def ledger_verification(self, info: Info) -> LedgerVerification:
        async with info.context.db.transaction() as session:
            report = await reconcile.verify(session)
        return LedgerVerification.from_report(report)
