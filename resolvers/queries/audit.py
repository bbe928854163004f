"""Audit trail queries (COMPLIANCE, ADMIN): proofs and signed checkpoints."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.audit import checkpoints, errors, proofs
from app.core.errors import DomainError, ValidationFailed
from app.ledger.balances_at import balances_at
from permissions.roles import Permission as P
from permissions.rules import required
from resolvers.runner import MutationSpec
from schema.context import Info
from schema.ids import try_int_id, try_uuid
from schema.pagination import check_page_size
from schema.scalars import Money
from schema.types.audit import (
    AuditCheckpoint,
    AuditConsistencyProof,
    AuditInclusionProof,
    BalancesAt,
    WalletBalanceAt,
)

INCLUSION = MutationSpec(
    "AuditInclusionResult", (AuditInclusionProof,),
    (errors.EntryNotInTree, errors.TreeSizeOutOfRange), forbidden=False,
)  # fmt: skip
CONSISTENCY = MutationSpec(
    "AuditConsistencyResult", (AuditConsistencyProof,), (errors.TreeSizeOutOfRange,),
    forbidden=False,
)  # fmt: skip

BALANCES_AT = MutationSpec("BalancesAtResult", (BalancesAt,), (ValidationFailed,), forbidden=False)


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="Every wallet's balance at `time` (from the ledger), in wallet id order; "
        "optionally one player's. For regulators (COMPLIANCE, ADMIN).",
        extensions=[required(P.AUDIT_READ)],
    )
    async def balances_at(
        self,
        info: Info,
        time: datetime,
        player_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> BALANCES_AT.union:  # type: ignore[name-defined]
        try:
            limit = check_page_size(first, info.context.settings.max_page_size)
            player = try_uuid(player_id) if player_id is not None else None
            if player_id is not None and player is None:
                raise ValidationFailed.single("playerId", "not a player id")
            start = try_int_id(after) if after is not None else 0
            if start is None:
                raise ValidationFailed.single("after", "not a cursor of this list")
            async with info.context.db.read_session() as session:
                rows = await balances_at(
                    session, time, player_id=player, after_wallet_id=start, limit=limit
                )
        except DomainError as exc:
            return BALANCES_AT.answer(exc)
        wallets = [
            WalletBalanceAt(
                wallet_id=strawberry.ID(str(r.wallet_id)),
                player_id=strawberry.ID(str(r.player_id)),
                kind=r.kind, balance=Money.of(r.balance, r.currency),
            )
            for r in rows
        ]  # fmt: skip
        cursor = str(rows[-1].wallet_id) if len(rows) == limit else None
        return BalancesAt(time=time, wallets=wallets, end_cursor=cursor)

    @strawberry.field(
        description="Inclusion proof of one audit entry in the tree of `treeSize` (default: "
        "the current tree).",
        extensions=[required(P.AUDIT_PROOF)],
    )
    async def audit_inclusion_proof(
        self, info: Info, entry_id: strawberry.ID, tree_size: int | None = None
    ) -> INCLUSION.union:  # type: ignore[name-defined]
        entry = try_int_id(entry_id)
        try:
            if entry is None:
                raise errors.EntryNotInTree(f"audit entry {entry_id} does not exist")
            async with info.context.db.read_session() as session:
                proof = await proofs.inclusion(session, entry, tree_size)
        except DomainError as exc:
            return INCLUSION.answer(exc)
        return AuditInclusionProof.from_proof(proof)

    @strawberry.field(
        description="Consistency proof: the tree of `first` leaves is a prefix of the tree of "
        "`second` (default: the current tree).",
        extensions=[required(P.AUDIT_PROOF)],
    )
    async def audit_consistency_proof(
        self, info: Info, first: int, second: int | None = None
    ) -> CONSISTENCY.union:  # type: ignore[name-defined]
        try:
            async with info.context.db.read_session() as session:
                proof = await proofs.consistency(session, first, second)
        except DomainError as exc:
            return CONSISTENCY.answer(exc)
        return AuditConsistencyProof.from_proof(proof)

    @strawberry.field(
        description="The latest signed checkpoint of the audit tree, or the one of "
        "`treeSize`; null if there is none.",
        extensions=[required(P.AUDIT_PROOF)],
    )
    async def audit_checkpoint(
        self, info: Info, tree_size: int | None = None
    ) -> AuditCheckpoint | None:
        async with info.context.db.read_session() as session:
            if tree_size is None:
                row = await checkpoints.latest(session)
            else:
                row = await checkpoints.at_size(session, tree_size)
            if row is None:
                return None
            text = await checkpoints.note_text(session, row)
        return AuditCheckpoint(
            tree_size=row.tree_size, root_hash=text.split("\n")[2], signed_at=row.signed_at,
            key_id=row.key_id, note=text,
        )  # fmt: skip
