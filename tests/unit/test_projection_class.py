"""Identical subscriptions share one payload per (event, document, variables, projection
class) (app/events/fanout.py). That is only exact if callers of one class see the same
projection of every event, and if nothing but the projection varies per caller in the
payload types' fields. Both are checked here over every role, scope and ownership."""

from __future__ import annotations

import itertools
import uuid

from app.core.principal import Principal, PrincipalKind
from app.identity.models import StaffRole
from permissions.payloads import Projection
from permissions.roles import SERVICE_SCOPES
from permissions.rules import RuleExtension
from schema.scalars import Money
from schema.types.balances import WalletBalance
from schema.types.events import BalanceChange, DomainEvent, VerificationStatusChange

OWNER = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
DATA = {
    "playerId": OWNER, "transactionId": "tx-1", "operation": "deposit", "amount": "5.00",
    "wallets": [{"kind": "REAL", "currency": "EUR", "balance": "5.00", "held": "0.00",
                 "available": "5.00"}],
    "riskLevel": "HIGH", "reasons": ["PEP_MATCH"], "confirmStatus": "VERIFIED",
    "email": "ann@example.com", "birthDate": "1990-01-01", "trafficSource": "ads",
}  # fmt: skip
TYPES = ("wallet.balance_changed", "kyc.status_changed", "player.updated", "segment.joined",
         "bonus.granted", "alert.raised", "unknown.thing")  # fmt: skip


def principals() -> list[Principal]:
    staff = [
        Principal(PrincipalKind.STAFF, id=str(uuid.uuid4()), roles=frozenset(roles))
        for n in (1, 2)
        for roles in itertools.combinations([r.value for r in StaffRole], n)
    ]
    services = [
        Principal(PrincipalKind.SERVICE, id=f"svc-{s}", scopes=frozenset({str(s)}))
        for s in SERVICE_SCOPES
    ]
    players = [Principal(PrincipalKind.PLAYER, id=pid) for pid in (OWNER, OTHER)]
    anonymous = [Principal.anonymous()]
    return [*staff, *services, *players, *anonymous]


def envelopes() -> list[dict[str, object]]:
    return [
        {"id": f"e-{t}", "type": t, "subject": OWNER, "time": "2026-01-01T00:00:00+00:00",
         "data": dict(DATA)}
        for t in TYPES
    ]  # fmt: skip


def test_callers_of_one_class_see_the_same_projection() -> None:
    projections = [Projection(p) for p in principals()]
    for envelope in envelopes():
        seen: dict[object, dict[str, object]] = {}
        for projection in projections:
            projected = projection.project(envelope)
            assert seen.setdefault(projection.class_of(envelope), projected) == projected


def test_different_views_are_different_classes() -> None:
    envelope = envelopes()[0]
    marketer = Principal(PrincipalKind.STAFF, id="m", roles=frozenset({"MARKETER"}))
    finance = Principal(PrincipalKind.STAFF, id="f", roles=frozenset({"FINANCE"}))
    owner, other = (Principal(PrincipalKind.PLAYER, id=pid) for pid in (OWNER, OTHER))
    classes = {Projection(p).class_of(envelope) for p in (marketer, finance, owner, other)}
    assert len(classes) == 4
    mine, theirs = (Projection(p).project(envelope)["data"] for p in (owner, other))
    assert "wallets" in mine and "wallets" not in theirs


def test_payload_types_have_no_per_caller_field_rules() -> None:
    """A field rule here would make the payload depend on more than the projection
    class: the shared key (resolvers/subscriptions/shared.py) would then be wrong."""
    for cls in (BalanceChange, VerificationStatusChange, DomainEvent, WalletBalance, Money):
        for field in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            rules = [e for e in field.extensions if isinstance(e, RuleExtension)]
            assert rules == [], f"{cls.__name__}.{field.name} has {rules}"
