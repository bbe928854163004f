"""``pms audit ...``: maintain and checkpoint the audit tree, print and export signed
checkpoints, inclusion and consistency proofs, and verify the whole trail."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from app.audit import checkpoints, proofs, tasks, verify
from app.audit.errors import InvalidCheckpoint, UnknownSigningKey
from app.core.db import Database
from app.core.errors import DomainError
from app.core.settings import Settings
from app.retention import repository as retention_repository
from pms.cli_db import run_with_database


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def cmd_maintain(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        if args.checkpoint:
            await tasks.checkpoint_now(db, settings)
        else:
            print(f"sequenced {await tasks.maintain(db, settings)} entries")
        return 0

    return run_with_database(settings, work)


def cmd_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    """Print (or write to --out) the latest signed checkpoint as a C2SP signed note."""

    found: list[str] = []

    async def work(db: Database) -> int:
        async with db.read_session() as session:
            row = await checkpoints.latest(session)
            if row is None:
                print("no checkpoint yet", file=sys.stderr)
                return 1
            found.append(await checkpoints.note_text(session, row))
        return 0

    code = run_with_database(settings, work)
    if found and args.out:
        Path(args.out).write_text(found[0], encoding="utf-8")
    elif found:
        sys.stdout.write(found[0])
    return code


def cmd_prove(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        try:
            async with db.read_session() as session:
                out = await _proof(session, args)
        except DomainError as exc:
            print(f"error {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        print(json.dumps(out, indent=2))
        return 0

    return run_with_database(settings, work)


async def _proof(session: Any, args: argparse.Namespace) -> dict[str, Any]:
    if args.audit_command == "inclusion":
        p = await proofs.inclusion(session, args.entry_id, args.size)
        return {"entryId": p.entry_id, "leafIndex": p.leaf_index, "treeSize": p.tree_size,
                "leafHash": _b64(p.leaf_hash), "rootHash": _b64(p.root_hash),
                "path": [_b64(h) for h in p.path]}  # fmt: skip
    c = await proofs.consistency(session, args.first, args.second)
    return {"first": c.first, "second": c.second, "firstRoot": _b64(c.first_root),
            "secondRoot": _b64(c.second_root), "path": [_b64(h) for h in c.path]}  # fmt: skip


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when the trail is intact, 1 naming the first bad position, 2 when the
    exported checkpoint itself is bad (unknown key, bad signature, unparsable)."""
    exported = Path(args.checkpoint).read_text(encoding="utf-8") if args.checkpoint else None

    async def work(db: Database) -> int:
        try:
            async with db.transaction() as session:
                archived = await retention_repository.archived_prefix(session)
                report = await verify.verify(session, exported, archived)
        except (InvalidCheckpoint, UnknownSigningKey) as exc:
            print(f"error {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        for problem in sorted(report.problems, key=lambda p: p.position):
            print(f"BAD {problem.message}")
        summary = f"{report.size} entries, {report.checkpoints_checked} checkpoints"
        if report.ok:
            print(f"OK {summary}")
            return 0
        print(f"FIRST BAD POSITION {report.first_bad_position} ({summary})")
        return 1

    return run_with_database(settings, work)


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    maintain = audit.add_parser("maintain", help="sequence committed entries into the tree")
    maintain.add_argument("--checkpoint", action="store_true", help="and sign a checkpoint now")
    maintain.set_defaults(handler=cmd_maintain)
    checkpoint = audit.add_parser("checkpoint", help="print/export the latest signed checkpoint")
    checkpoint.add_argument("--out", help="write the signed note to this file")
    checkpoint.set_defaults(handler=cmd_checkpoint)
    inclusion = audit.add_parser("inclusion", help="inclusion proof of one entry")
    inclusion.add_argument("entry_id", type=int)
    inclusion.add_argument("--size", type=int, help="tree size (default: current)")
    inclusion.set_defaults(handler=cmd_prove)
    consistency = audit.add_parser("consistency", help="consistency proof between two sizes")
    consistency.add_argument("first", type=int)
    consistency.add_argument("second", type=int, nargs="?")
    consistency.set_defaults(handler=cmd_prove)
    check = audit.add_parser("verify", help="recompute the tree and check every checkpoint")
    check.add_argument("--checkpoint", help="an exported checkpoint (signed note) to hold it to")
    check.set_defaults(handler=cmd_verify)


def cmd_gdpr_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write one player's subject-access document (JSON) to --out or stdout."""
    import uuid

    from app.gdpr.export import export_player, to_json

    found: list[str] = []

    async def work(db: Database) -> int:
        try:
            async with db.read_session() as session:
                found.append(to_json(await export_player(session, uuid.UUID(args.player))))
        except DomainError as exc:
            print(f"error {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        return 0

    try:
        uuid.UUID(args.player)
    except ValueError:
        print("error VALIDATION_ERROR: PLAYER is not a player id", file=sys.stderr)
        return 2
    code = run_with_database(settings, work)
    if found and args.out:
        Path(args.out).write_text(found[0], encoding="utf-8")
    elif found:
        sys.stdout.write(found[0] + "\n")
    return code


def cmd_gdpr_erase(settings: Settings, args: argparse.Namespace) -> int:
    """Erase one player (as the CLI's system principal); prints the erasure as JSON."""
    import json
    import uuid

    from app.gdpr.erasure import erase_player
    from app.identity.runtime import IdentityRuntime
    from app.identity.sessions import end_account_sessions

    try:
        player_id = uuid.UUID(args.player)
    except ValueError:
        print("error VALIDATION_ERROR: PLAYER is not a player id", file=sys.stderr)
        return 2

    async def work(db: Database) -> int:
        runtime = IdentityRuntime(lambda: db, settings)
        try:
            async with db.transaction() as session:
                result = await erase_player(session, settings, player_id, args.reason,
                                            "system:cli")  # fmt: skip
                await end_account_sessions(runtime, f"player:{player_id}", "erased (GDPR)")
        except DomainError as exc:
            print(f"error {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        finally:
            await runtime.stop()
        row = result.erasure
        print(json.dumps({
            "playerId": str(row.player_id), "pseudonym": row.pseudonym,
            "erasedAt": row.erased_at.isoformat() if row.erased_at else None,
            "retainUntil": row.retain_until.isoformat(), "alreadyErased": result.already_erased,
        }))  # fmt: skip
        return 0

    return run_with_database(settings, work)


def register_gdpr(sub: Any) -> None:
    gdpr = sub.add_parser("gdpr", help="GDPR subject access and erasure").add_subparsers(
        dest="gdpr_command", required=True
    )
    erase = gdpr.add_parser(
        "erase", help="pseudonymise a player now; KYC and transactions kept for AML retention"
    )
    erase.add_argument("player", help="the player's id (UUID)")
    erase.add_argument("--reason", required=True, help="why (kept with the erasure record)")
    erase.set_defaults(handler=cmd_gdpr_erase)
    export = gdpr.add_parser("export", help="everything held about one player, as JSON")
    export.add_argument("player", help="the player's id (UUID)")
    export.add_argument("--out", help="write the JSON document to this file")
    export.set_defaults(handler=cmd_gdpr_export)
