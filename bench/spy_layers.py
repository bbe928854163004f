"""Where a server's CPU goes, by layer: a py-spy raw profile (``py-spy record --pid <uvicorn>
-f raw -o FILE``, e.g. while bench/wallet.py's GraphQL cell runs) summed per layer of the
request path. Each sample counts once, for the innermost frame that belongs to a layer, so
the shares add up to 100 % (threads other than the event loop's are left out).

    .venv/bin/python bench/spy_layers.py FILE [--functions LAYER]

``--functions`` lists that layer's innermost functions instead. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

# Innermost match wins; first pattern that matches a frame names its layer.
LAYERS = (
    ("ledger + database (service, asyncpg, SQLAlchemy)",
     r"app/ledger/|asyncpg|app/core/db\.py|sqlalchemy|app/events/wakeup"),
    ("PMS GraphQL extensions and plans (schema/*)", r"[(/]schema/(?!schema\.py)\w+(/\w+)?\.py"),
    ("graphql-core execution", r"graphql/"),
    ("Strawberry (schema.execute, view, types)", r"strawberry/"),
    ("resolvers, runner, permissions", r"resolvers/|permissions/"),
    ("metrics and counters",
     r"app/observability|prometheus_client|app/core/metrics|app/core/counters"),
    ("auth gate (app/identity)", r"app/identity/"),
    ("edge (request id, body limit, headers, HTTP metrics)",
     r"app/core/edge|app/core/http"),
    ("HTTP glue (json_post, the view, media types, shortcut, JSON)",
     r"pms/json_post|pms/asgi|app/core/graphql_http|app/core/route_shortcut|app/core/json_codec"),
    # uvloop is C: a sample with no Python frame below the loop's runner is the loop itself
    # (callbacks, epoll, socket reads).
    ("event loop (uvloop, asyncio)",
     r"uvicorn/_compat\.py|asyncio/(base_events|events|runners|selector_events|tasks)"),
    ("uvicorn + Starlette (HTTP parsing, socket writes)",
     r"uvicorn/|starlette/|app/events/ws_direct"),
)  # fmt: skip
OTHER = "other"


def layer_of(frames: list[str]) -> tuple[str, str]:
    for frame in reversed(frames):
        for name, pattern in LAYERS:
            if re.search(pattern, frame):
                return name, frame
    return OTHER, frames[-1] if frames else ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--functions", help="a layer's name (a prefix is enough)")
    args = parser.parse_args()
    layers: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    with open(args.file) as raw:
        for line in raw:
            stack, _, count = line.rstrip().rpartition(" ")
            if not count.isdigit() or "Thread._bootstrap" in stack:
                continue
            layer, frame = layer_of(stack.split(";"))
            layers[layer] += int(count)
            total += int(count)
            if args.functions and layer.startswith(args.functions):
                functions[re.sub(r":\d+\)", ")", frame)] += int(count)
    shown = functions if args.functions else layers
    lines = [f"{100 * n / max(total, 1):5.1f} %  {name}" for name, n in shown.most_common(40)]
    print("\n".join([*lines, f"{total} samples"]))


if __name__ == "__main__":
    main()
