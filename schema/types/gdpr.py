"""GDPR and consent types: erasure results, consent state and its history."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.consents.models import ConsentChange as ConsentChangeRow
from app.consents.service import ConsentState
from app.gdpr.models import Erasure
from schema.errors import UserError


@strawberry.type(description="The player has a pending withdrawal or an open hold; settle it "
                 "first. Nothing was changed.")  # fmt: skip
class ErasureBlocked(UserError):
    pass


@strawberry.type(
    description="A player's erasure: direct identifiers replaced by the pseudonym at once; "
    "KYC and transactions kept until `retainUntil` (AML)."
)
class PlayerErasure:
    player_id: strawberry.ID
    pseudonym: str
    erased_at: datetime
    retain_until: datetime
    purged_at: datetime | None
    already_erased: bool = strawberry.field(
        description="True when the player had been erased before (nothing changed now)."
    )

    @classmethod
    def from_model(cls, row: Erasure, already: bool) -> PlayerErasure:
        assert row.erased_at is not None
        return cls(player_id=strawberry.ID(str(row.player_id)), pseudonym=row.pseudonym,
                   erased_at=row.erased_at, retain_until=row.retain_until,
                   purged_at=row.purged_at, already_erased=already)  # fmt: skip


@strawberry.type(description="Marketing consent through one channel.")
class MarketingConsent:
    channel: str
    granted: bool
    updated_at: datetime | None


@strawberry.type(description="One consent change: who, when, through what, old -> new.")
class ConsentChange:
    purpose: str = strawberry.field(description="`marketing.<channel>` or `terms`.")
    old_value: str | None
    new_value: str
    actor: str
    source: str
    changed_at: datetime

    @classmethod
    def from_model(cls, row: ConsentChangeRow) -> ConsentChange:
        assert row.changed_at is not None
        return cls(purpose=row.purpose, old_value=row.old_value, new_value=row.new_value,
                   actor=row.actor, source=row.source, changed_at=row.changed_at)  # fmt: skip


@strawberry.type(description="A player's consents now, and every change (newest first).")
class PlayerConsents:
    player_id: strawberry.ID
    marketing: list[MarketingConsent]
    terms_version: str | None
    terms_accepted_at: datetime | None
    history: list[ConsentChange]

    @classmethod
    def build(cls, state: ConsentState, history: list[ConsentChangeRow]) -> PlayerConsents:
        return cls(
            player_id=strawberry.ID(str(state.player_id)),
            marketing=[MarketingConsent(channel=c, granted=g, updated_at=t)
                       for c, (g, t) in state.marketing.items()],
            terms_version=state.terms_version, terms_accepted_at=state.terms_accepted_at,
            history=[ConsentChange.from_model(r) for r in history],
        )  # fmt: skip
