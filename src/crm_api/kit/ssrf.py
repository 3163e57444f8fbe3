"""Outbound HTTP to user-given URLs that cannot reach private networks (SSRF).

Addresses are checked when a URL is registered and again at connect time, on the address the
socket actually connects to, so a DNS answer that changes in between (rebinding) is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


class UnsafeTarget(Exception):
    """The URL's host resolves to an address outbound calls may not reach."""


@dataclass(frozen=True)
class TargetPolicy:
    """Which hosts outbound calls may reach: public addresses, plus what development allows."""

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())
    allow_http: bool = False

    @classmethod
    def from_setting(cls, allow: str, allow_http: bool) -> TargetPolicy:
        hosts, networks = set(), []
        for item in (part.strip() for part in allow.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower())
        return cls(frozenset(hosts), tuple(networks), allow_http)

    def address_allowed(self, host: str, address: IPAddress) -> bool:
        if host.lower() in self.allow_hosts or any(address in n for n in self.allow_networks):
            return True
        if address.version == 6 and address in _MAPPED:
            return False
        return not (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
                    or address.is_reserved or address.is_unspecified or address in _CGNAT
                    or (address.version == 6 and address.is_site_local))

    def check_url(self, url: str) -> str | None:
        """Why a URL is refused before any lookup (scheme, form), or None."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return "must be an absolute http(s) URL"
        if parts.scheme == "http" and not self.allow_http:
            return "must use https"
        if parts.username or parts.password:
            return "must not carry credentials"
        return None

    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's allowed addresses; UnsafeTarget when any resolved address is not allowed."""
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UnsafeTarget(f"{host} does not resolve") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            if not self.address_allowed(host, ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeTarget(f"{host} resolves to {address}, which is not a public address")
        return addresses


class _GuardedBackend(httpcore.AnyIOBackend):
    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore API)
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        # Connect to the address that was checked; TLS still verifies the original host name.
        return await super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection passes the policy at connect time."""

    def __init__(self, policy: TargetPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=100, max_keepalive_connections=20,
            keepalive_expiry=5.0, network_backend=_GuardedBackend(policy),
        )
