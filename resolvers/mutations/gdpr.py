"""GDPR subject access: export everything held about one player (COMPLIANCE, ADMIN);
each call is audited (a staff read of personal data)."""

from __future__ import annotations

import strawberry

from app.core import errors
from app.gdpr.export import export_player, to_json
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_uuid


@strawberry.type(description="Every personal datum held about the player, as one JSON "
                 "document: `tables` -> {columns, rows}.")  # fmt: skip
class PlayerDataExport:
    player_id: strawberry.ID
    document: str


EXPORT = MutationSpec(
    "ExportPlayerDataResult", (PlayerDataExport,), (errors.NotFound, errors.ValidationFailed)
)


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
