"""THE role -> permission matrix. Every access decision in PMS comes from here.

- Staff carry one role (``StaffRole``); their permissions are ``ROLE_PERMISSIONS[role]``.
- Service clients carry OAuth scopes; a scope IS a permission name (``wallet:operate``) and
  only ``SERVICE_SCOPES`` can be granted to a client.
- Players hold no permission over others; rules declared ``owner_ok=True`` let a player
  reach their own data (``OWNER_PERMISSIONS`` lists what ownership can grant).
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from app.core.principal import Principal, PrincipalKind
from app.identity.models import StaffRole


class Permission(StrEnum):
    PLAYER_READ = "player:read"  # profile basics: login, country, status, VIP, preferences
    PLAYER_READ_PII = "player:read_pii"  # contact data in full: email, birth date, phone, address
    PLAYER_READ_MASKED = "player:read_masked"  # contact data masked (j***@example.com)
    PLAYER_WRITE = "player:write"
    PLAYER_BLOCK = "player:block"
    PLAYER_VIP = "player:vip"  # VIP level (it triggers VIP bonuses, so not plain player:write)
    SEGMENT_READ = "segment:read"  # segments, traffic source, affiliate, activity
    SEGMENT_MANAGE = "segment:manage"
    WALLET_READ = "wallet:read"
    WALLET_OPERATE = "wallet:operate"  # bets, wins, deposits by the game engine / payments
    WALLET_ADJUST = "wallet:adjust"  # manual corrections by finance staff
    BONUS_READ = "bonus:read"  # campaigns and players' bonuses, wagering progress
    BONUS_MANAGE = "bonus:manage"
    KYC_READ = "kyc:read"  # documents and verification details
    KYC_REVIEW = "kyc:review"
    AUDIT_READ = "audit:read"
    AUDIT_PROOF = "audit:proof"  # Merkle proofs and signed checkpoints of the audit log
    GDPR_EXPORT = "gdpr:export"  # a player's complete personal data (subject access)
    REGULATOR_EXPORT = "export:regulator"  # the signed regulator bundle (personal data, money)
    GDPR_ERASE = "gdpr:erase"  # erasure: pseudonymise a player, keep what AML law requires
    CONSENT_READ = "consent:read"  # marketing consents per channel, terms version, history
    CONSENT_WRITE = "consent:write"  # record a consent change (players: their own)
    EVENT_READ = "event:read"  # the back-office live feed of domain events
    WEBHOOK_MANAGE = "webhook:manage"  # webhook endpoints, deliveries, redelivery
    STAFF_MANAGE = "staff:manage"
    CLIENT_MANAGE = "client:manage"  # OAuth service clients
    REGISTER = "player:register"  # sign-up: everyone, including anonymous callers
    FRAUD_READ = "fraud:read"  # risk scores, signals and evidence, fraud rules and cases
    FRAUD_MANAGE = "fraud:manage"  # save fraud rules, assign and decide fraud cases
    ANALYTICS_READ = "analytics:read"  # business analytics (rollups), no personal data
    ALERT_READ = "alert:read"  # alert rules, alerts and their history, the alerts subscription
    ALERT_MANAGE = "alert:manage"  # save alert rules, acknowledge and resolve alerts
    # CRM export bundles (marketable players, memberships) and ERP bundles (ledger, daily
    # balances): starting them and reading their jobs. Marketing-list imports.
    EXPORT_CRM = "export:crm"
    EXPORT_ERP = "export:erp"
    IMPORT_MARKETING = "import:marketing"
    SELF = "self"  # own account: me, logout, MFA enrolment (any signed-in caller)
    # Responsible gambling: see limits and exclusions; set limits (staff: only lower);
    # take a break or self-exclude (the player, or ADMIN for them); lift one (ADMIN only).
    RG_READ = "rg:read"
    RG_LIMIT = "rg:limit"
    RG_EXCLUDE = "rg:exclude"
    RG_LIFT = "rg:lift"


P = Permission

ROLE_PERMISSIONS: dict[StaffRole, frozenset[Permission]] = {
    StaffRole.ADMIN: frozenset(P) - {P.SELF, P.REGISTER},
    StaffRole.SUPPORT: frozenset(
        {P.PLAYER_READ, P.PLAYER_READ_PII, P.PLAYER_READ_MASKED, P.PLAYER_WRITE, P.PLAYER_BLOCK,
         P.WALLET_READ, P.SEGMENT_READ, P.EVENT_READ, P.BONUS_READ, P.RG_READ, P.RG_LIMIT,
         P.ALERT_READ, P.CONSENT_READ, P.CONSENT_WRITE}
    ),
    StaffRole.MARKETER: frozenset(
        {P.PLAYER_READ, P.PLAYER_READ_MASKED, P.SEGMENT_READ, P.SEGMENT_MANAGE, P.BONUS_READ,
         P.BONUS_MANAGE, P.EVENT_READ, P.PLAYER_VIP, P.ANALYTICS_READ, P.EXPORT_CRM,
         P.IMPORT_MARKETING, P.CONSENT_READ}
    ),
    StaffRole.COMPLIANCE: frozenset(
        {P.PLAYER_READ, P.PLAYER_READ_PII, P.PLAYER_READ_MASKED, P.PLAYER_BLOCK, P.WALLET_READ,
         P.SEGMENT_READ, P.KYC_READ, P.KYC_REVIEW, P.AUDIT_READ, P.AUDIT_PROOF, P.GDPR_EXPORT,
         P.REGULATOR_EXPORT, P.EVENT_READ, P.BONUS_READ, P.RG_READ, P.RG_LIMIT, P.FRAUD_READ,
         P.FRAUD_MANAGE, P.ALERT_READ, P.ALERT_MANAGE, P.GDPR_ERASE, P.CONSENT_READ,
         P.CONSENT_WRITE}
    ),
    StaffRole.FINANCE: frozenset(
        {P.PLAYER_READ, P.PLAYER_READ_MASKED, P.WALLET_READ, P.WALLET_ADJUST, P.BONUS_READ,
         P.ANALYTICS_READ, P.ALERT_READ, P.EXPORT_ERP}
    ),
}  # fmt: skip

# What an OAuth client may be granted (and so hold as scopes).
SERVICE_SCOPES: frozenset[Permission] = frozenset(
    {P.PLAYER_READ, P.PLAYER_READ_PII, P.PLAYER_READ_MASKED, P.PLAYER_WRITE, P.PLAYER_BLOCK,
     P.SEGMENT_READ, P.SEGMENT_MANAGE, P.WALLET_READ, P.WALLET_OPERATE, P.BONUS_READ,
     P.BONUS_MANAGE,
     P.KYC_READ, P.KYC_REVIEW}
)  # fmt: skip

# What a player may do to their OWN data, where the rule says owner_ok=True.
OWNER_PERMISSIONS: frozenset[Permission] = frozenset(
    {P.PLAYER_READ, P.PLAYER_READ_PII, P.PLAYER_READ_MASKED, P.PLAYER_WRITE, P.SEGMENT_READ,
     P.WALLET_READ, P.KYC_READ, P.BONUS_READ, P.RG_READ, P.RG_LIMIT, P.RG_EXCLUDE,
     P.CONSENT_READ, P.CONSENT_WRITE}
)  # fmt: skip

ANONYMOUS_PERMISSIONS: frozenset[Permission] = frozenset({P.REGISTER})
SIGNED_IN_PERMISSIONS: frozenset[Permission] = frozenset({P.SELF, P.REGISTER})


def permissions_of(principal: Principal) -> frozenset[Permission]:
    """Everything ``principal`` may do regardless of ownership."""
    return _granted(principal.kind, principal.roles, principal.scopes)


@lru_cache(maxsize=256)
def _granted(
    kind: PrincipalKind, roles: frozenset[str], scopes: frozenset[str]
) -> frozenset[Permission]:
    """Per kind and role/scope set, not per principal: computed once, not per field check
    (a few sets of roles and scopes exist; their tokens are ours, signed)."""
    if kind is PrincipalKind.SYSTEM:
        return frozenset(P)
    if kind is PrincipalKind.STAFF:
        granted: frozenset[Permission] = frozenset()
        for role in roles:
            if role in StaffRole.__members__:
                granted |= ROLE_PERMISSIONS[StaffRole(role)]
        return granted | SIGNED_IN_PERMISSIONS
    if kind is PrincipalKind.SERVICE:
        granted_scopes = {P(s) for s in scopes if s in P._value2member_map_}
        return frozenset(granted_scopes & SERVICE_SCOPES) | SIGNED_IN_PERMISSIONS
    if kind is PrincipalKind.PLAYER:
        return SIGNED_IN_PERMISSIONS
    return ANONYMOUS_PERMISSIONS


def is_allowed(
    principal: Principal,
    permission: Permission,
    *,
    owner_ok: bool = False,
    owner: str | None = None,
) -> bool:
    """May ``principal`` use ``permission`` on data owned by player ``owner`` (a player id)?"""
    if permission in permissions_of(principal):
        return True
    return (
        owner_ok
        and owner is not None
        and principal.kind is PrincipalKind.PLAYER
        and principal.id == owner
        and permission in OWNER_PERMISSIONS
    )
