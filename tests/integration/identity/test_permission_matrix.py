"""Every field of the schema x every role, checked against permissions/roles.py.

The field list comes from the built Strawberry schema, so a new field or type without a
permission rule (or an explicit "guarded by its parent" decision here) fails this test.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLObjectType

from app.core.principal import Principal, PrincipalKind
from app.core.settings import Settings
from app.identity.models import StaffRole
from permissions.roles import (
    ANONYMOUS_PERMISSIONS,
    OWNER_PERMISSIONS,
    ROLE_PERMISSIONS,
    SERVICE_SCOPES,
    SIGNED_IN_PERMISSIONS,
    Permission,
)
from permissions.rules import rule_of
from pms.schema import build_schema

# Types whose every field carries its own rule.
GUARDED_TYPES = {"Query", "Mutation", "Player"}
# Types only reachable through a guarded field: that field's rule covers them.
ENVELOPE_TYPES = {
    "Wallet", "Money", "PageInfo", "PlayerEdge", "PlayerConnection",
    "RegisterPlayerSuccess", "ValidationError", "FieldError", "AlreadyExists", "NotFound",
    "Forbidden", "TooManyAttempts", "InvalidCredentials", "AuthTokens", "MfaRequired",
    "MfaFailed", "Done", "TotpEnrollment", "SmsEnrollment", "WebauthnRegistration",
    "MfaEnrolled", "RecoveryCodes", "StaffUser", "ServiceClient", "StaffCreated",
    "ServiceClientCreated", "AuditRecord", "MfaFactorInfo", "SetPlayerStatusSuccess",
    # ledger: results and history, behind the money mutations / wallet:read fields
    "WalletOperation", "WalletBalance", "TransferLine", "HoldLine", "InsufficientFunds",
    "IdempotencyKeyReused", "RequestInProgress", "ReservationNotFound", "HoldNotPending",
    "RoundNotFound", "AccountBlocked", "CurrencyMismatch", "DuplicateTransaction",
    "VerificationRequired",
    "LedgerEntry", "LedgerEntryEdge", "LedgerEntryConnection", "LedgerVerification",
    "LedgerMismatch",
    # analytics, behind analytics:read
    "AnalyticsDay", "AnalyticsDailySeries",
    # webhooks, behind webhook:manage fields
    "WebhookEndpoint", "WebhookDelivery", "WebhookAttempt", "RegisterWebhookEndpointSuccess",
    "RedeliverWebhookSuccess",
    # KYC, profile, segments: behind kyc:read/review, player:read(_pii), segment:* fields
    "KycCase", "KycDocument", "SubmitKycSuccess", "ReviewKycSuccess", "KycCaseOpen",
    "AlreadyVerified", "KycProviderUnavailable", "KycCaseNotReviewable", "PlayerProfile",
    "VipStatus", "PlayStyle", "SettingsChange", "SettingsChangeEdge",
    "SettingsChangeConnection", "UpdatePlayerSuccess", "Segment", "SegmentSuccess",
    "DeleteSegmentSuccess", "InvalidSegmentRule",
    # bonuses and loyalty, behind bonus:* / player:read fields
    "BonusCampaign", "GameContribution", "PlayerBonus", "PlayerBonusEdge",
    "PlayerBonusConnection", "WageringProgress", "Loyalty", "CampaignNotActive",
    "BonusNotEligible", "BonusAlreadyAwarded", "BonusNotActive", "MaxBetExceeded",
    # live updates, only reachable through Subscription fields
    "BalanceChange", "VerificationStatusChange", "DomainEvent",
}  # fmt: skip
# Subscription fields check the matrix when the subscription starts (the caller and the
# player id are known only then): permissions/realtime.py, tests/realtime/.
RESOLVER_GUARDED_TYPES = {"Subscription"}
FEDERATION_FIELDS = {("Query", "_service"), ("Query", "_entities")}
FEDERATION_TYPES = {"_Service"}

OWNER_ID = "11111111-1111-4111-8111-111111111111"
OTHER_ID = "22222222-2222-4222-8222-222222222222"

PRINCIPALS: dict[str, Principal] = {
    "anonymous": Principal.anonymous(),
    "player-owner": Principal(PrincipalKind.PLAYER, id=OWNER_ID),
    "player-other": Principal(PrincipalKind.PLAYER, id=OTHER_ID),
    **{f"staff-{r.value}": Principal(PrincipalKind.STAFF, id="s", roles=frozenset({r.value}))
       for r in StaffRole},
    **{f"service-{s.value}": Principal(PrincipalKind.SERVICE, id="c", scopes=frozenset({s.value}))
       for s in SERVICE_SCOPES},
    "service-with-staff-scope": Principal(
        PrincipalKind.SERVICE, id="c", scopes=frozenset({"staff:manage", "wallet:adjust"})
    ),
}  # fmt: skip


def expected_permissions(principal: Principal) -> frozenset[Permission]:
    """The matrix read directly, independent of permissions_of()."""
    if principal.kind is PrincipalKind.ANONYMOUS:
        return ANONYMOUS_PERMISSIONS
    if principal.kind is PrincipalKind.STAFF:
        (role,) = principal.roles
        return ROLE_PERMISSIONS[StaffRole(role)] | SIGNED_IN_PERMISSIONS
    if principal.kind is PrincipalKind.SERVICE:
        granted = {p for p in SERVICE_SCOPES if p.value in principal.scopes}
        return frozenset(granted) | SIGNED_IN_PERMISSIONS
    return SIGNED_IN_PERMISSIONS


@dataclass
class Source:
    owner: str | None
    owner_view: bool = False

    def owner_id(self) -> str | None:
        return self.owner


def _fields() -> list[tuple[str, str, Any]]:
    schema = build_schema(Settings(_env_file=None, env="test"))
    found = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or not isinstance(gql_type, GraphQLObjectType):
            continue
        for field_name, field in gql_type.fields.items():
            found.append((name, field_name, field.extensions.get("strawberry-definition")))
    return found


FIELDS = _fields()


def test_every_type_has_an_access_decision():
    types = {t for t, _, _ in FIELDS}
    undecided = types - GUARDED_TYPES - ENVELOPE_TYPES - FEDERATION_TYPES - RESOLVER_GUARDED_TYPES
    assert not undecided, f"add a rule to their fields or list them as envelopes: {undecided}"


@pytest.mark.parametrize(
    ("type_name", "field_name"),
    [(t, f) for t, f, _ in FIELDS if t in GUARDED_TYPES and (t, f) not in FEDERATION_FIELDS],
)
def test_every_guarded_field_declares_a_rule(type_name, field_name):
    definition = dict(((t, f), d) for t, f, d in FIELDS)[(type_name, field_name)]
    assert rule_of(definition) is not None, f"{type_name}.{field_name} has no permission rule"


def _cases():
    for type_name, field_name, definition in FIELDS:
        if type_name not in GUARDED_TYPES or (type_name, field_name) in FEDERATION_FIELDS:
            continue
        for who in PRINCIPALS:
            yield pytest.param(type_name, field_name, definition, who,
                               id=f"{type_name}.{field_name}-{who}")  # fmt: skip


@pytest.mark.parametrize(("type_name", "field_name", "definition", "who"), list(_cases()))
def test_field_decision_matches_the_matrix(type_name, field_name, definition, who):
    rule = rule_of(definition)
    principal = PRINCIPALS[who]
    info = SimpleNamespace(context=SimpleNamespace(principal=principal))
    # Player fields are about the owner's data; root fields with an id argument too.
    source = Source(OWNER_ID) if type_name == "Player" else None
    kwargs = {"id": OWNER_ID} if any(a.python_name == "id" for a in definition.arguments) else {}

    actual = rule.require.has_permission(source, info, **kwargs)

    permission = rule.require.permission
    if permission is None:
        expected = True
    else:
        is_owner = principal.kind is PrincipalKind.PLAYER and principal.id == OWNER_ID
        owns = (source is not None or kwargs) and is_owner
        expected = permission in expected_permissions(principal) or bool(
            rule.require.owner_ok and owns and permission in OWNER_PERMISSIONS
        )
    assert actual == expected, f"{type_name}.{field_name} for {who}: rule {rule}"
    if rule.masked_by is not None and not actual:
        masked = rule.masked_by.permission in expected_permissions(principal)
        assert rule.masked_by.has_permission(source, info, **kwargs) == masked


def test_matrix_says_what_the_spec_says():
    marketer = ROLE_PERMISSIONS[StaffRole.MARKETER]
    support = ROLE_PERMISSIONS[StaffRole.SUPPORT]
    compliance = ROLE_PERMISSIONS[StaffRole.COMPLIANCE]
    finance = ROLE_PERMISSIONS[StaffRole.FINANCE]
    assert {Permission.SEGMENT_READ, Permission.PLAYER_READ_MASKED} <= marketer
    assert not {Permission.PLAYER_READ_PII, Permission.WALLET_READ, Permission.KYC_READ} & marketer
    assert Permission.PLAYER_READ_PII in support and Permission.KYC_READ not in support
    assert {Permission.KYC_READ, Permission.KYC_REVIEW, Permission.AUDIT_READ} <= compliance
    assert Permission.WALLET_ADJUST in finance and Permission.WALLET_OPERATE not in finance
    assert Permission.WALLET_OPERATE in SERVICE_SCOPES
    assert Permission.WALLET_ADJUST not in SERVICE_SCOPES
    assert Permission.STAFF_MANAGE not in SERVICE_SCOPES
