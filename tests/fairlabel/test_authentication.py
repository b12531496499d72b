"""API tokens: one statement per request, DRF's answers to bad tokens, and no failure on a connection the
database dropped."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


def test_a_token_request_costs_one_statement_before_the_view() -> None:
    worker = WorkerFactory()
    client = client_for(worker)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/ping/")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "user": worker.username}
    assert len(queries) == 1, [query["sql"] for query in queries]


def test_a_wrong_token_and_a_deactivated_account_are_refused_as_before() -> None:
    worker = WorkerFactory()
    unknown = client_for(None)
    unknown.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    refused = unknown.get("/api/v1/ping/")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert refused.json()["error"]["message"] == "Invalid token."
    assert refused["WWW-Authenticate"] == "Token"

    worker.is_active = False
    worker.save(update_fields=["is_active"])
    inactive = client_for(worker).get("/api/v1/ping/")
    assert inactive.status_code == 401
    assert inactive.json()["error"]["message"] == "User inactive or deleted."


def test_the_token_user_is_the_account_with_its_role() -> None:
    worker = WorkerFactory()
    response = client_for(worker).post("/api/v1/assignments/next/", {}, format="json")
    # No pool is open: the worker passed the role check and reached the feed.
    assert response.status_code == 204


def _terminate_backend(pid: int) -> None:
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname="postgres", autocommit=True
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_is_replaced_without_an_error_or_a_separate_check(
    monkeypatch: Any,
) -> None:
    worker = WorkerFactory()
    client = client_for(worker)
    assert client.get("/api/v1/ping/").status_code == 200
    assert connection.health_check_enabled
    _terminate_backend(connection.connection.info.backend_pid)
    # What Django does at the start of every request with a persistent connection.
    connection.close_if_unusable_or_obsolete()
    checks: list[bool] = []
    original = connection.is_usable

    def counted_check() -> bool:
        checks.append(True)
        return original()

    monkeypatch.setattr(connection, "is_usable", counted_check)

    response = client.get("/api/v1/ping/")

    assert response.status_code == 200
    assert response.json()["user"] == worker.username
    assert checks == [], "the token lookup stands in for the SELECT 1 health check"
    assert client.get("/api/v1/ping/").status_code == 200
