"""Webhooks: refused for inside addresses (at registration and at delivery), signed, retried, logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from integrations import services
from integrations.actors import DeliveryNotYet, webhook_deliver
from integrations.models import DeliveryStatus, Webhook, WebhookDelivery
from tasks.models import PoolStatus, Task
from tests.factories import PoolFactory, RequesterFactory, TaskFactory

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo


def fake_dns(monkeypatch, answers: dict[str, list[str]], calls: list[str] | None = None) -> None:
    """Names in `answers` resolve to those addresses; IP literals resolve as usual (no network either way)."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any):
        if calls is not None:
            calls.append(str(host))
        if host in answers:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port or 0, 0, 0) if ":" in a else (a, port or 0),
                )
                for a in answers[host]
            ]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Receiver:
    """A local HTTP server that records what it receives and answers with `status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append({"headers": dict(self.headers), "body": self.rfile.read(length)})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[fd00:ec2::254]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.7/hook",
        "http://224.0.0.1/hook",
        "ftp://example.com/hook",
        "https://user:pass@hooks.example.com/",
        "http://inside.example.com/hook",  # a name that resolves inside
        "http://mixed.example.com/hook",  # one public and one private address
    ],
)
def test_inside_addresses_are_refused_at_registration(api, requester, monkeypatch, url):
    fake_dns(
        monkeypatch,
        {"inside.example.com": ["10.0.0.8"], "mixed.example.com": ["93.184.216.34", "192.168.0.2"]},
    )
    response = api(requester).post(
        "/api/v1/webhooks/", {"url": url, "events": ["pool.completed"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_webhook_url"
    assert not Webhook.objects.exists()


def test_a_public_url_is_registered_and_its_secret_shown_once(api, requester, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    response = api(requester).post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/fairlabel", "events": ["pool.progress"], "progress_step": 25},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["progress_step"] == 25
    listed = api(requester).get("/api/v1/webhooks/").json()["results"]
    assert [w["url"] for w in listed] == ["https://hooks.example.com/fairlabel"] and "secret" not in listed[0]
    assert api(RequesterFactory()).get(f"/api/v1/webhooks/{body['id']}/").status_code == 404


def test_unknown_events_are_refused(api, requester, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    response = api(requester).post(
        "/api/v1/webhooks/", {"url": "https://hooks.example.com/", "events": ["pool.deleted"]}, format="json"
    )
    assert response.status_code == 400


def _delivery(requester, url: str, event: str = "pool.completed") -> WebhookDelivery:
    webhook = Webhook.objects.create(requester=requester, url=url, events=[event])
    services.webhook_event_emit(requester_id=requester.pk, event=event, event_key="k:1", data={"pool": 1})
    return WebhookDelivery.objects.get(webhook=webhook)


def test_delivery_is_signed_pinned_to_the_checked_address_and_logged(
    requester, receiver, settings, monkeypatch
):
    settings.WEBHOOK_ALLOW_PRIVATE_FOR_TESTS = True
    calls: list[str] = []
    fake_dns(monkeypatch, {"hooks.test": ["127.0.0.1"]}, calls)
    delivery = _delivery(requester, f"http://hooks.test:{receiver.port}/in?src=fl")
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is True
    (received,) = receiver.requests
    headers = received["headers"]
    secret = delivery.webhook.secret.encode()
    expected = "sha256=" + hmac.new(secret, received["body"], hashlib.sha256).hexdigest()
    assert headers["X-Fairlabel-Signature"] == expected
    assert headers["X-Fairlabel-Event"] == "pool.completed"
    assert headers["Host"] == f"hooks.test:{receiver.port}"
    assert json.loads(received["body"])["data"] == {"pool": 1}
    assert calls.count("hooks.test") == 1, (
        "the name is resolved once, by the check; the request used that address"
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.response_code == 200


def test_failed_deliveries_are_retried_by_dramatiq_then_given_up(requester, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_FOR_TESTS = True
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.status = 500
    delivery = _delivery(requester, f"http://127.0.0.1:{receiver.port}/in")
    with pytest.raises(DeliveryNotYet):
        webhook_deliver(delivery.pk)  # raising is what makes dramatiq's Retries middleware back off and retry
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("pending", 500, 1)
    with pytest.raises(DeliveryNotYet):
        webhook_deliver(delivery.pk)
    webhook_deliver(delivery.pk)  # the last attempt settles it
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert len(receiver.requests) == 3
    assert webhook_deliver.options["max_retries"] >= 1 and webhook_deliver.options["min_backoff"] > 0


def test_dns_rebinding_after_registration_is_refused_at_delivery(requester, receiver, monkeypatch):
    fake_dns(monkeypatch, {"rebind.example.com": ["93.184.216.34"]})
    webhook = services.webhook_create(
        requester=requester, url=f"http://rebind.example.com:{receiver.port}/", events=["pool.completed"]
    )
    fake_dns(monkeypatch, {"rebind.example.com": ["127.0.0.1"]})
    services.webhook_event_emit(requester_id=requester.pk, event="pool.completed", event_key="k", data={})
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is True
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "loopback" in delivery.error
    assert receiver.requests == []


def test_scan_sends_progress_steps_once_and_completion(requester):
    Webhook.objects.create(
        requester=requester,
        url="https://hooks.example.com/",
        events=["pool.progress", "pool.completed"],
        progress_step=25,
    )
    pool = PoolFactory(requester=requester, status=PoolStatus.OPEN)
    tasks = TaskFactory.create_batch(10, pool=pool)

    def complete(count: int) -> None:
        Task.objects.filter(pk__in=[t.pk for t in tasks[:count]]).update(answers_count=1, remaining=0)

    complete(3)
    assert services.webhooks_scan() == 1
    assert services.webhooks_scan() == 0  # the same happening is never sent twice
    complete(6)
    services.webhooks_scan()
    complete(10)
    from django.utils import timezone

    pool.status, pool.closed_at = PoolStatus.COMPLETED, timezone.now()
    pool.save()
    services.webhooks_scan()
    keys = sorted(WebhookDelivery.objects.values_list("event_key", flat=True))
    assert keys == [f"pool.completed:{pool.pk}", f"pool.progress:{pool.pk}:25", f"pool.progress:{pool.pk}:50"]
    completed = json.loads(WebhookDelivery.objects.get(event="pool.completed").body)
    assert completed["data"]["percent"] == 100


def test_webhook_pages_register_refuse_and_log(requester, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    client = Client()
    client.force_login(requester)
    refused = client.post(
        "/webhooks/", {"url": "http://169.254.169.254/", "events": ["pool.completed"]}, follow=True
    )
    assert "metadata" in refused.content.decode() and not Webhook.objects.exists()
    page = client.post(
        "/webhooks/", {"url": "https://hooks.example.com/x", "events": ["pool.completed"]}, follow=True
    ).content.decode()
    webhook = Webhook.objects.get()
    assert webhook.secret in page
    WebhookDelivery.objects.create(
        webhook=webhook, event="pool.completed", event_key="x", body="{}", attempts=2, response_code=503
    )
    log = client.get(f"/webhooks/{webhook.pk}/").content.decode()
    assert "503" in log and "pool.completed" in log
    assert Client().get(f"/webhooks/{webhook.pk}/").status_code == 302
    other = Client()
    other.force_login(RequesterFactory())
    assert other.get(f"/webhooks/{webhook.pk}/").status_code == 404
