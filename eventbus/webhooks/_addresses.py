"""Which addresses the sender may post to, checked when an endpoint is saved and again for
the address each connection is actually made to.

An endpoint URL is a request the application makes on its users' behalf: left unchecked it
reaches the cloud metadata service (``169.254.169.254``), the loopback interface or the private
network (SSRF). Every address the host resolves to must be public, in every IPv6 spelling of
an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``
and ``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo), unless it lies in ``allow_networks``.

The check at save time alone is not enough: DNS may answer differently a second later
(DNS rebinding). So the sender's connections resolve and check the host again, and connect
to the checked address (``_transport.PinnedBackend``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ._sender_errors import EndpointURLError, UnsafeAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``resolve(host, port)``: the addresses to connect to, as text.
Resolver = Callable[[str, int], Sequence[str]]

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_KINDS: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("unspecified", lambda a: a.is_unspecified),
    ("loopback", lambda a: a.is_loopback),
    ("link-local", lambda a: a.is_link_local),
    ("multicast", lambda a: a.is_multicast),
    ("CGNAT (100.64.0.0/10)", lambda a: a in _CGNAT),
    ("reserved", lambda a: a.is_reserved),
    ("private", lambda a: a.is_private),
    ("non-global", lambda a: not a.is_global),
)


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, bool] | None:
    """The IPv4 address an IPv6 one carries, and whether the IPv6 one *is* it (mapped,
    compatible, NAT64) rather than a tunnel towards it (6to4, Teredo)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, True
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in _NAT64):
        return low, True
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return low, True
    if address.sixtofour is not None:
        return address.sixtofour, False
    if address.teredo is not None:
        return address.teredo[1], False
    return None


def _kind(address: IPAddress) -> str | None:
    return next((name for name, test in _KINDS if test(address)), None)


def refused_kind(address: IPAddress) -> str | None:
    """Why ``address`` is internal (``"loopback"``, ``"link-local"``, ...), or ``None`` when it
    is public. An IPv6 form of an IPv4 address is judged by the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner, same = embedded
            kind = _kind(inner)
            if kind is not None:
                return f"{kind} (IPv4 {inner} in IPv6 form)"
            if same:
                return None
    return _kind(address)


def parse_networks(networks: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Parse ``allow_networks``; a bare address is its own network.

    :raises ValueError: an entry is not an IP network
    """
    if isinstance(networks, str):
        raise TypeError(f"allow_networks takes a list of networks, e.g. ({networks!r},)")
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


class AddressPolicy:
    """The URL and address rules, with the networks trusted despite them.

    :param allow_networks: networks the rules let through (``"127.0.0.0/8"``, ``"10.0.0.0/8"``)
    :param resolve: ``resolve(host, port)`` giving the addresses to connect to (default: the
        system resolver)
    """

    def __init__(
        self, allow_networks: Iterable[str | IPNetwork] = (), resolve: Resolver | None = None
    ) -> None:
        self.allow_networks = parse_networks(allow_networks)
        self._resolve = system_resolve if resolve is None else resolve

    def check_url(self, url: str) -> str:
        """Check an endpoint URL: ``http(s)``, a host, and only allowed addresses behind it.

        :returns: the URL, unchanged
        :raises EndpointURLError: not an ``http(s)`` URL with a host, or the host does not
            resolve
        :raises UnsafeAddressError: the host is or resolves to a refused address
        """
        host, port = split_url(url)
        self.addresses(host, port, url=url)
        return url

    def addresses(self, host: str, port: int, *, url: str | None = None) -> list[IPAddress]:
        """Resolve ``host`` and return its addresses, each checked.

        :raises EndpointURLError: the host does not resolve
        :raises UnsafeAddressError: any address is refused (one internal answer among public
            ones is enough: a connection could be made to it)
        """
        shown = url or f"{host}:{port}"
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        try:
            found = [literal] if literal else [_parse(a) for a in self._resolve(host, port)]
        except Exception as exc:  # a custom resolver may raise anything: still a URL error
            raise EndpointURLError(shown, f"host {host!r} does not resolve: {exc}") from exc
        if not found:
            raise EndpointURLError(shown, f"host {host!r} resolves to no address")
        for address in found:
            kind = None if self._allowed(address) else refused_kind(address)
            if kind is not None:
                raise UnsafeAddressError(shown, str(address), kind)
        return found

    def _allowed(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and _embedded_ipv4(address) is not None:
            candidates.append(_embedded_ipv4(address)[0])  # type: ignore[index]
        return any(a in network for a in candidates for network in self.allow_networks)


def _parse(address: str) -> IPAddress:
    return ipaddress.ip_address(address.split("%", 1)[0])


def split_url(url: str) -> tuple[str, int]:
    """The host and port of an ``http(s)`` URL.

    :raises EndpointURLError: another scheme, no host, or a bad port
    """
    if not isinstance(url, str):
        raise TypeError(f"an endpoint URL is a str, not {type(url).__name__}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise EndpointURLError(url, "only http:// and https:// URLs can receive webhooks")
    try:
        port = parts.port
    except ValueError as exc:
        raise EndpointURLError(url, str(exc)) from None
    if not parts.hostname:
        raise EndpointURLError(url, "the URL has no host")
    return parts.hostname, port or (443 if scheme == "https" else 80)
