"""The SSRF guard judges every address by where it leads: IPv6 forms that embed or translate to an IPv4 address,
and every range that is not globally routable."""

from __future__ import annotations

import ipaddress

import pytest

from fairlabel.errors import ServiceError
from integrations.models import Webhook
from integrations.netguard import refusal_reason, resolve_target
from tests.integrations.test_webhooks import fake_dns

# (address, what it reaches) for every IPv6 form that carries an IPv4 address, each with an inside target.
EMBEDDING_INSIDE = [
    ("2002:7f00:1::", "6to4 of 127.0.0.1"),
    ("2002:a9fe:a9fe::", "6to4 of 169.254.169.254"),
    ("2002:c0a8:101::", "6to4 of 192.168.1.1"),
    ("2002:a00:1::1", "6to4 of 10.0.0.1"),
    ("2002:6440:1::", "6to4 of 100.64.0.1"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("::10.1.2.3", "IPv4-compatible private"),
    ("::ffff:0:7f00:1", "SIIT of 127.0.0.1"),
    ("::ffff:0:c0a8:101", "SIIT of 192.168.1.1"),
    ("64:ff9b::7f00:1", "NAT64 of 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 of 169.254.169.254"),
    ("64:ff9b::c0a8:101", "NAT64 of 192.168.1.1"),
    ("64:ff9b:1::a00:1", "local-use NAT64 of 10.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo to 127.0.0.1"),
    ("2001:0:c0a8:101:8000:63bf:3fff:fdd2", "Teredo through 192.168.1.1"),
    ("2a00:1450::5efe:7f00:1", "ISATAP of 127.0.0.1"),
    ("2a00:1450::200:5efe:a9fe:a9fe", "ISATAP of 169.254.169.254"),
    ("fe80::5efe:c0a8:101", "link-local ISATAP"),
]
NOT_GLOBAL = [
    "0.0.0.0", "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.255.254",
    "169.254.169.254", "169.254.0.1", "172.16.0.1", "172.31.255.254", "192.0.0.8", "192.0.0.170", "192.0.2.1",
    "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.254", "198.51.100.7", "203.0.113.9", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::", "::1", "100::1", "2001:db8::1", "2001:10::1", "2001:2::1", "3fff::1", "5f00::1", "fc00::1",
    "fd00:ec2::254", "fe80::1", "fec0::1", "ff02::1", "ff0e::1",
]  # fmt: skip
PUBLIC = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2001:4860:4860::8888",
    "2002:808:808::",  # 6to4 of 8.8.8.8 leads to a public address
    "64:ff9b::808:808",  # so does NAT64 of 8.8.8.8
    "::ffff:8.8.8.8",
]  # fmt: skip


@pytest.mark.parametrize(("address", "what"), EMBEDDING_INSIDE)
def test_ipv6_forms_of_inside_ipv4_addresses_are_refused(address, what):
    assert refusal_reason(ipaddress.ip_address(address)) is not None, what


@pytest.mark.parametrize("address", NOT_GLOBAL)
def test_every_range_that_is_not_globally_routable_is_refused(address):
    assert refusal_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_accepted(address):
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", [a for a, _ in EMBEDDING_INSIDE])
def test_a_url_with_such_a_literal_is_refused(address):
    with pytest.raises(ServiceError) as refused:
        resolve_target(f"http://[{address}]:9999/h")
    assert refused.value.error_code == "invalid_webhook_url"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://[2002:7f00:1::]:9999/h", "http://[2002:a9fe:a9fe::]/", "http://[2002:c0a8:0101::]/"]
)
def test_the_probes_webhook_urls_are_refused_at_registration(api, requester, url):
    response = api(requester).post(
        "/api/v1/webhooks/", {"url": url, "events": ["pool.completed"]}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_webhook_url"
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_a_name_that_resolves_to_a_6to4_form_of_the_loopback_is_refused(api, requester, monkeypatch):
    fake_dns(monkeypatch, {"sneaky.example.com": ["2002:7f00:1::"]})
    response = api(requester).post(
        "/api/v1/webhooks/", {"url": "https://sneaky.example.com/h", "events": []}, format="json"
    )
    assert response.status_code == 400
    assert "127.0.0.1" in response.json()["error"]["message"]
