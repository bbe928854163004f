"""Who am I, my second factors, and the audit log."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlmodel import col

from app.audit.models import AuditEntry
from app.core.principal import PrincipalKind
from app.identity import login, mfa
from app.players import service as players
from permissions.roles import Permission as P
from permissions.rules import nullable, required
from schema.context import Info
from schema.types.identity import AuditRecord, MfaMethod, ServiceClient, StaffUser
from schema.types.player import Player

Viewer = Annotated[Player | StaffUser | ServiceClient, strawberry.union("Viewer")]


@strawberry.type
class MfaFactorInfo:
    id: strawberry.ID
    method: MfaMethod
    label: str


@strawberry.type
class IdentityQueries:
    @strawberry.field(
        description="The caller: own Player, staff member or service client.",
        extensions=[nullable(P.SELF)],
    )
    async def me(self, info: Info) -> Viewer | None:
        principal = info.context.principal
        if principal.kind is PrincipalKind.PLAYER:
            async with info.context.db.read_session() as session:
                row = await players.get_player(session, uuid.UUID(principal.id))
            return Player.from_model(row) if row else None
        if principal.kind is PrincipalKind.STAFF:
            assert info.context.identity is not None
            staff = await login.staff_by_id(info.context.identity, principal.id)
            return StaffUser.from_model(staff) if staff else None
        if principal.kind is PrincipalKind.SERVICE:
            return ServiceClient(client_id=principal.id, scopes=sorted(principal.scopes))
        return None

    @strawberry.field(description="The caller's own second factors.", extensions=[nullable(P.SELF)])
    async def my_mfa_factors(self, info: Info) -> list[MfaFactorInfo]:
        async with info.context.db.read_session() as session:
            rows = await mfa.factors(session, info.context.principal.key)
        return [MfaFactorInfo(id=strawberry.ID(str(r.id)), method=MfaMethod(r.kind), label=r.label)
                for r in rows]  # fmt: skip

    @strawberry.field(
        description="Audit records, newest first.", extensions=[required(P.AUDIT_READ)]
    )
    async def audit_log(
        self, info: Info, actor: str | None = None, target: str | None = None, first: int = 50
    ) -> list[AuditRecord]:
        from app.audit.personal import values_of
        from schema.pagination import check_page_size

        limit = check_page_size(first, info.context.settings.max_page_size)
        stmt = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        if actor:
            stmt = stmt.where(col(AuditEntry.actor) == actor)
        if target:
            stmt = stmt.where(col(AuditEntry.target) == target)
        async with info.context.db.read_session() as session:
            rows = list((await session.execute(stmt)).scalars())
            personal = await values_of(session, (r.id for r in rows if r.id is not None))
            return [AuditRecord.from_model(r, personal.get(r.id or 0)) for r in rows]
