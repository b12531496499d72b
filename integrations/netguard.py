"""Refuse webhook URLs that reach inside our network (Label Studio's webhook SSRF, its issue #9801).

A URL is checked when it is registered and again before every delivery, and the delivery connects to the very
address that was checked, so a DNS answer that changes in between (DNS rebinding) cannot reach an inside host.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from fairlabel.errors import ServiceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services; most are link-local already, these are named so a future change cannot miss them.
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`) and what to ask for there (`host` for Host and TLS SNI)."""

    scheme: str
    host: str
    port: int
    path: str  # path and query
    address: IPAddress


# IPv6 forms that carry an IPv4 address the packet ends up at (RFC 4291 mapped and compatible, RFC 6052 NAT64,
# RFC 2765 SIIT, RFC 3056 6to4, RFC 4380 Teredo, RFC 5214 ISATAP). Such an address is judged by where it leads,
# and by itself: a 6to4 address of 127.0.0.1 is a global IPv6 address that a 6to4 relay delivers to the loopback.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIIT = ipaddress.ip_network("::ffff:0:0:0/96")
COMPATIBLE = ipaddress.ip_network("::/96")


# IANA's special-purpose ranges that are not globally reachable, named here as well as asked of Python's
# ipaddress, whose answers for some of them changed between patch releases (192.0.0.0/24 before 3.11.10).
NOT_GLOBAL = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
]


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address this IPv6 address embeds or translates to."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # the relay (server) and the client it reaches
    if address in NAT64 or address in SIIT or (address in COMPATIBLE and int(address) > 1):
        found.append(low32)
    if (int(address) >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface id 0000:5efe or 0200:5efe
        found.append(low32)
    return found


def refusal_reason(address: IPAddress) -> str | None:
    """Why a connection to this address is refused, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in embedded_ipv4(address):
            reason = refusal_reason(inner)
            if reason is not None:
                return f"an IPv6 form of {inner}, {reason}"
        if address.ipv4_mapped is not None or address in NAT64:
            return None  # it is (or is translated to) the IPv4 address judged above
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, reason in (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
    ):
        if test:
            return reason
    if not address.is_global or any(address in network for network in NOT_GLOBAL):
        return "not a public address"  # shared (100.64/10), documentation, benchmarking, other special ranges
    return None


def _invalid(message: str) -> ServiceError:
    return ServiceError(code="invalid_webhook_url", message=message, details={"fields": {"url": [message]}})


def resolve_target(url: str) -> Target:
    """Parse, resolve and check a webhook URL; raise ServiceError(invalid_webhook_url) if it must not be called.

    Every address the name resolves to must be public: a name that answers with one public and one private
    address could otherwise be steered to the private one.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid(f"The URL cannot be read ({exc}).") from exc
    if parts.scheme not in ("http", "https"):
        raise _invalid("A webhook URL starts with https:// (or http://).")
    if parts.username or parts.password:
        raise _invalid("A webhook URL cannot carry a user name or password.")
    host = parts.hostname
    if not host:
        raise _invalid("A webhook URL needs a host name.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _invalid(f"The host {host} cannot be resolved.") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _invalid(f"The host {host} has no address.")
    if not getattr(settings, "WEBHOOK_ALLOW_PRIVATE_FOR_TESTS", False):
        for address in addresses:
            reason = refusal_reason(address)
            if reason is not None:
                raise _invalid(
                    f"The host {host} resolves to {address}, {reason}; webhooks only go to the internet."
                )
    # IPv4 first: a host that publishes an AAAA record is not always reachable over IPv6 from here.
    addresses.sort(key=lambda a: a.version)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])
