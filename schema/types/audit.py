"""Audit trail types: inclusion and consistency proofs, signed checkpoints and their
typed errors. Hashes are standard base64 (as in the C2SP checkpoint note)."""

from __future__ import annotations

import base64
from datetime import datetime

import strawberry

from app.audit.proofs import ConsistencyProof, InclusionProof
from schema.errors import UserError
from schema.scalars import Money


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@strawberry.type(description="RFC 6962 audit path: this entry is leaf `leafIndex` of the "
                 "tree of `treeSize` leaves whose root is `rootHash`.")  # fmt: skip
class AuditInclusionProof:
    entry_id: strawberry.ID
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    path: list[str]

    @classmethod
    def from_proof(cls, p: InclusionProof) -> AuditInclusionProof:
        return cls(
            entry_id=strawberry.ID(str(p.entry_id)), leaf_index=p.leaf_index,
            tree_size=p.tree_size, leaf_hash=_b64(p.leaf_hash), root_hash=_b64(p.root_hash),
            path=[_b64(h) for h in p.path],
        )  # fmt: skip


@strawberry.type(description="RFC 6962 consistency proof: the tree of `first` leaves is a "
                 "prefix of the tree of `second` leaves.")  # fmt: skip
class AuditConsistencyProof:
    first: int
    second: int
    first_root: str
    second_root: str
    path: list[str]

    @classmethod
    def from_proof(cls, p: ConsistencyProof) -> AuditConsistencyProof:
        return cls(
            first=p.first, second=p.second, first_root=_b64(p.first_root),
            second_root=_b64(p.second_root), path=[_b64(h) for h in p.path],
        )  # fmt: skip


@strawberry.type(description="A signed tree head; `note` is the C2SP signed note to export.")
class AuditCheckpoint:
    tree_size: int
    root_hash: str
    signed_at: datetime
    key_id: str
    note: str


@strawberry.type(description="No such audit entry in the tree of the requested size.")
class AuditEntryNotInTree(UserError):
    pass


@strawberry.type(description="A tree size beyond the log, or sizes in the wrong order.")
class AuditTreeSizeOutOfRange(UserError):
    pass


@strawberry.type(description="A checkpoint signed with a key this log does not know.")
class AuditUnknownSigningKey(UserError):
    pass


@strawberry.type(description="A checkpoint that does not parse or verify.")
class AuditInvalidCheckpoint(UserError):
    pass


@strawberry.type(description="A wallet's balance at a past moment, from the ledger.")
class WalletBalanceAt:
    wallet_id: strawberry.ID
    player_id: strawberry.ID
    kind: str
    balance: Money


@strawberry.type
class BalancesAt:
    time: datetime
    wallets: list[WalletBalanceAt]
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")
