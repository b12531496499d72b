"""API rate limits: per account for token calls, per address for anonymous ones; 429 with Retry-After."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from fairlabel import throttling
from tests.factories import PASSWORD, WorkerFactory, open_pool
from tests.processes import REDIS_URL
from tests.security.conftest import production_settings

pytestmark = pytest.mark.django_db


def _redis_cache(location: str = REDIS_URL) -> dict[str, Any]:
    # A prefix of its own: the keys of this test never meet another run's, and expire with their window.
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"rate-test-{uuid.uuid4().hex}",
        }
    }


def _low_rates(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"account": "3/min", "anon": "2/min"},
    }


@pytest.fixture(params=["memory", "redis"])
def low_limits(request: Any, settings: Any) -> Any:
    """Low rates, counted in one process's memory (development) or in Redis (production)."""
    _low_rates(settings)
    if request.param == "redis":
        settings.CACHES = _redis_cache()
        yield settings
        return
    caches["default"].clear()
    yield settings
    caches["default"].clear()


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
    if isinstance(caches["default"], RedisCache):
        # Nothing listens on port 1: every count is refused as a Redis that is down.
        low_limits.CACHES = _redis_cache("redis://127.0.0.1:1/0")
    else:

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("the cache is unavailable")

        monkeypatch.setattr(caches["default"], "add", broken)
    assert _statuses(api(requester), "/api/v1/ping/", 5) == [200] * 5


def test_with_redis_a_count_is_one_round_trip(settings, api, requester, monkeypatch):
    _low_rates(settings)
    settings.CACHES = _redis_cache()
    sent: list[int] = []
    original = redis.client.Pipeline.execute

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(len(self.command_stack))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    assert _statuses(api(requester), "/api/v1/ping/", 4) == [200, 200, 200, 429]
    assert sent == [2, 2, 2, 2], "SET NX EX and INCR, sent together, once per request"


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


def test_the_feed_endpoints_are_rate_limited_too(low_limits, api, worker):
    open_pool(tasks=3)
    client = api(worker)
    claimed = client.post("/api/v1/assignments/next/", {}, format="json")
    assert claimed.status_code == 200
    submit = f"/api/v1/assignments/{claimed.json()['id']}/submit/"
    assert client.post(submit, {"label": "OK"}, format="json").status_code == 200
    assert client.post("/api/v1/assignments/next/", {}, format="json").status_code == 200
    refused = [
        client.post("/api/v1/assignments/next/", {}, format="json"),
        client.post(submit, {"label": "OK"}, format="json"),
    ]
    assert [response.status_code for response in refused] == [429, 429]
    assert all(response.json()["error"]["code"] == "throttled" for response in refused)
    assert all(int(response["Retry-After"]) >= 1 for response in refused)
