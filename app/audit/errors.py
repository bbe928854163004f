"""Expected failures of the audit trail's proofs and checkpoints."""

from __future__ import annotations

from app.core.errors import DomainError


class EntryNotInTree(DomainError):
    """No such audit entry, or not (yet) in the tree of the requested size."""

    code = "AUDIT_ENTRY_NOT_IN_TREE"


class TreeSizeOutOfRange(DomainError):
    """A tree size beyond the current log, or sizes in the wrong order."""

    code = "AUDIT_TREE_SIZE_OUT_OF_RANGE"


class UnknownSigningKey(DomainError):
    """A checkpoint signed by no key this log knows."""

    code = "AUDIT_UNKNOWN_SIGNING_KEY"


class InvalidCheckpoint(DomainError):
    """A checkpoint that does not parse or whose signature does not verify."""

    code = "AUDIT_INVALID_CHECKPOINT"
