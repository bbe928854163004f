"""``pms bus declare``: the RabbitMQ topology (app/events/topology.py) ahead of a release.

The CLI calls ``register(subparsers)``; the handler takes (settings, args) like every
other command and returns the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aio_pika

from app.core.settings import Settings
from app.events.topology import Topology, TopologyConflict, declare_at


def cmd_bus_declare(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.amqp_url:
        print("PMS_AMQP_URL is not set: no RabbitMQ to declare the topology on", file=sys.stderr)
        return 2
    topology = Topology.from_settings(settings)
    try:
        asyncio.run(declare_at(settings.amqp_url, topology))
    except TopologyConflict as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        print(f"RabbitMQ unreachable: {exc!r}", file=sys.stderr)
        return 1
    print(f"exchange {topology.exchange} (topic), {topology.dead_letter_exchange} (dead letters)")
    for queue in topology.queues:
        print(f"queue {queue.name} <- {', '.join(queue.bindings)}; dead: {queue.dead_letter_queue}")
    return 0


def register(sub: Any) -> None:
    """Add ``bus declare`` to the ``pms`` subcommands."""
    bus = sub.add_parser("bus", help="RabbitMQ administration")
    bus_sub = bus.add_subparsers(dest="bus_command", required=True)
    declare = bus_sub.add_parser(
        "declare", help="declare exchanges, consumer-group queues and bindings (idempotent)"
    )
    declare.set_defaults(handler=cmd_bus_declare)
