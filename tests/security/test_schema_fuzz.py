"""Schemathesis against our own OpenAPI schema: no 500s, and every documented response matches its schema.

Each operation gets a bounded, derandomised set of generated requests (valid and invalid), sent through the WSGI
application inside the test's transaction, with the token of the role the operation is for (a worker's where its
view requires a worker). Path ids are mostly replaced by ids of objects the caller owns, so bodies and query
strings reach the code behind the 404 check; the rest keep the generated value, so malformed ids are tried too.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import resolve
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from fairlabel.permissions import IsWorker
from fairlabel.wsgi import application
from fairness import services as fairness_services
from fairness.models import Appeal, DecisionKind
from integrations.models import Webhook
from tasks import services
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, WorkerFactory, fund
from tests.security.conftest import built_once

# Per operation; FUZZ_EXAMPLES=200 for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


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


@pytest.fixture(scope="module")
def actors(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    with built_once(django_db_blocker, _build_actors) as built:
        yield built


def _build_actors() -> dict[str, Any]:
    requester = RequesterFactory.create()
    worker, helper = WorkerFactory.create_batch(2)
    fund(requester, "100.00")
    pool = PoolFactory.create(requester=requester, overlap=3)
    TaskFactory.create_batch(40, pool=pool)
    services.pool_open(pool=pool)
    helped = services.assignment_next(worker=helper, pool_id=pool.pk)
    answer = services.assignment_submit(worker=helper, assignment_id=helped.pk, label="OK")
    decision = fairness_services.decision_record_rejection(
        answer=answer, reason="Off-topic.", requester=requester
    )
    decided = fairness_services.decision_record(
        worker_id=worker.pk, kind=DecisionKind.RESTRICTION, reason="Too fast.", pool_id=pool.pk
    )
    appeal = Appeal.objects.create(decision=decision, message="It was on topic.")
    webhook = Webhook.objects.create(requester=requester, url="https://hooks.example.com/x", events=[])
    return {
        "requester": requester,
        "worker": worker,
        "ids": {
            "pool_id": lambda: pool.pk,
            "assignment_id": lambda: getattr(services.assignment_next(worker=worker, pool_id=None), "pk", 0),
            "answer_id": lambda: answer.pk,
            "decision_id": lambda: decided.pk,
            "appeal_id": lambda: appeal.pk,
            "webhook_id": lambda: webhook.pk,
            "requester_id": lambda: requester.pk,
        },
    }


def _role_for(path_template: str) -> str:
    """The role an operation is for, read from its view's permission classes."""
    view = resolve(re.sub(r"\{[^}]+\}", "1", path_template)).func.cls
    return "worker" if IsWorker in getattr(view, "permission_classes", []) else "requester"


def _owned_ids(case: Any, actors: dict[str, Any]) -> None:
    params = case.path_parameters or {}
    for name, value in params.items():
        # A stable 3-in-4 share of examples (crc32, unlike hash(), is the same in every run) gets an id the caller
        # may use; the rest keep the generated value.
        if name in actors["ids"] and zlib.crc32(str(value).encode()) % 4:
            params[name] = str(actors["ids"][name]())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_and_matches_its_schema(case: Any, actors: dict[str, Any], db: Any) -> None:
    _owned_ids(case, actors)
    token = actors[_role_for(case.path)].auth_token.key
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
