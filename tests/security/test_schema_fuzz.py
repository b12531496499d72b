"""Schemathesis against our own OpenAPI schema: no 500s, and every documented response matches its schema.

Each operation gets a bounded, derandomised set of generated requests (valid and invalid), sent through the WSGI
application inside the test's transaction, with the token of the role the operation is for (a worker's where its
view requires a worker). Path ids are mostly replaced by ids of objects the caller owns, so bodies and query
strings reach the code behind the 404 check; the rest keep the generated value, so malformed ids are tried too.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

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
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, WorkerFactory, fund
from tests.security.conftest import built_once
from workflows import assignments as assignments_flow
from workflows import pools as pools_flow

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
    pools_flow.pool_open(pool=pool)
    helped = assignments_flow.assignment_next(worker=helper, pool_id=pool.pk)
    answer = assignments_flow.assignment_submit(worker=helper, assignment_id=helped.pk, answer="OK")
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
            "assignment_id": lambda: getattr(
                assignments_flow.assignment_next(worker=worker, pool_id=None), "pk", 0
            ),
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


# ------------------------------------------------------------------------------------------ boundary values
# Hypothesis rarely draws the values that break a parser or a column: the integers at and past PostgreSQL's
# limits, numbers JSON parses as infinity, pages whose offset no bigint holds, other scripts' digits. Every
# operation gets each of them in every path parameter, every query parameter (documented or not) and every
# field of a body that would otherwise succeed, and must answer without a 500.

BOUNDARY_TEXT = [
    "0",
    "-1",
    str(2**31 - 1),
    str(2**31),
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    "1" + "0" * 30,
    "1000000000000000000",
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "1.5",
    "\u0663",  # an Arabic-Indic three
    "",
]
# JSON bodies: a value, or raw JSON text spliced in where JSON's own number syntax is the point.
_RAW = "__raw__:"
BOUNDARY_JSON: list[Any] = [
    0,
    -1,
    2**31,
    2**63 - 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
    1.5,
    1e308,
    True,
    None,
    "1e999",
    "\u0663",
    _RAW + "1e999",
    _RAW + "-1e999",
]
BODIES: dict[str, dict[str, Any]] = {
    "answer_reject": {"reason": "Off-topic."},
    "appeal_decide": {"uphold": False, "response": "Checked."},
    "submit": {"label": "OK"},
    "next": {"pool": 1},
    "token": {"username": "nobody", "password": "wrong"},
    "care": {"categories": [], "daily_cap": 5},
    "appeal": {"message": "Please look again."},
    "withdrawals": {"amount": "1.00"},
    "pools": {"name": "P", "labels": ["A", "B"], "reward": "0.05", "overlap": 1, "priority": 5},
    "reward": {"reward": "0.10"},
    "tasks": {"tasks": [{"data": {"t": 1}}]},
    "rating": {"pay": 3, "clarity": 3, "fairness": 3, "speed": 3},
    "webhooks": {"url": "https://hooks.example.com/y", "events": [], "progress_step": 10},
}


def _body_for(path: str, method: str) -> dict[str, Any] | None:
    if method not in {"post", "put"}:
        return None
    name = {
        "/api/v1/answers/{answer_id}/reject/": "answer_reject",
        "/api/v1/appeals/{appeal_id}/decide/": "appeal_decide",
        "/api/v1/assignments/{assignment_id}/submit/": "submit",
        "/api/v1/assignments/next/": "next",
        "/api/v1/auth/token/": "token",
        "/api/v1/me/care/": "care",
        "/api/v1/me/decisions/{decision_id}/appeal/": "appeal",
        "/api/v1/me/withdrawals/": "withdrawals",
        "/api/v1/pools/": "pools",
        "/api/v1/pools/{pool_id}/reward/": "reward",
        "/api/v1/pools/{pool_id}/tasks/": "tasks",
        "/api/v1/requesters/{requester_id}/rating/": "rating",
        "/api/v1/webhooks/": "webhooks",
    }.get(path)
    return dict(BODIES[name]) if name else None


def _json_text(body: dict[str, Any], key: str, value: Any) -> str:
    if isinstance(value, str) and value.startswith(_RAW):
        marker = "__boundary__"
        return json.dumps({**body, key: marker}).replace(f'"{marker}"', value[len(_RAW) :])
    return json.dumps({**body, key: value})


OPERATIONS = [
    (path, method)
    for path, item in schema.raw_schema["paths"].items()
    for method in item
    if method in {"get", "post", "put", "delete"}
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_boundary_values_never_make_a_500(path: str, method: str, actors: dict[str, Any], db: Any) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {actors[_role_for(path)].auth_token.key}")
    operation = schema.raw_schema["paths"][path][method]
    names = re.findall(r"\{([^}]+)\}", path)
    owned = {name: str(actors["ids"][name]()) for name in names if name in actors["ids"]}
    queries = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"} | {"page", "pool"}
    body = _body_for(path, method) or {}
    failures: list[str] = []

    def call(url: str, query: dict[str, str], text: str | None) -> None:
        send = getattr(client, method)
        if text is None:
            response = send(url, query) if method == "get" else send(url)
        else:
            response = send(
                url + ("?" + urlencode(query) if query else ""), text, content_type="application/json"
            )
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {url} {query} {text} -> {response.status_code}")

    def url_with(**values: str) -> str:
        filled = {**{n: owned.get(n, "1") for n in names}, **values}
        return re.sub(r"\{([^}]+)\}", lambda m: quote(filled[m.group(1)], safe=""), path)

    plain_text = json.dumps(body) if method in {"post", "put"} else None
    for name in names:
        for value in BOUNDARY_TEXT:
            if value:  # an empty segment is another URL
                call(url_with(**{name: value}), {}, plain_text)
    for query in queries:
        for value in BOUNDARY_TEXT:
            call(url_with(), {query: value}, plain_text)
    for key in [*body, "page", "id"] if plain_text is not None else []:
        for value in BOUNDARY_JSON:
            call(url_with(), {}, _json_text(body, key, value))
    if path.endswith("/tasks/"):
        # Inside task data, where any JSON is legitimate except what no database can hold.
        for value in BOUNDARY_JSON:
            data = _json_text({}, "t", value)
            call(url_with(), {}, '{"tasks": [{"data": ' + data + "}]}")
    assert not failures, "\n".join(failures[:20])
