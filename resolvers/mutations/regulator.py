"""The regulator export over GraphQL (COMPLIANCE, ADMIN): the same bundle as
``pms export regulator``, written under PMS_EXPORT_DIR on the server.

Synchronous with a bounded range (``regulator_export_graphql_max_days``): the caller gets
the sealed bundle's manifest hash in the answer and nothing runs on after the request, so
no job table, no polling and no half-finished state; longer ranges, where a request would
outlive proxies' timeouts, run from the CLI with a progress bar."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import strawberry

from app.core import errors
from app.exports import errors as export_errors
from app.exports.regulator import RegulatorRange, RegulatorResult, b64, run_regulator_export
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result
from resolvers.runner import MutationSpec, run_unmanaged
from schema.context import Info
from schema.ids import parse_uuid


@strawberry.type(description="One file of a bundle: its row count and SHA-256 (hex).")
class BundleFile:
    name: str
    rows: int
    sha256: str


@strawberry.type(description="A sealed regulator bundle: where it is on the server, its "
                 "manifest's SHA-256 and the signed audit checkpoint its entries are proven "
                 "in. Check it with `pms export verify DIR`.")  # fmt: skip
class RegulatorExport:
    directory: str
    manifest_sha256: str
    audit_tree_size: int
    audit_root_hash: str | None
    files: list[BundleFile]

    @classmethod
    def of(cls, r: RegulatorResult) -> RegulatorExport:
        return cls(
            directory=str(r.directory), manifest_sha256=r.manifest_sha256,
            audit_tree_size=r.tree_size,
            audit_root_hash=b64(r.root_hash) if r.root_hash is not None else None,
            files=[BundleFile(name=f.name, rows=f.rows, sha256=f.sha256) for f in r.files],
        )  # fmt: skip


EXPORT = MutationSpec(
    "ExportRegulatorBundleResult", (RegulatorExport,),
    (export_errors.InvalidExportRange, export_errors.ExportBusy, errors.NotFound,
     errors.ValidationFailed),
)  # fmt: skip


@strawberry.type
class RegulatorMutations:
    @strawberry.mutation(
        graphql_type=EXPORT.union,
        description="Regulator export of `(from, to]` (optionally one player): players, KYC "
        "decisions, ledger transfers, balances at `from` and `to`, bonuses, status changes "
        "and audit entries with inclusion proofs, as a signed bundle. Runs synchronously; "
        "the range is bounded (longer ones: `pms export regulator`).",
        extensions=[forbidden_result(P.REGULATOR_EXPORT, audit=True)],
    )
    async def export_regulator_bundle(
        self,
        info: Info,
        start: Annotated[datetime, strawberry.argument(name="from")],
        end: Annotated[datetime, strawberry.argument(name="to")],
        player_id: strawberry.ID | None = None,
    ) -> object:
        settings = info.context.settings
        try:
            player = parse_uuid(player_id, "playerId") if player_id is not None else None
        except errors.DomainError as exc:
            return EXPORT.answer(exc)
        rng = RegulatorRange(start, end, player)
        return await run_unmanaged(
            info, EXPORT,
            lambda: run_regulator_export(
                info.context.db, settings, rng, Path(settings.export_dir),
                actor=actor_of(info), max_days=settings.regulator_export_graphql_max_days,
            ),
            RegulatorExport.of,
        )  # fmt: skip
