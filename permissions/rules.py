"""Strawberry permission classes that enforce permissions/roles.py on fields and mutations.

How a resolver declares its requirement (every field of Query, Mutation and of the data
types needs one; tests/integration/identity/test_permission_matrix.py fails otherwise):

    # A nullable field or query: null (or [] for lists) when denied.
    @strawberry.field(extensions=[nullable(P.KYC_READ, owner_ok=True)])
    def risk_level(self) -> RiskLevel | None: ...

    # A non-null field: a FORBIDDEN GraphQL error when denied.
    login: str = strawberry.field(extensions=[required(P.PLAYER_READ, owner_ok=True)])

    # Contact data: full with one permission, masked with another, else null.
    @strawberry.field(extensions=[masked(P.PLAYER_READ_PII, P.PLAYER_READ_MASKED, mask_email)])

    # A mutation: its result union includes `Forbidden`; a denied call returns it and is
    # audited, the resolver never runs.
    @strawberry.mutation(extensions=[forbidden_result(P.WALLET_OPERATE)])
    async def debit(self, info: Info, input: DebitInput) -> DebitResult: ...

    # Open to everyone (login, registerPlayer): say so explicitly.
    @strawberry.mutation(extensions=[public()])

``owner_ok=True`` lets a player reach their own data: the owner is the ``owner_id()`` of
the source object (Player), else the field's ``id``/``playerId`` argument, else the
``playerId`` of its ``input`` object.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.field import StrawberryField

from app.audit import service as audit
from app.core.principal import Principal
from permissions.errors import Forbidden, UserError
from permissions.roles import Permission, is_allowed

OWNER_ARGUMENTS = ("id", "player_id")


def owner_of(source: Any, kwargs: dict[str, Any]) -> str | None:
    """The player id owning the data a field shows, if any."""
    if source is not None and hasattr(source, "owner_id"):
        owner = source.owner_id()
        if owner is not None:
            return str(owner)
    for name in OWNER_ARGUMENTS:
        if kwargs.get(name) is not None:
            return str(kwargs[name])
    nested = getattr(kwargs.get("input"), "player_id", None)  # mutations taking `input`
    return str(nested) if nested is not None else None


def actor_of(info: strawberry.Info) -> audit.Actor:
    ctx = info.context
    request = getattr(ctx, "request", None)
    client = getattr(request, "client", None)
    return audit.Actor(
        key=ctx.principal.key, ip=client.host if client else None, request_id=ctx.request_id
    )


class Require(BasePermission):
    """Allowed when the caller holds ``permission`` (or owns the data and ``owner_ok``)."""

    message = "Forbidden"
    error_extensions = {"code": "FORBIDDEN"}

    def __init__(
        self,
        permission: Permission | None,
        *,
        owner_ok: bool = False,
        also: tuple[Permission, ...] = (),
    ) -> None:
        self.permission = permission
        self.owner_ok = owner_ok
        self.also = also  # further permissions needed on top (e.g. segment members)

    @property
    def permissions(self) -> tuple[Permission, ...]:
        return () if self.permission is None else (self.permission, *self.also)

    def allows(self, principal: Principal, owner: str | None) -> bool:
        return all(
            is_allowed(principal, p, owner_ok=self.owner_ok, owner=owner) for p in self.permissions
        )

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return self.permits(info.context.principal, source, kwargs)

    def permits(self, principal: Principal, source: Any, kwargs: dict[str, Any]) -> bool:
        """``has_permission`` without the ``Info`` (the planned attribute fields')."""
        owner = owner_of(source, kwargs)
        if self.owner_ok and owner is not None and getattr(source, "owner_view", False):
            # The object was just created by this caller (registration): show it back.
            return True
        return self.allows(principal, owner)

    def __repr__(self) -> str:
        also = f", also={[str(p) for p in self.also]}" if self.also else ""
        return f"Require({self.permission}, owner_ok={self.owner_ok}{also})"


@dataclass(frozen=True)
class Rule:
    """What the matrix test reads: the requirement and what a denial looks like."""

    require: Require
    on_deny: str  # "null" | "error" | "forbidden" | "masked" | "public"
    masked_by: Require | None = None


class RuleExtension(FieldExtension):
    rule: Rule


class _PermissionRule(PermissionExtension, RuleExtension):
    """Strawberry's permission extension with one permission whose check is a plain bool
    (``Require``): the same decision and the same denial (``_on_unauthorized``), without
    the per-call awaitable and type checks a generic permission class needs."""

    def __init__(self, rule: Rule) -> None:
        super().__init__(permissions=[rule.require], fail_silently=rule.on_deny == "null")
        self.rule = rule

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kw: Any
    ) -> Any:
        require = self.rule.require
        if require.permits(info.context.principal, source, kw):
            return next_(source, info, **kw)
        return self._on_unauthorized(require)

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kw: Any
    ) -> Any:
        require = self.rule.require
        if not require.permits(info.context.principal, source, kw):
            return self._on_unauthorized(require)
        result = next_(source, info, **kw)
        return result if inspect.isasyncgen(result) else await result  # subscriptions

    def attribute_resolver(self, name: str) -> Callable[..., Any]:
        """The resolver of a resolver-less field ``name`` guarded by this rule alone:
        graphql-core calls it with the raw resolve info (no Strawberry ``Info`` built per
        object and field: schema/field_plans.py); same decision and denial as above."""
        require, deny = self.rule.require, self._on_unauthorized

        def resolve(source: Any, info: Any, **kw: Any) -> Any:
            if require.permits(info.context.principal, source, kw):
                return getattr(source, name)
            return deny(require)

        return resolve


def nullable(
    permission: Permission, *, owner_ok: bool = False, also: tuple[Permission, ...] = ()
) -> FieldExtension:
    return _PermissionRule(Rule(Require(permission, owner_ok=owner_ok, also=also), "null"))


def required(permission: Permission, *, owner_ok: bool = False) -> FieldExtension:
    return _PermissionRule(Rule(Require(permission, owner_ok=owner_ok), "error"))


class _Public(RuleExtension):
    def __init__(self) -> None:
        self.rule = Rule(Require(None), "public")

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kw: Any
    ) -> Any:
        return next_(source, info, **kw)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: strawberry.Info, **kw: Any
    ) -> Any:
        return await next_(source, info, **kw)


def public() -> FieldExtension:
    return _Public()


class _Masked(RuleExtension):
    def __init__(self, rule: Rule, mask: Callable[[Any], Any]) -> None:
        self.rule = rule
        self.mask = mask

    def _shown(self, value: Any, source: Any, info: strawberry.Info, kwargs: dict[str, Any]) -> Any:
        if value is None or self.rule.require.has_permission(source, info, **kwargs):
            return value
        if self.rule.masked_by and self.rule.masked_by.has_permission(source, info, **kwargs):
            return self.mask(value)
        return None

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kw: Any
    ) -> Any:
        return self._shown(next_(source, info, **kw), source, info, kw)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: strawberry.Info, **kw: Any
    ) -> Any:
        return self._shown(await next_(source, info, **kw), source, info, kw)


def masked(
    full: Permission, masked_with: Permission, mask: Callable[[Any], Any], *, owner_ok: bool = True
) -> FieldExtension:
    rule = Rule(Require(full, owner_ok=owner_ok), "masked", Require(masked_with, owner_ok=owner_ok))
    return _Masked(rule, mask)


class _ForbiddenResult(RuleExtension):
    def __init__(self, rule: Rule, *, audit_outcome: bool = False) -> None:
        self.rule = rule
        self.audit_outcome = audit_outcome

    def apply(self, field: StrawberryField) -> None:
        self.field_name = field.python_name

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: strawberry.Info, **kw: Any
    ) -> Any:
        if self.rule.require.has_permission(source, info, **kw):
            result = await next_(source, info, **kw)
            if self.audit_outcome:
                await _audit_outcome(info, owner_of(source, kw), result)
            return result
        permission = self.rule.require.permission
        await audit.record_now(
            info.context.db,
            actor_of(info),
            f"graphql.{info.field_name}",
            owner_of(source, kw),
            audit.DENIED,
            {"required": str(permission)},
        )
        return Forbidden(
            code="FORBIDDEN", message="you may not do this", required_permission=str(permission)
        )


def forbidden_result(
    permission: Permission, *, owner_ok: bool = False, audit: bool = False
) -> FieldExtension:
    """For mutations whose result union contains ``Forbidden``. A denial is always audited;
    with ``audit=True`` so is the outcome of every allowed call (resolvers that write their
    own, richer audit records — identity's — leave it off)."""
    rule = Rule(Require(permission, owner_ok=owner_ok), "forbidden")
    return _ForbiddenResult(rule, audit_outcome=audit)


async def _audit_outcome(info: strawberry.Info, target: str | None, result: Any) -> None:
    """One audit row per mutation: who, what, on whom, and whether it succeeded (a typed
    error is a failure, with its code). Written after the mutation's own transaction."""
    failed = isinstance(result, UserError)
    await audit.record_now(
        info.context.db,
        actor_of(info),
        f"graphql.{info.field_name}",
        target,
        audit.FAILURE if failed else audit.SUCCESS,
        {"code": result.code} if failed else None,
    )


def rule_of(field: StrawberryField) -> Rule | None:
    for extension in field.extensions:
        if isinstance(extension, RuleExtension):
            return extension.rule
    return None


def shown_value(field: StrawberryField, value: Any, principal: Principal, owner: str | None) -> Any:
    """What ``principal`` may see of a plain (resolver-less) field's ``value`` outside
    GraphQL (REST): the field's own rule applied, so both APIs show exactly the same."""
    rule = rule_of(field)
    if rule is None:
        return None
    if rule.require.allows(principal, owner):
        return value
    masker = next((e for e in field.extensions if isinstance(e, _Masked)), None)
    if masker and rule.masked_by and rule.masked_by.allows(principal, owner) and value is not None:
        return masker.mask(value)
    return None


def mask_email(email: str) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com``."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"
