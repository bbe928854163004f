"""Audit trail queries (COMPLIANCE, ADMIN): proofs and signed checkpoints."""

from __future__ import annotations

import strawberry

from app.audit import checkpoints, errors, proofs
from app.core.errors import DomainError
from permissions.roles import Permission as P
from permissions.rules import required
from resolvers.runner import MutationSpec
from schema.context import Info
from schema.ids import try_int_id
from schema.types.audit import AuditCheckpoint, AuditConsistencyProof, AuditInclusionProof

INCLUSION = MutationSpec(
    "AuditInclusionResult", (AuditInclusionProof,),
    (errors.EntryNotInTree, errors.TreeSizeOutOfRange), forbidden=False,
)  # fmt: skip
CONSISTENCY = MutationSpec(
    "AuditConsistencyResult", (AuditConsistencyProof,), (errors.TreeSizeOutOfRange,),
    forbidden=False,
)  # fmt: skip


@strawberry.type
class AuditQueries:
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
