"""Schemathesis against our own OpenAPI schema: no 500s, and every documented response matches its schema.

Each operation gets a bounded, derandomised set of generated requests (valid and invalid), sent through the WSGI
application inside the test's transaction, with the token of the role the operation is for. Path ids are mostly
replaced by ids of objects the caller owns, so bodies and query strings reach the code behind the 404 check;
the rest keep the generated value, so malformed ids are tried too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from fairlabel.wsgi import application
from tasks import services
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, WorkerFactory, fund

MAX_EXAMPLES = 25


# Loaded once at collection, through the WSGI application (the schema view reads no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@pytest.fixture(autouse=True)
def keep_test_connection() -> Iterator[None]:
    # The WSGI handler closes the database connection after each request; inside the test's transaction that
    # would end the test. Django's own test client suspends the same two receivers for the same reason.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def actors(db: Any) -> dict[str, Any]:
    requester = RequesterFactory.create()
    worker = WorkerFactory.create()
    fund(requester, "100.00")
    pool = PoolFactory.create(requester=requester, overlap=3)
    TaskFactory.create_batch(40, pool=pool)
    services.pool_open(pool=pool)
    return {"requester": requester, "worker": worker, "pool": pool}


def _owned_ids(case: Any, actors: dict[str, Any]) -> None:
    params = case.path_parameters or {}
    # A stable 3-in-4 share of examples, chosen from the generated value itself so runs repeat exactly.
    if "pool_id" in params and hash(str(params["pool_id"])) % 4:
        params["pool_id"] = str(actors["pool"].pk)
    if "assignment_id" in params and hash(str(params["assignment_id"])) % 4:
        assignment = services.assignment_next(worker=actors["worker"], pool_id=None)
        if assignment is not None:
            params["assignment_id"] = str(assignment.pk)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_and_matches_its_schema(case: Any, actors: dict[str, Any]) -> None:
    role = "worker" if "/assignments/" in case.path else "requester"
    _owned_ids(case, actors)
    token = actors[role].auth_token.key
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
