"""Which URLs a webhook may target: no metadata services, no link-local or multicast
addresses, and no private or loopback ones unless the settings allow it (SSRF). A name is
checked again on every send, against the addresses it resolves to then."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

# Cloud metadata services and other addresses a webhook must never reach (SSRF).
_ALWAYS_BLOCKED = [
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, AWS/GCP/Azure metadata
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("224.0.0.0/4"),  # multicast
    ipaddress.ip_network("ff00::/8"),
]
_BLOCKED_NAMES = {"metadata.google.internal", "metadata", "instance-data"}


def _address_problem(address: str, allow_private: bool) -> str | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _ALWAYS_BLOCKED):
        return "link-local and metadata addresses are not allowed"
    if not allow_private and (ip.is_loopback or ip.is_private or ip.is_reserved):
        return "private and loopback addresses are not allowed"
    return None


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` is not an acceptable webhook target (syntax and literal addresses)."""
    if len(url) > 2048:
        return "URL longer than 2048 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs are allowed"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed"
    if host in _BLOCKED_NAMES:
        return "metadata hosts are not allowed"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked when resolved
    return _address_problem(host, allow_private)


async def resolved_problem(url: str, allow_private: bool) -> str | None:
    """``url_problem`` plus the addresses its host resolves to (DNS can point anywhere)."""
    problem = url_problem(url, allow_private)
    if problem:
        return problem
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return "the host does not resolve"
    for info in infos:
        problem = _address_problem(str(info[4][0]), allow_private)
        if problem:
            return problem
    return None
