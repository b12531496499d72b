"""GET /pools/{id}/results/?format=coco: a boxes pool's results as a COCO document, boxes in pixels."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from quality.services import pool_aggregate
from tasks.models import Pool
from tests.factories import RequesterFactory, WorkerFactory, fund

pytestmark = pytest.mark.django_db

CAR = {"label": "Car", "x": 0.1, "y": 0.2, "w": 0.25, "h": 0.5}
PERSON = {"label": "Person", "x": 0.6, "y": 0.1, "w": 0.2, "h": 0.3}
STRAY = {"label": "Car", "x": 0.8, "y": 0.8, "w": 0.1, "h": 0.1}
# What each of three workers draws on a scene: all see the car, two the person, one a stray box.
DRAWN: dict[str, list[list[dict[str, Any]]]] = {
    "street": [[CAR, PERSON], [CAR, PERSON], [CAR, STRAY]],
    "empty": [[], [], []],
}


def _pool(api: Any, requester: Any, tasks: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    client = api(requester)
    created = client.post(
        "/api/v1/pools/",
        {"name": "Cars and people", "reward": "0.05", "overlap": 3, "labels": ["Car", "Person"], **fields},
        format="json",
    )
    assert created.status_code == 201, created.content
    pool = created.json()
    uploaded = client.post(f"/api/v1/pools/{pool['id']}/tasks/", {"tasks": tasks}, format="json")
    assert uploaded.status_code == 201, uploaded.content
    return pool


def _answer_all(api: Any, requester: Any, pool: dict[str, Any]) -> None:
    """Three workers each answer every task by its scene; a task with no scene they all skip."""
    fund(requester, "10")
    assert api(requester).post(f"/api/v1/pools/{pool['id']}/open/").status_code == 200
    for n in range(3):
        worker = api(WorkerFactory())
        while (assignment := worker.post("/api/v1/assignments/next/", {}, format="json")).status_code == 200:
            claimed = assignment.json()
            scene = claimed["task"]["data"].get("scene")
            if scene is None:
                assert worker.post(f"/api/v1/assignments/{claimed['id']}/skip/").status_code == 200
                continue
            drawn = DRAWN[scene][n] if scene in DRAWN else json.loads(scene)
            submitted = worker.post(
                f"/api/v1/assignments/{claimed['id']}/submit/", {"answer": drawn}, format="json"
            )
            assert submitted.status_code == 200, submitted.content


def _get(client: Any, pool_id: int, query: str) -> Any:
    response = client.get(f"/api/v1/pools/{pool_id}/results/?{query}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, json.loads(body)


IMAGE = "https://img.example.com/{}.jpg"


def _tasks() -> list[dict[str, Any]]:
    golden = [{"label": "Person", "x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5}]
    return [
        {
            "data": {"image": IMAGE.format("g"), "width": 100, "height": 100, "scene": json.dumps(golden)},
            "golden": golden,
        },
        {
            "data": {"image": IMAGE.format("street"), "width": 640, "height": "480", "scene": "street"},
            "external_id": "s1",
        },
        {"data": {"image": IMAGE.format("empty"), "width": 1000, "height": 500, "scene": "empty"}},
        {"data": {"image": IMAGE.format("unseen"), "width": 10, "height": 10}},
    ]


def test_boxes_results_as_coco_in_pixels_with_scores(api, requester):
    pool = _pool(api, requester, _tasks(), task_type="boxes")
    _answer_all(api, requester, pool)
    client = api(requester)

    for aggregated in (False, True):  # computed on request, then from the stored results
        if aggregated:
            pool_aggregate(pool=Pool.objects.get(pk=pool["id"]))
        response, coco = _get(client, pool["id"], "format=coco")
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert response["Content-Disposition"] == f'attachment; filename="pool-{pool["id"]}-coco.json"'
        assert coco["categories"] == [
            {"id": 1, "name": "Car", "supercategory": ""},
            {"id": 2, "name": "Person", "supercategory": ""},
        ]
        _, results = _get(client, pool["id"], "format=json")
        by_id = {r["external_id"] or r["task_id"]: r for r in results["results"]}
        street, empty = (
            by_id["s1"]["task_id"],
            next(r["task_id"] for r in results["results"] if r["answer"] == []),
        )
        # The golden task and the task nobody answered are no images; an answered task with no box is one.
        assert [(i["id"], i["file_name"], i["width"], i["height"]) for i in coco["images"]] == [
            (street, IMAGE.format("street"), 640, 480),
            (empty, IMAGE.format("empty"), 1000, 500),
        ]
        assert coco["images"][0]["coco_url"] == IMAGE.format("street")
        assert coco["images"][0]["external_id"] == "s1"
        # The car drawn by all three, the person by two of three; the stray box (one of three) is dropped.
        assert coco["annotations"] == [
            {
                "id": 1,
                "image_id": street,
                "category_id": 1,
                "bbox": [64.0, 96.0, 160.0, 240.0],
                "area": 38400.0,
                "iscrowd": 0,
                "score": 1.0,
            },
            {
                "id": 2,
                "image_id": street,
                "category_id": 2,
                "bbox": [384.0, 48.0, 128.0, 144.0],
                "area": 18432.0,
                "iscrowd": 0,
                "score": pytest.approx(2 / 3),
            },
        ]
        # The same boxes and confidences as the JSON results, there as fractions of the image.
        assert [(b["label"], b["confidence"]) for b in by_id["s1"]["answer"]] == [
            ("Car", 1.0),
            ("Person", pytest.approx(2 / 3)),
        ]

    # The pool page offers the same document as a download.
    page = Client()
    page.force_login(requester)
    assert f'href="/pools/{pool["id"]}/download/coco/"' in page.get(f"/pools/{pool['id']}/").content.decode()
    download = page.get(f"/pools/{pool['id']}/download/coco/")
    assert download["Content-Disposition"] == f'attachment; filename="pool-{pool["id"]}-coco.json"'
    assert json.loads(b"".join(download.streaming_content)) == coco


def test_coco_needs_every_task_to_carry_its_image_size(api, requester):
    tasks = [
        {"data": {"image": IMAGE.format("a"), "width": 640, "height": 480, "scene": "street"}},
        {"data": {"image": IMAGE.format("b"), "scene": "street"}, "external_id": "no-size"},
        {"data": {"image": IMAGE.format("c"), "scene": "empty"}},
    ]
    pool = _pool(api, requester, tasks, task_type="boxes")
    _answer_all(api, requester, pool)
    response, body = _get(api(requester), pool["id"], "format=coco")
    assert response.status_code == 400
    error = body["error"]
    assert error["code"] == "invalid_request"
    assert '"width" and "height"' in error["message"] and "2 of this pool's tasks" in error["message"]
    assert "external_id 'no-size'" in error["message"] and "format=json" in error["message"]
    assert error["details"]["fields"] == ["width", "height"] and error["details"]["tasks_without"] == 2
    # The fractions are still there in the other formats.
    response, results = _get(api(requester), pool["id"], "format=json")
    assert response.status_code == 200 and len(results["results"]) == 3


def test_a_half_given_image_size_rejects_the_upload(api, requester):
    client = api(requester)
    pool = client.post(
        "/api/v1/pools/",
        {"name": "p", "reward": "0.05", "overlap": 1, "labels": ["Car"], "task_type": "boxes"},
        format="json",
    ).json()
    rows = [{"data": {"image": IMAGE.format("a"), "width": 640}}]
    response = client.post(f"/api/v1/pools/{pool['id']}/tasks/", {"tasks": rows}, format="json")
    assert response.status_code == 400
    assert "has 'width' but no 'height'" in response.json()["error"]["message"]


def test_coco_is_only_for_boxes_pools(api, requester):
    client = api(requester)
    pool = client.post(
        "/api/v1/pools/",
        {"name": "p", "reward": "0.05", "overlap": 1, "labels": ["OK", "Bad"]},
        format="json",
    ).json()
    response, body = _get(client, pool["id"], "format=COCO")
    assert response.status_code == 400
    assert body["error"]["code"] == "invalid_format"
    assert "format=coco is for boxes pools; this pool is single_choice" in body["error"]["message"]


def test_another_requesters_pool_is_not_found(api, requester):
    pool = _pool(api, requester, _tasks()[1:2], task_type="boxes")
    response = api(RequesterFactory()).get(f"/api/v1/pools/{pool['id']}/results/?format=coco")
    assert response.status_code == 404
