"""The GraphQL schema as committed SDL (issue 17 item 10).

``make schema`` (``python -m pms.sdl``) rewrites ``schema.graphql`` from the code; the test
suite fails while the two differ, so every schema change shows up in review.
``python -m pms.sdl --breaking`` lists the changes that break clients of the last release
(``schema.release.graphql``, copied from ``schema.graphql`` when a release is tagged)
with graphql-core's ``find_breaking_changes``; exit status 1 when there are any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from graphql import BreakingChange, GraphQLSchema, build_schema, find_breaking_changes

from app.core.settings import Settings
from pms.schema import build_schema as build_pms_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema.graphql"
RELEASE_FILE = ROOT / "schema.release.graphql"


def current_sdl() -> str:
    """The SDL of the schema as the code builds it (default settings: no deployment's)."""
    return build_pms_schema(Settings(_env_file=None, env="test")).as_str() + "\n"


def graphql_schema(sdl: str) -> GraphQLSchema:
    # The federation directives are declared in the printed SDL itself.
    return build_schema(sdl, assume_valid_sdl=True)


def breaking_changes(old_sdl: str, new_sdl: str) -> list[BreakingChange]:
    return find_breaking_changes(graphql_schema(old_sdl), graphql_schema(new_sdl))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pms.sdl", description=__doc__)
    parser.add_argument("--breaking", action="store_true",
                        help=f"list breaking changes against {RELEASE_FILE.name}")  # fmt: skip
    args = parser.parse_args(argv)
    sdl = current_sdl()
    if not args.breaking:
        SCHEMA_FILE.write_text(sdl)
        print(f"wrote {SCHEMA_FILE.name}")
        return 0
    changes = breaking_changes(RELEASE_FILE.read_text(), sdl)
    for change in changes:
        print(f"BREAKING {change.type.name}: {change.description}")
    print(f"{len(changes)} breaking change(s) against {RELEASE_FILE.name}")
    return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main())
