"""The segment rule language: JSON data, validated on save, compiled to ONE SQL condition.

A rule is a node::

    {"and": [node, ...]} | {"or": [node, ...]} | {"not": node}
    {"attr": "<attribute>", "op": "<operator>", "value": <JSON value>}

Operators: eq, ne, lt, lte, gt, gte, in (value is a non-empty list), contains (substring
for text attributes, membership for ``tags``). Values are bound parameters, never
interpolated into SQL. Every comparison is two-valued (a missing value compares false), so
``not`` means what it says. Money attributes are integers in minor units of the player's
currency (``netDeposits: {"op": "gte", "value": 10000}`` is 100.00 EUR for a EUR player).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)

from app.consents.service import CHANNELS, granted_any
from app.core.errors import DomainError
from app.core.settings import Settings
from app.segments.tables import BASE as BASE
from app.segments.tables import M, T
from app.segments.tables import P as P

MAX_DEPTH = 5
MAX_NODES = 50
MAX_LIST = 100
MAX_TEXT = 128


class InvalidRule(DomainError):
    code = "INVALID_SEGMENT_RULE"

    def __init__(self, reason: str, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.reason = reason  # UNKNOWN_ATTRIBUTE, UNKNOWN_OPERATOR, INVALID_VALUE, ...
        self.path = path


@dataclass(frozen=True)
class Attribute:
    kind: str  # "text", "int", "number", "tags", "consent"
    expr: Callable[[Settings], ColumnElement[Any]]
    description: str
    # The permission (its name in permissions/roles.py) needed to read this attribute on
    # a player, and so to build, change or preview a segment on it: a segment's members
    # reveal the attribute's value.
    permission: str = "player:read"


def _days_since(ts: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(func.floor(func.extract("epoch", func.now() - ts) / 86400), Integer)


def _last_active_days(_: Settings) -> ColumnElement[Any]:
    return _days_since(func.coalesce(M.c.last_activity_at, P.c.created_at))


def _activity_status(settings: Settings) -> ColumnElement[Any]:
    days = _last_active_days(settings)
    return case(
        (days <= settings.activity_active_days, "ACTIVE"),
        (days <= settings.activity_churned_days, "DORMANT"),
        else_="CHURNED",
    )


def _bets_per_day(_: Settings) -> ColumnElement[Any]:
    span = func.greatest(1.0, func.extract("epoch", func.now() - M.c.first_bet_at) / 86400)
    return func.coalesce(cast(M.c.bet_count, Float) / span, 0.0)


def _metric(column: ColumnElement[Any]) -> Callable[[Settings], ColumnElement[Any]]:
    return lambda _: func.coalesce(column, 0)


# Play-style metrics and acquisition data are what Player.playStyle / trafficSource show
# (segment:read); the KYC risk level is what Player.riskLevel shows (kyc:read).
_SEGMENT = "segment:read"
_KYC = "kyc:read"

ATTRIBUTES: dict[str, Attribute] = {
    "country": Attribute("text", lambda _: P.c.country, "ISO country code"),
    "currency": Attribute("text", lambda _: P.c.currency, "account currency"),
    "trafficSource": Attribute(
        "text", lambda _: P.c.traffic_source, "registration source", _SEGMENT
    ),
    "affiliateCode": Attribute("text", lambda _: P.c.affiliate_code, "affiliate", _SEGMENT),
    "status": Attribute("text", lambda _: P.c.status, "account status"),
    "confirmStatus": Attribute("text", lambda _: P.c.confirm_status, "KYC status"),
    "riskLevel": Attribute("text", lambda _: P.c.risk_level, "KYC risk level", _KYC),
    "vipLevel": Attribute("int", lambda _: P.c.vip_level, "VIP level, 0 = none"),
    "registeredDays": Attribute("int", lambda _: _days_since(P.c.created_at), "account age"),
    "lastActiveDays": Attribute("int", _last_active_days, "days since last bet/payment", _SEGMENT),
    "activityStatus": Attribute("text", _activity_status, "ACTIVE, DORMANT or CHURNED", _SEGMENT),
    "betCount": Attribute("int", _metric(M.c.bet_count), "bets placed", _SEGMENT),
    "betsPerDay": Attribute("number", _bets_per_day, "bets per day since the first bet", _SEGMENT),
    "avgBet": Attribute(
        "int", _metric(M.c.stake_total / func.nullif(M.c.bet_count, 0)), "minor units", _SEGMENT
    ),
    "depositCount": Attribute("int", _metric(M.c.deposit_count), "deposits made", _SEGMENT),
    "netDeposits": Attribute(
        "int", _metric(M.c.deposit_total - M.c.withdrawal_total), "minor units", _SEGMENT
    ),
    "ggr": Attribute(
        "int", _metric(M.c.stake_total - M.c.win_total), "stakes - wins, minor", _SEGMENT
    ),
    "tags": Attribute("tags", lambda _: P.c.id, "custom staff tags", _SEGMENT),
    # the consent records (app/consents: the one rule the CRM export reads too)
    "marketingConsent": Attribute(
        "consent", lambda _: P.c.id, "channels marketing consent is granted for", "consent:read"
    ),
}

OPERATORS_BY_KIND = {
    "text": {"eq", "ne", "in", "contains"},
    "int": {"eq", "ne", "lt", "lte", "gt", "gte", "in"},
    "number": {"eq", "ne", "lt", "lte", "gt", "gte", "in"},
    "tags": {"contains", "in"},
    "consent": {"contains", "in"},
}
ALL_OPERATORS = {"eq", "ne", "lt", "lte", "gt", "gte", "in", "contains"}


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "consent":
        return value in CHANNELS
    if kind in ("text", "tags"):
        return isinstance(value, str) and 0 < len(value) <= MAX_TEXT
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int) and abs(value) < 2**63
    return isinstance(value, int | float) and abs(value) < 1e15


def attributes_used(rule: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every known attribute a rule uses, with the JSON path of its node (tolerant of a
    malformed rule: ``validate`` reports those)."""
    if not isinstance(rule, dict):
        return
    for op in ("and", "or"):
        if isinstance(rule.get(op), list):
            for i, child in enumerate(rule[op]):
                yield from attributes_used(child, f"{path}.{op}[{i}]")
    if "not" in rule:
        yield from attributes_used(rule["not"], f"{path}.not")
    attr = rule.get("attr")
    if isinstance(attr, str) and attr in ATTRIBUTES:
        yield attr, f"{path}.attr"


def validate(rule: Any) -> None:
    """Raise InvalidRule naming the first problem (with a JSON path), or return."""
    nodes = 0

    def walk(node: Any, path: str, depth: int) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_NODES:
            raise InvalidRule("TOO_MANY_NODES", path, f"a rule has at most {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise InvalidRule("TOO_DEEP", path, f"rules nest at most {MAX_DEPTH} levels")
        if not isinstance(node, dict):
            raise InvalidRule("MALFORMED", path, "a node must be an object")
        keys = set(node)
        if keys in ({"and"}, {"or"}):
            (op,) = keys
            children = node[op]
            if not isinstance(children, list) or not children:
                raise InvalidRule("MALFORMED", path, f"'{op}' takes a non-empty list")
            for i, child in enumerate(children):
                walk(child, f"{path}.{op}[{i}]", depth + 1)
            return
        if keys == {"not"}:
            walk(node["not"], f"{path}.not", depth + 1)
            return
        if keys != {"attr", "op", "value"}:
            raise InvalidRule(
                "MALFORMED", path, "expected and/or/not or {attr, op, value} with no other keys"
            )
        attr, op, value = node["attr"], node["op"], node["value"]
        attribute = ATTRIBUTES.get(attr) if isinstance(attr, str) else None
        if attribute is None:
            raise InvalidRule("UNKNOWN_ATTRIBUTE", f"{path}.attr", f"unknown attribute {attr!r}")
        if op not in ALL_OPERATORS:
            raise InvalidRule("UNKNOWN_OPERATOR", f"{path}.op", f"unknown operator {op!r}")
        if op not in OPERATORS_BY_KIND[attribute.kind]:
            raise InvalidRule(
                "UNSUPPORTED_OPERATOR", f"{path}.op", f"{attr} does not support {op!r}"
            )
        if op == "in":
            ok = (
                isinstance(value, list)
                and 0 < len(value) <= MAX_LIST
                and all(_scalar_ok(attribute.kind, v) for v in value)
            )
        else:
            ok = _scalar_ok(attribute.kind, value)
        if not ok:
            expected = {
                "text": "a string",
                "tags": "a string",
                "int": "an integer",
                "consent": "a channel: " + ", ".join(CHANNELS),
            }.get(attribute.kind, "a number")
            if op == "in":
                expected = f"a non-empty list (max {MAX_LIST}) of {expected.split(' ', 1)[1]}s"
            raise InvalidRule("INVALID_VALUE", f"{path}.value", f"{attr} {op} needs {expected}")

    walk(rule, "$", 1)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _leaf(attr: str, op: str, value: Any, settings: Settings) -> ColumnElement[bool]:
    attribute = ATTRIBUTES[attr]
    if attribute.kind == "consent":
        return granted_any(P.c.id, [value] if op == "contains" else value)
    if attribute.kind == "tags":
        tags = [value] if op == "contains" else value
        return exists(select(T.c.tag).where(T.c.player_id == P.c.id, T.c.tag.in_(tags))).correlate(
            P
        )
    expr = attribute.expr(settings)
    condition: ColumnElement[bool]
    if op == "contains":
        condition = expr.like(f"%{_escape_like(value)}%", escape="\\")
    elif op == "in":
        condition = expr.in_(value)
    else:
        condition = {
            "eq": expr.__eq__,
            "ne": expr.__ne__,
            "lt": expr.__lt__,
            "lte": expr.__le__,
            "gt": expr.__gt__,
            "gte": expr.__ge__,
        }[op](value)
    # NULL (no traffic source, say) compares false, not unknown: NOT stays two-valued.
    return func.coalesce(condition, false())


def compile_rule(rule: dict[str, Any], settings: Settings) -> ColumnElement[bool]:
    """The rule as a condition over ``BASE`` (call ``validate`` first)."""
    if "and" in rule:
        return and_(*(compile_rule(child, settings) for child in rule["and"]))
    if "or" in rule:
        return or_(*(compile_rule(child, settings) for child in rule["or"]))
    if "not" in rule:
        return not_(compile_rule(rule["not"], settings))
    return _leaf(rule["attr"], rule["op"], rule["value"], settings)
