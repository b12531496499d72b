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


def refusal_reason(address: IPAddress) -> str | None:
    """Why a connection to this address is refused, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, reason in (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
    ):
        if test:
            return reason
    if not address.is_global:  # shared (100.64/10), documentation, benchmarking and other special ranges
        return "not a public address"
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
