"""THE decisions on personal data, column by column: which columns hold personal data
(True) and which only look as if they did (False). tests/integration/gdpr/test_completeness.py
walks ``SQLModel.metadata``: a column whose name looks personal (PERSONAL_LOOKING) must have
a decision here or in its own ``Column(info={"personal": ...})``, and every column decided
personal in a table about players must appear, with the player's value, in their export.

Personal data of staff (``staff``) is decided here too; it is never part of a player's
export (STAFF_TABLES)."""

from __future__ import annotations

import re

from sqlalchemy import Column

PERSONAL_LOOKING = re.compile(
    r"name|email|phone|address|birth|(^|_)ip($|_)|device|login|city|postal|zip|user_agent"
    r"|fingerprint|identifier|document|note|secret|label|body|iban|passport|tax"
)

STAFF_TABLES = frozenset({"staff"})

PERSONAL: dict[str, dict[str, bool]] = {
    "players": {"email": True, "login": True, "birth_date": True, "country": True,
                "locale": True, "preferences": True, "password_hash": False},
    "player_profiles": {"first_name": True, "last_name": True, "phone": True,
                        "address_line1": True, "address_line2": True, "city": True,
                        "postal_code": True, "address_country": True},
    "player_settings_changes": {"old_value": True, "new_value": True},
    "player_consents": {"value": True},
    "player_consent_changes": {"old_value": True, "new_value": True},
    # ip and user agent hold commitments; the values are in audit_personal_values
    "audit_log": {"ip": True, "user_agent": True, "actor": False, "target": False},
    "audit_personal_values": {"value": True},
    "mfa_factors": {"label": True, "secret": True},
    "sms_outbox": {"phone": True, "body": True},
    "kyc_cases": {"documents": True, "review_note": True},
    "kyc_case_events": {"note": True},
    "fraud_cases": {"note": True},
    "fraud_identifiers": {"value_hash": True},  # hashed IPs and device ids
    "staff": {"email": True, "display_name": True},
    # names of things, keys and secrets of systems: not about a person
    "analytics_daily_counts": {"name": False},
    "audit_signing_keys": {"name": False},
    "bonus_campaigns": {"name": False},
    "bonus_trigger_cursors": {"name": False},
    "segments": {"name": False},
    "oauth_clients": {"name": False, "secret_hash": False},
    "webhook_endpoints": {"secret": False},
    "alert_counters": {"name": False},  # counter names (mutation.registerPlayer.error)
    # staff notes on alerts: about the system, not a player (and shown to alert:read only)
    "alert_history": {"note": False},
}  # fmt: skip


def decision(table: str, column: Column[object]) -> bool | None:
    """True/False as decided (the column's own ``info`` first), None when undecided."""
    own = column.info.get("personal")
    if isinstance(own, bool):
        return own
    return PERSONAL.get(table, {}).get(column.name)
