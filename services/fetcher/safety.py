"""Keeping the fetcher from being turned against the network it runs in (SSRF).

Every host is resolved by us, every address it resolves to is checked, and the connection is made to an
address that was checked: the check and the connect cannot see different DNS answers (no rebinding).
This happens in the HTTP client's network backend, so it holds for the first request and for every
redirect alike (each new origin opens a new connection). The URL keeps its host name, so the Host header,
TLS SNI and certificate checks are those of the name, as usual."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata endpoints, named so that the refusal says what was hit. All of them are also outside
# the global address space, so `is_global` alone would refuse them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """A host resolves to an address the fetcher must not connect to; the message says which and why."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(message)
        self.host = host


def refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why the fetcher must not connect to `address` (a short phrase), or None when it may."""
    if any(address.version == net.version and address in net for net in allowed):
        return None
    # An IPv6 address can carry an IPv4 one (mapped, NAT64, 6to4): that one is what gets reached.
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return refusal(inner, allowed)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private:
        return "private"
    # Shared (CGNAT), documentation, benchmarking, reserved ranges...
    if not address.is_global:
        return "not globally routable"
    return None


def parse_networks(values: Iterable[object]) -> tuple[IPNetwork, ...]:
    """The allow-list from settings (networks or strings such as '127.0.0.0/8' or '::1')."""
    return tuple(ipaddress.ip_network(str(value), strict=False) for value in values)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an address literal resolves to itself), in resolver order."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Drop an IPv6 zone id ("fe80::1%eth0") before parsing; the address alone decides.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that resolves, checks and connects to a checked address.

    A host is refused when any of its addresses is refused: a name that mixes public and private
    addresses is exactly what a rebinding attack looks like."""

    def __init__(self, allowed: Sequence[IPNetwork] = ()) -> None:
        self._allowed = tuple(allowed)
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            reason = refusal(address, self._allowed)
            if reason is not None:
                raise BlockedAddress(host, f"{host} resolves to {address} ({reason})")
        last: Exception | None = None
        for address in addresses:
            try:
                # The checked address itself, never the name again: no second DNS answer to trust.
                return await self._backend.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, "unix sockets are never used by the fetcher")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def checked_transport(allowed: Sequence[IPNetwork] = ()) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through CheckedBackend. No proxies from the environment:
    a proxy would do its own resolving, out of our sight."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    # httpx has no parameter for the network backend; the pool it built is replaced by the same one
    # with ours (same SSL context and limits).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=pool._ssl_context,
        max_connections=pool._max_connections,
        max_keepalive_connections=pool._max_keepalive_connections,
        keepalive_expiry=pool._keepalive_expiry,
        http1=pool._http1,
        http2=pool._http2,
        network_backend=CheckedBackend(allowed),
    )
    return transport
