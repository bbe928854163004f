"""Webhook deliveries connect to an address that was checked: the target's name is
resolved once per delivery, every address it resolves to must be acceptable (globally
routable outside dev/test), and the request goes to the first checked address with the
original ``Host`` (and TLS server name), so a DNS answer that changes between the check
and the connect (DNS rebinding) cannot point the request at an internal service."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx


@dataclass(frozen=True)
class CheckedTarget:
    url: str  # the URL with the checked address as its host
    host_header: str
    server_name: str


def not_global_problem(address: str) -> str | None:
    """Outside dev/test only globally routable addresses are targets: private, loopback,
    shared (100.64.0.0/10), documentation, benchmarking and reserved ranges are not."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return None if ip.is_global else "only globally routable addresses are allowed"


async def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (OSError when it does not resolve)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def pinned(url: str, address: str) -> CheckedTarget:
    """``url`` rewritten to connect to ``address``."""
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if port == default_port else f"{literal}:{port}"
    original = parts.netloc.rsplit("@", 1)[-1]
    return CheckedTarget(
        urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), original, host
    )


async def post_to(
    client: httpx.AsyncClient, target: CheckedTarget, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        target.url,
        content=body,
        headers={**headers, "Host": target.host_header},
        extensions={"sni_hostname": target.server_name},
    )
