"""The Wallet type."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.wallets.models import Wallet as WalletRow
from permissions.entities import entity
from permissions.roles import Permission as P
from schema.context import Info
from schema.enums import WalletKindEnum
from schema.inputs.ledger import LedgerFilter
from schema.pagination import Connection
from schema.reads import wallet_row
from schema.scalars import Money
from schema.types.ledger import LedgerEntry, ledger_page


@entity(P.WALLET_READ, owner_ok=True)  # as Player.wallets
@strawberry.federation.type(keys=["id"], description="One balance of a player.")
class Wallet:
    id: strawberry.ID
    kind: WalletKindEnum
    currency: str
    balance: Money
    held: Money = strawberry.field(
        description="Reserved by pending holds (open bets, withdrawals)."
    )
    available: Money = strawberry.field(description="balance - held: what can be spent now.")
    updated_at: datetime
    player_id: strawberry.Private[str | None] = None

    def owner_id(self) -> str | None:
        return self.player_id

    @strawberry.field(description="This wallet's ledger rows, newest first.")
    async def transactions(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: LedgerFilter | None = None,
    ) -> Connection[LedgerEntry]:
        return await ledger_page(info, filter, first, after, wallet_id=int(self.id))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Wallet | None:
        """Federation ``_entities``: a wallet is visible exactly when its player is."""
        return await fetch_wallet(info, id)

    @classmethod
    def from_model(cls, row: WalletRow) -> Wallet:
        assert row.id is not None and row.updated_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=WalletKindEnum(row.kind),
            currency=row.currency,
            balance=Money.of(row.balance, row.currency),
            held=Money.of(row.held, row.currency),
            available=Money.of(row.available, row.currency),
            updated_at=row.updated_at,
            player_id=str(row.player_id),
        )


async def fetch_wallet(info: Info, id: object) -> Wallet | None:
    """A wallet by id, only if its player can be read (schema/reads.py)."""
    row = await wallet_row(info, id)
    return Wallet.from_model(row) if row else None
