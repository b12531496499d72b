"""GET /pools/{id}/results/?by=item: a pairwise pool's compared items ranked, one row per item."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client

from quality.services import pool_aggregate
from tasks.models import Pool
from tests.factories import WorkerFactory, fund

pytestmark = pytest.mark.django_db

STRENGTH = {"result a": 1, "result b": 2, "result c": 3, "result d": 4}
PAIRS = [
    ("result a", "result b"),
    ("result c", "result a"),
    ("result a", "result d"),
    ("result c", "result b"),
    ("result b", "result d"),
    ("result d", "result c"),
]


def _pool(api: Any, requester: Any, **fields: Any) -> dict[str, Any]:
    client = api(requester)
    created = client.post(
        "/api/v1/pools/",
        {"name": "Which result is better", "reward": "0.05", "overlap": 3, **fields},
        format="json",
    )
    assert created.status_code == 201, created.content
    return created.json()


def _by_item(client: Any, pool_id: int, fmt: str = "json") -> Any:
    response = client.get(f"/api/v1/pools/{pool_id}/results/?by=item&format={fmt}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    return json.loads(body)["results"] if fmt == "json" else list(csv.reader(io.StringIO(body)))


def test_a_pairwise_pool_ranks_its_items(api, requester):
    pool = _pool(api, requester, task_type="pairwise", allow_tie=True)
    client = api(requester)
    tasks = [{"data": {"left": left, "right": right, "query": "shoes"}} for left, right in PAIRS]
    assert (
        client.post(f"/api/v1/pools/{pool['id']}/tasks/", {"tasks": tasks}, format="json").status_code == 201
    )
    fund(requester, "10")
    assert client.post(f"/api/v1/pools/{pool['id']}/open/").status_code == 200

    answered = 0
    for _ in range(3):  # each worker answers every task, by the items' strengths
        worker = api(WorkerFactory())
        while (assignment := worker.post("/api/v1/assignments/next/", {}, format="json")).status_code == 200:
            data = assignment.json()["task"]["data"]
            answer = "left" if STRENGTH[data["left"]] > STRENGTH[data["right"]] else "right"
            submitted = worker.post(
                f"/api/v1/assignments/{assignment.json()['id']}/submit/", {"answer": answer}, format="json"
            )
            assert submitted.status_code == 200, submitted.content
            answered += 1
    assert answered == 3 * len(PAIRS)

    computed = _by_item(client, pool["id"])  # not aggregated yet: computed on request
    pool_aggregate(pool=Pool.objects.get(pk=pool["id"]))
    stored = _by_item(client, pool["id"])
    assert stored == computed
    # Each item is in three tasks of three answers each.
    assert [(row["item"], row["rank"], row["comparisons"]) for row in stored] == [
        ("result d", 1, 9),
        ("result c", 2, 9),
        ("result b", 3, 9),
        ("result a", 4, 9),
    ]
    assert all(set(row) == {"item", "score", "rank", "comparisons"} for row in stored)
    scores = [row["score"] for row in stored]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.5 > scores[-1]

    rows = _by_item(client, pool["id"], fmt="csv")
    assert rows[0] == ["item", "score", "rank", "comparisons"]
    assert [row[0] for row in rows[1:]] == ["result d", "result c", "result b", "result a"]

    # The pool page offers the ranking as a download, the same rows as the API.
    page = Client()
    page.force_login(requester)
    assert (
        f'href="/pools/{pool["id"]}/download/items/?format=csv"'
        in page.get(f"/pools/{pool['id']}/").content.decode()
    )
    download = page.get(f"/pools/{pool['id']}/download/items/?format=json")
    assert json.loads(b"".join(download.streaming_content))["results"] == stored


def test_by_item_on_a_pool_of_another_type_is_a_clear_error(api, requester):
    pool = _pool(api, requester, labels=["OK", "Bad"])
    response = api(requester).get(f"/api/v1/pools/{pool['id']}/results/?by=item")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"] == "by=item ranks the items of a pairwise pool; this pool is single_choice."
    page = Client()
    page.force_login(requester)
    assert "download/items" not in page.get(f"/pools/{pool['id']}/").content.decode()
