"""API rate limits: per account for token calls, per address for anonymous ones; 429 with Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from fairlabel import throttling
from tests.factories import PASSWORD, WorkerFactory
from tests.security.conftest import production_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_limits(settings: Any, fresh_cache: Any) -> Any:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"account": "3/min", "anon": "2/min"},
    }
    return settings


def _statuses(client: Any, path: str, times: int, **extra: Any) -> list[int]:
    return [client.get(path, **extra).status_code for _ in range(times)]


def test_an_account_past_its_rate_gets_429_with_retry_after(low_limits, api, requester):
    client = api(requester)
    assert _statuses(client, "/api/v1/ping/", 3) == [200, 200, 200]
    response = client.get("/api/v1/ping/")
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["details"] == {"retry_after": str(retry_after)}
    assert "Expected available in" in error["message"]


def test_each_account_has_its_own_allowance(low_limits, api, requester, worker):
    assert _statuses(api(requester), "/api/v1/ping/", 4)[-1] == 429
    assert _statuses(api(worker), "/api/v1/ping/", 3) == [200, 200, 200]


def test_every_endpoint_draws_on_the_same_allowance(low_limits, api, requester):
    client = api(requester)
    client.get("/api/v1/ping/")
    client.get("/api/v1/me/")
    client.get("/api/v1/pools/")
    assert client.post("/api/v1/pools/", {}, format="json").status_code == 429


def test_a_new_token_does_not_reset_the_count(low_limits, api, requester):
    assert _statuses(api(requester), "/api/v1/ping/", 3) == [200, 200, 200]
    session = Client()
    session.force_login(requester)
    session.post("/account/token/regenerate/")
    requester.refresh_from_db()
    assert api(requester).get("/api/v1/ping/").status_code == 429


def test_anonymous_calls_are_counted_per_address(low_limits):
    client = Client()
    body = {"username": "nobody", "password": "x"}
    first = [
        client.post("/api/v1/auth/token/", body, content_type="application/json", REMOTE_ADDR="203.0.113.5")
        for _ in range(3)
    ]
    assert [r.status_code for r in first] == [400, 400, 429]
    assert first[-1].json()["error"]["code"] == "throttled" and first[-1].has_header("Retry-After")
    other = client.post(
        "/api/v1/auth/token/", body, content_type="application/json", REMOTE_ADDR="198.51.100.9"
    )
    assert other.status_code == 400


def test_a_forged_forwarded_for_does_not_buy_more_anonymous_calls(low_limits):
    low_limits.PROXY_COUNT = 1
    client = Client()
    statuses = [
        client.get(
            "/api/v1/schema/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_with_no_proxy_configured_rotating_forwarded_for_headers_reach_the_anonymous_limit(low_limits):
    assert low_limits.PROXY_COUNT == 0
    client = Client()
    statuses = [
        client.get(
            "/api/v1/schema/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_the_allowance_comes_back_in_the_next_window(low_limits, api, requester, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(throttling.time, "time", lambda: now[0])
    client = api(requester)
    assert _statuses(client, "/api/v1/ping/", 4) == [200, 200, 200, 429]
    now[0] += 60
    assert client.get("/api/v1/ping/").status_code == 200


def test_pages_and_log_in_are_not_api_throttled(low_limits):
    user = WorkerFactory.create()
    client = Client()
    assert _statuses(client, "/login/", 5) == [200] * 5
    assert client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302


def test_a_cache_outage_lets_calls_through_rather_than_failing_them(low_limits, api, requester, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is restarting")

    monkeypatch.setattr(throttling.cache, "add", broken)
    assert _statuses(api(requester), "/api/v1/ping/", 5) == [200] * 5


def test_production_rates_are_generous_for_accounts_and_tight_for_anonymous_calls():
    rates = production_settings("REST_FRAMEWORK")["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"]
    assert rates == {"account": "6000/min", "anon": "60/min"}
    changed = production_settings("REST_FRAMEWORK", API_RATE_USER="100/s", API_RATE_ANON="5/min")
    assert changed["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {"account": "100/s", "anon": "5/min"}


@pytest.mark.parametrize(
    ("rate", "parsed"), [("6000/min", (6000, 60)), ("60/s", (60, 1)), ("5/hour", (5, 3600))]
)
def test_rates_parse_like_drfs(rate, parsed):
    assert throttling.parse_rate(rate) == parsed


def test_a_malformed_rate_says_what_a_rate_looks_like():
    with pytest.raises(ValueError, match="6000/min"):
        throttling.parse_rate("fast")
