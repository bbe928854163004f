"""THE projection of event payloads through the caller's permissions.

Every subscription and every field that exposes raw event ``data`` passes the envelope
through ``project_event`` first, so a live feed shows exactly what the fields show:
balances need ``wallet:read``, the risk level ``kyc:read``, AML screening internals
(``reasons``, PEP/sanctions hits, score) are staff-only, contact data is full or masked
as on ``Player``. A data key is shown when the caller passes its rule:

1. ``KEY_RULES[key]`` if the key is listed (the same rule as the field showing it);
2. else, for the identifiers in ``ENVELOPE_KEYS``, whoever may see the event at all;
3. else the rule of the event type's family (``FAMILY_RULES``, by the prefix before the
   first dot). An event type of an unknown family shows nothing but its identifiers.

The owner (for ``owner_ok``) is the event's ``playerId``, else its ``subject``.

``Projection.class_of`` names what a projection depends on, so identical subscriptions
can share one payload per event (app/events/fanout.py): the payload permissions the
caller holds and whether the caller is the event's owning player. ``is_allowed`` reads
nothing else, so callers of one class see the same projection of an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.core.principal import Principal, PrincipalKind
from permissions.roles import Permission as P
from permissions.roles import permissions_of
from permissions.rules import Require, mask_email


@dataclass(frozen=True)
class KeyRule:
    require: Require
    masked_by: Require | None = None
    mask: Callable[[Any], Any] | None = None

    def shown(self, value: Any, principal: Principal, owner: str | None) -> tuple[bool, Any]:
        if self.require.allows(principal, owner):
            return True, value
        if self.masked_by and self.mask and self.masked_by.allows(principal, owner):
            return True, self.mask(value) if value is not None else None
        return False, None


def _rule(permission: P, *, owner_ok: bool = True) -> KeyRule:
    return KeyRule(Require(permission, owner_ok=owner_ok))


def _masked_text(value: Any) -> Any:
    return mask_email(value) if isinstance(value, str) and "@" in value else "***"


_WALLET = _rule(P.WALLET_READ)
_PII = _rule(P.PLAYER_READ_PII)
_SCREENING = _rule(P.KYC_READ, owner_ok=False)  # tipping-off: never the player

FAMILY_RULES: Mapping[str, KeyRule] = {
    "wallet": _WALLET,  # deposits, withdrawals, fees, balance changes: as Player.wallets
    "player": _rule(P.PLAYER_READ),
    "vip": _rule(P.PLAYER_READ),
    "loyalty": _rule(P.PLAYER_READ),
    "kyc": _rule(P.PLAYER_READ),  # confirmStatus is a plain Player field
    "segment": _rule(P.SEGMENT_READ),  # as Player.segments
    "bonus": _rule(P.BONUS_READ),  # as Player.bonuses
    "alert": _rule(P.ALERT_READ, owner_ok=False),  # operational, staff only (no player data)
}

# Identifiers: whoever may see the event at all may see what it is about.
ENVELOPE_KEYS = frozenset(
    {"playerId", "caseId", "segmentId", "campaignId", "bonusId", "transactionId",
     "operationId", "operation", "fields"}
)  # fmt: skip

KEY_RULES: Mapping[str, KeyRule] = {
    # wallet balances and ledger lines, whatever event carries them (a bare ``amount`` is
    # its family's: a deposit's is wallet:read, a bonus's bonus:read as PlayerBonus.amount)
    **dict.fromkeys(("wallets", "balance", "held", "available", "transfers", "holds"), _WALLET),
    # KYC: the level as Player.riskLevel, the screening internals staff-only
    "riskLevel": _rule(P.KYC_READ),
    **dict.fromkeys(
        ("reasons", "pep", "sanctions", "score", "reviewNote", "reviewedBy"), _SCREENING
    ),
    # contact data: as Player.email / Player.birthDate / Player.profile
    "email": KeyRule(Require(P.PLAYER_READ_PII, owner_ok=True),
                     Require(P.PLAYER_READ_MASKED, owner_ok=True), _masked_text),
    **dict.fromkeys(
        ("birthDate", "phone", "firstName", "lastName", "address", "city", "postalCode"), _PII
    ),
    # acquisition data: as Player.trafficSource / affiliateCode
    **dict.fromkeys(("trafficSource", "affiliateCode"), _rule(P.SEGMENT_READ)),
}  # fmt: skip


def family_rule(event_type: str) -> KeyRule | None:
    return FAMILY_RULES.get(event_type.partition(".")[0])


def key_rule(event_type: str, key: str) -> KeyRule | None:
    """The rule a data key of an event type is shown by (None: never shown)."""
    family = family_rule(event_type)
    if key in KEY_RULES:
        return KEY_RULES[key]
    if key in ENVELOPE_KEYS:
        return KeyRule(Require(None))
    return family


def event_owner(envelope: Mapping[str, Any]) -> str | None:
    data = envelope.get("data")
    owner = data.get("playerId") if isinstance(data, Mapping) else None
    owner = owner or envelope.get("subject")
    return str(owner) if owner is not None else None


def project_data(
    event_type: str, data: Mapping[str, Any], principal: Principal, owner: str | None
) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in data.items():
        rule = key_rule(event_type, key)
        if rule is None:
            continue
        visible, projected = rule.shown(value, principal, owner)
        if visible:
            shown[key] = projected
    return shown


def project_event(principal: Principal, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``envelope`` whose ``data`` holds only what ``principal`` may read."""
    data = envelope.get("data")
    projected = dict(envelope)
    if isinstance(data, Mapping):
        projected["data"] = project_data(
            str(envelope.get("type", "")), data, principal, event_owner(envelope)
        )
    else:
        projected["data"] = {}
    return projected


def _permissions_of_rules(rules: list[KeyRule]) -> frozenset[P]:
    return frozenset(
        p
        for rule in rules
        for require in (rule.require, rule.masked_by)
        if require is not None
        for p in require.permissions
    )


# Every permission a projection may ask about (KeyRule(Require(None)) asks about none).
PAYLOAD_PERMISSIONS = _permissions_of_rules([*FAMILY_RULES.values(), *KEY_RULES.values()])

ProjectionClass = tuple[frozenset[P], bool]


class Projection:
    """``project_event`` for one caller, and the class of callers it sees events as."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.held = PAYLOAD_PERMISSIONS & permissions_of(principal)

    def class_of(self, envelope: Mapping[str, Any]) -> ProjectionClass:
        owns = self.principal.kind is PrincipalKind.PLAYER and self.principal.id == event_owner(
            envelope
        )
        return self.held, owns

    def project(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        return project_event(self.principal, envelope)
