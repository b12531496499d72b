"""Under /api/ every error is the contract's JSON body, also where Django answers before any endpoint does."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from worker import api as worker_api

pytestmark = pytest.mark.django_db


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_a_path_no_endpoint_serves_is_a_json_404_for_every_method(method: str, requester: Any) -> None:
    # CSRF checks on, as a browser's session would have them: a POST to a wrong path is still a 404.
    client = Client(enforce_csrf_checks=True)
    client.force_login(requester)
    error = _error(getattr(client, method)("/api/v1/me/record/"), 404)
    assert error["code"] == "not_found"
    assert "/api/v1/me/record/" in error["message"]


def test_a_missing_slash_names_the_endpoint_that_was_meant(api: Any, requester: Any) -> None:
    error = _error(api(requester).post("/api/v1/pools", {}, format="json"), 404)
    assert error["details"]["did_you_mean"] == "/api/v1/pools/"
    assert "did_you_mean" not in _error(api(requester).get("/api/v1/nothing"), 404)["details"]


def test_outside_the_api_a_missing_page_is_still_the_site_page(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_a_json_405(api: Any, requester: Any) -> None:
    assert _error(api(requester).delete("/api/v1/pools/"), 405)["code"] == "method_not_allowed"


def test_a_crash_behind_the_api_is_a_json_500(monkeypatch: Any, api: Any, worker: Any) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(worker_api.PingView, "get", crash)
    client = api(worker)
    client.raise_request_exception = False
    error = _error(client.get("/api/v1/ping/"), 500)
    assert error["code"] == "server_error"
    assert "boom" not in error["message"]


def test_a_request_django_refuses_is_a_json_400_under_the_api(client: Client) -> None:
    error = _error(client.get("/api/v1/ping/", HTTP_HOST="not allowed"), 400)
    assert error["code"] == "invalid_request"
    page = client.get("/", HTTP_HOST="not allowed")
    assert page.status_code == 400
    assert not page["Content-Type"].startswith("application/json")
