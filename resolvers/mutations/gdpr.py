"""GDPR: subject access (export everything held about one player; COMPLIANCE, ADMIN) and
erasure (COMPLIANCE, ADMIN); each call is audited."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import errors
from app.gdpr import erasure
from app.gdpr.errors import ErasureBlocked
from app.gdpr.export import export_player, to_json
from app.identity.sessions import end_account_sessions
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_uuid
from schema.input_guard import FreeTextArg
from schema.types.gdpr import PlayerErasure


@strawberry.type(description="Every personal datum held about the player, as one JSON "
                 "document: `tables` -> {columns, rows}.")  # fmt: skip
class PlayerDataExport:
    player_id: strawberry.ID
    document: str


EXPORT = MutationSpec(
    "ExportPlayerDataResult", (PlayerDataExport,), (errors.NotFound, errors.ValidationFailed)
)

ERASE = MutationSpec(
    "ErasePlayerResult", (PlayerErasure,),
    (errors.NotFound, errors.ValidationFailed, ErasureBlocked),
)  # fmt: skip


@strawberry.type
class GdprMutations:
    @strawberry.mutation(
        graphql_type=EXPORT.union,
        description="Subject access / portability export of one player (GDPR art. 15, 20).",
        extensions=[forbidden_result(P.GDPR_EXPORT, audit=True)],
    )
    async def export_player_data(self, info: Info, player_id: strawberry.ID) -> object:
        try:
            pid = parse_uuid(player_id, "playerId")
        except errors.DomainError as exc:
            return EXPORT.answer(exc)
        return await run(
            info, EXPORT, lambda s: export_player(s, pid),
            lambda doc: PlayerDataExport(player_id=player_id, document=to_json(doc)),
        )  # fmt: skip

    @strawberry.mutation(
        graphql_type=ERASE.union,
        description="Erase a player (GDPR art. 17): name, email, login, phone, address, birth "
        "date, IPs and device ids are replaced or deleted at once and the account is closed "
        "(its sessions end); KYC records and transactions are kept for the AML retention "
        "(AMLD art. 40), then purged. Refused while a withdrawal or hold is pending; a "
        "second call answers the first erasure.",
        extensions=[forbidden_result(P.GDPR_ERASE, audit=True)],
    )
    async def erase_player(
        self, info: Info, player_id: strawberry.ID, reason: FreeTextArg
    ) -> object:
        ctx = info.context
        try:
            pid = parse_uuid(player_id, "playerId")
        except errors.DomainError as exc:
            return ERASE.answer(exc)

        async def erase(session: AsyncSession) -> erasure.ErasureResult:
            result = await erasure.erase_player(
                session, ctx.settings, pid, reason, ctx.principal.key
            )
            if ctx.identity is not None:
                # Inside the transaction: if ending the sessions fails, so does the erasure.
                await end_account_sessions(ctx.identity, f"player:{pid}", "erased (GDPR)")
            return result

        return await run(
            info, ERASE, erase, lambda r: PlayerErasure.from_model(r.erasure, r.already_erased)
        )
