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
GUARDED_TYPES = {"Query", "Mutation", "Player", "KycCase"}
# Types whose fields are about one player's data (the source object's owner_id()).
OWNED_TYPES = {"Player", "KycCase"}
# Types only reachable through a guarded field: that field's rule covers them.
ENVELOPE_TYPES = {
    "Wallet", "Money", "PageInfo", "PlayerEdge", "PlayerConnection",
    "RegisterPlayerSuccess", "ValidationError", "FieldError", "AlreadyExists", "NotFound",
    "Forbidden", "TooManyAttempts", "InvalidCredentials", "AuthTokens", "MfaRequired",
    "MfaFailed", "Done", "TotpEnrollment", "SmsEnrollment", "WebauthnRegistration",
    "StepUpRequired",
    "MfaEnrolled", "RecoveryCodes", "StaffUser", "ServiceClient", "StaffCreated",
    "ServiceClientCreated", "AuditRecord", "MfaFactorInfo", "SetPlayerStatusSuccess",
    # ledger: results and history, behind the money mutations / wallet:read fields
    "WalletBatchResults", "BatchNotApplied",  # walletBatch, behind wallet:operate
    "WalletOperation", "WalletBalance", "TransferLine", "HoldLine", "InsufficientFunds",
    "IdempotencyKeyReused", "RequestInProgress", "ReservationNotFound", "HoldNotPending",
    "RoundNotFound", "AccountBlocked", "CurrencyMismatch", "DuplicateTransaction",
    "VerificationRequired", "AmountTooLarge",
    "LedgerEntry", "LedgerEntryEdge", "LedgerEntryConnection", "LedgerVerification",
    "LedgerMismatch",
    # alerts, behind alert:read / alert:manage fields
    "AlertRule", "Alert", "AlertHistoryEntry", "InvalidAlertRuleError", "AlertNotOpen",
    # analytics, behind analytics:read
    "AnalyticsDay", "AnalyticsDailySeries", "AnalyticsSeries", "AnalyticsPeriod", "AnalyticsMoney",
    "AnalyticsRegistrationError", "AnalyticsCohortTable", "AnalyticsCohort", "AnalyticsCohortCell",
    "AnalyticsFunnel", "AnalyticsFunnelStep",
    # webhooks, behind webhook:manage fields
    "WebhookEndpoint", "WebhookDelivery", "WebhookAttempt", "RegisterWebhookEndpointSuccess",
    "RedeliverWebhookSuccess",
    # KYC, profile, segments: behind kyc:read/review, player:read(_pii), segment:* fields
    "KycDocument", "KycQueueEntry", "KycQueueEntryEdge", "KycQueueEntryConnection",
    "SubmitKycSuccess", "ReviewKycSuccess", "KycCaseOpen",
    "AlreadyVerified", "KycProviderUnavailable", "KycCaseNotReviewable", "PlayerProfile",
    "VipStatus", "PlayStyle", "SettingsChange", "SettingsChangeEdge",
    "SettingsChangeConnection", "UpdatePlayerSuccess", "Segment", "SegmentSuccess",
    "DeleteSegmentSuccess", "InvalidSegmentRule",
    # bonuses and loyalty, behind bonus:* / player:read fields
    "BonusCampaign", "GameContribution", "PlayerBonus", "PlayerBonusEdge",
    "PlayerBonusConnection", "WageringProgress", "Loyalty", "CampaignNotActive",
    "BonusNotEligible", "BonusAlreadyAwarded", "BonusNotActive", "MaxBetExceeded",
    # responsible gambling, behind rg:* fields (and LimitExceeded behind wallet:operate)
    "GamblingLimit", "GamblingLimitRemoved", "PlayerExclusion", "LimitExceeded",
    "CoolDownActive", "LimitChangeNotFound", "StaffMayOnlyLower", "ExclusionActive",
    "NoActiveExclusion", "SessionLimitReached", "RealityCheck", "GamblingRestricted",
    # anti-fraud, behind fraud:read / fraud:manage fields
    "RiskSignal", "FraudRule", "FraudCase", "DryRunHit", "InvalidFraudRuleError",
    "FraudCaseNotOpen", "WithdrawalsHeld",
    # audit trail, balances at a time, GDPR export: behind audit:proof/read, gdpr:export
    "AuditInclusionProof", "AuditConsistencyProof", "AuditCheckpoint", "AuditEntryNotInTree",
    "AuditTreeSizeOutOfRange", "BalancesAt", "WalletBalanceAt", "PlayerDataExport",
    # the regulator export, behind export:regulator
    "RegulatorExport", "BundleFile", "InvalidExportRange", "ExportBusy",
    # CRM/ERP export jobs and marketing imports, behind export:crm/erp, import:marketing
    "ExportJob", "ExportFileRows", "ExportPush", "JobError", "ExportQueued", "MarketingImport",
    "ImportRowError", "InvalidExportCursor", "ExportCursorKindMismatch", "ImportFileInvalid",
    "ImportHasErrors", "ImportIdReused",
    # dry runs, behind segment:manage (previewSegment)
    "SegmentPreview", "SegmentDay", "BonusSimulation", "SimulatedAward",
    # GDPR erasure and consents, behind gdpr:erase, consent:read/write
    "PlayerErasure", "ErasureBlocked", "PlayerConsents", "MarketingConsent", "ConsentChange",
    # live updates, only reachable through Subscription fields
    "BalanceChange", "VerificationStatusChange", "DomainEvent", "AlertEvent",
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


def expected_decision(require: Any, principal: Principal, about_owner: bool) -> bool:
    """The matrix read directly: every permission of the rule held, or owned where the
    rule allows ownership (``about_owner``: the data belongs to OWNER_ID)."""
    is_owner = principal.kind is PrincipalKind.PLAYER and principal.id == OWNER_ID
    return all(
        p in expected_permissions(principal)
        or bool(require.owner_ok and about_owner and is_owner and p in OWNER_PERMISSIONS)
        for p in require.permissions
    )


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
    source = Source(OWNER_ID) if type_name in OWNED_TYPES else None
    kwargs = {"id": OWNER_ID} if any(a.python_name == "id" for a in definition.arguments) else {}

    actual = rule.require.has_permission(source, info, **kwargs)

    owns = bool(source is not None or kwargs)
    expected = expected_decision(rule.require, principal, owns)
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
    assert Permission.REGULATOR_EXPORT in compliance
    assert not {r for r in StaffRole if Permission.REGULATOR_EXPORT in ROLE_PERMISSIONS[r]} - {
        StaffRole.COMPLIANCE,
        StaffRole.ADMIN,
    }
    assert Permission.REGULATOR_EXPORT not in SERVICE_SCOPES
    assert Permission.WALLET_ADJUST in finance and Permission.WALLET_OPERATE not in finance
    assert Permission.WALLET_OPERATE in SERVICE_SCOPES
    assert Permission.WALLET_ADJUST not in SERVICE_SCOPES
    assert Permission.STAFF_MANAGE not in SERVICE_SCOPES
    # CRM bundles hold marketable players: marketers; ERP bundles hold the ledger: finance.
    assert {Permission.EXPORT_CRM, Permission.IMPORT_MARKETING} <= marketer
    assert Permission.EXPORT_ERP not in marketer
    assert Permission.EXPORT_ERP in finance
    assert not {Permission.EXPORT_CRM, Permission.IMPORT_MARKETING} & finance
    assert not {Permission.EXPORT_CRM, Permission.EXPORT_ERP, Permission.IMPORT_MARKETING} & (
        support | compliance | SERVICE_SCOPES
    )


def test_segment_members_need_segment_and_player_read():
    definition = dict(((t, f), d) for t, f, d in FIELDS)[("Segment", "players")]
    require = rule_of(definition).require
    assert set(require.permissions) == {Permission.SEGMENT_READ, Permission.PLAYER_READ}
    assert not require.owner_ok  # a player's own segments never list the other members


# --- federation entities: every @key type, every principal, through `_entities` ---------

# The root field each entity type is read through: its entity rule must be that field's.
ENTITY_ROOT_FIELDS = {
    "Player": ("Query", "player"),
    "Wallet": ("Player", "wallets"),
    "Segment": ("Query", "segment"),
}
ENTITY_QUERY = """
query E($reps: [_Any!]!) { _entities(representations: $reps) {
  __typename ... on Player { id } ... on Wallet { id } ... on Segment { id }
} }
"""


def _entity_types() -> dict[str, Any]:
    schema = build_schema(Settings(_env_file=None, env="test"))
    union = schema._schema.type_map["_Entity"]
    converter = schema.schema_converter.type_map
    return {t.name: converter[t.name].definition.origin for t in union.types}


ENTITY_TYPES = _entity_types()


def test_every_entity_type_declares_the_rule_of_its_root_field():
    from permissions.entities import entity_rule

    assert set(ENTITY_TYPES) == set(ENTITY_ROOT_FIELDS), "map a new entity to its root field"
    definitions = dict(((t, f), d) for t, f, d in FIELDS)
    for name, origin in ENTITY_TYPES.items():
        declared = entity_rule(origin)
        assert declared is not None, f"{name} has no @entity rule"
        root = rule_of(definitions[ENTITY_ROOT_FIELDS[name]]).require
        got = (declared.require.permissions, declared.require.owner_ok)
        assert got == (root.permissions, root.owner_ok), name


async def _entities_as(db, settings, principal, reps) -> list[Any]:
    from schema.context import Context
    from schema.loaders import Loaders

    schema = build_schema(settings)
    context = Context(db=db, settings=settings, loaders=Loaders(db), request_id="matrix",
                      principal=principal)  # fmt: skip
    copies = [dict(r) for r in reps]  # the federation resolver pops __typename
    result = await schema.execute(ENTITY_QUERY, {"reps": copies}, context_value=context)
    assert result.errors is None, result.errors
    return result.data["_entities"]


@pytest.mark.parametrize("who", list(PRINCIPALS))
async def test_entity_resolution_matches_the_matrix(who, db, settings):
    from sqlalchemy import select

    from app.segments import service as segments
    from app.wallets.models import Wallet
    from tests.factories import create_player

    owner = await create_player(db, settings)
    async with db.transaction() as s:
        wallet = (await s.execute(select(Wallet.id).where(Wallet.player_id == owner.id))).first()
        segment, _ = await segments.create_segment(
            s, name="matrix", rule={"attr": "country", "op": "eq", "value": "DE"},
            actor="staff:t", settings=settings,
        )  # fmt: skip
    principal = PRINCIPALS[who]
    if who == "player-owner":  # the owner of the rows just made
        principal = Principal(PrincipalKind.PLAYER, id=str(owner.id))
    reps = [{"__typename": "Player", "id": str(owner.id)},
            {"__typename": "Wallet", "id": str(wallet[0])},
            {"__typename": "Segment", "id": str(segment.id)}]  # fmt: skip

    got = await _entities_as(db, settings, principal, reps)

    definitions = dict(((t, f), d) for t, f, d in FIELDS)
    as_matrix = principal if who != "player-owner" else PRINCIPALS["player-owner"]
    for rep, entity in zip(reps, got, strict=True):
        root = rule_of(definitions[ENTITY_ROOT_FIELDS[rep["__typename"]]]).require
        expected = expected_decision(root, as_matrix, rep["__typename"] != "Segment")
        if rep["__typename"] == "Wallet":  # a wallet is read through its player, too
            expected = expected and expected_decision(
                rule_of(definitions[("Query", "player")]).require, as_matrix, True
            )
        assert (entity is not None) == expected, f"{rep['__typename']} for {who}"


# --- subscription payloads: every event family x every principal -----------------------

SAMPLE_EVENTS = {
    "wallet.balance_changed": {"playerId": OWNER_ID, "transactionId": "t", "operation": "bet",
                               "wallets": [{"kind": "REAL", "balance": "1.00"}]},
    "kyc.status_changed": {"playerId": OWNER_ID, "caseId": "c", "confirmStatus": "VERIFIED",
                           "riskLevel": "HIGH", "reasons": ["PEP_MATCH"]},
    "player.registered": {"playerId": OWNER_ID, "country": "DE", "trafficSource": "seo",
                          "email": "jane@example.com", "birthDate": "1990-01-01"},
    "segment.entered": {"playerId": OWNER_ID, "segmentId": "s", "segmentName": "VIP"},
    "bonus.awarded": {"playerId": OWNER_ID, "bonusId": "b", "amount": "5.00"},
    "vip.activated": {"playerId": OWNER_ID, "level": 2},
    "mystery.thing": {"playerId": OWNER_ID, "secret": "x"},
}  # fmt: skip
# Keys whose rule must be exactly the rule of the Player field that shows the same datum.
PAYLOAD_FIELD_TWINS = {
    "wallets": "wallets", "riskLevel": "risk_level", "email": "email",
    "birthDate": "birth_date", "trafficSource": "traffic_source",
    "affiliateCode": "affiliate_code",
}  # fmt: skip


def test_payload_keys_use_the_rules_of_their_fields():
    from strawberry.types import get_object_definition

    from permissions.payloads import KEY_RULES
    from schema.types.player import Player

    fields = {f.python_name: f for f in get_object_definition(Player, strict=True).fields}
    for key, field_name in PAYLOAD_FIELD_TWINS.items():
        field_rule = rule_of(fields[field_name])
        payload = KEY_RULES[key]
        assert payload.require.permissions == field_rule.require.permissions, key
        assert payload.require.owner_ok == field_rule.require.owner_ok, key
        if field_rule.masked_by is not None:
            assert payload.masked_by.permissions == field_rule.masked_by.permissions, key


def _payload_cases():
    for event_type in SAMPLE_EVENTS:
        for who in PRINCIPALS:
            yield pytest.param(event_type, who, id=f"{event_type}-{who}")


@pytest.mark.parametrize(("event_type", "who"), list(_payload_cases()))
def test_payload_projection_matches_the_matrix(event_type, who):
    from permissions.payloads import ENVELOPE_KEYS, key_rule, project_event

    principal = PRINCIPALS[who]
    data = SAMPLE_EVENTS[event_type]
    envelope = {"id": "e", "type": event_type, "subject": OWNER_ID, "data": data}

    shown = project_event(principal, envelope)["data"]

    for key, value in data.items():
        rule = key_rule(event_type, key)
        if rule is None:  # an unknown family shows its identifiers only
            assert key not in shown and key not in ENVELOPE_KEYS, key
            continue
        full = expected_decision(rule.require, principal, True)
        masked = rule.masked_by is not None and expected_decision(rule.masked_by, principal, True)
        assert (key in shown) == (full or masked), f"{event_type}.{key} for {who}"
        if full:
            assert shown[key] == value
        elif masked:
            assert shown[key] != value
    # screening internals never reach a player, not even the owner
    if principal.kind is PrincipalKind.PLAYER:
        assert "reasons" not in shown
