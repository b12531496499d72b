"""Every task type through the API a client uses: create the pool, upload tasks with golden answers, claim, submit
good and bad answers (a bad one is a 400 with nothing written), read the answers and results back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from quality.services import pool_aggregate
from quality.types import TYPES
from tasks.models import Answer, Task
from tests.factories import WorkerFactory, fund

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    pool: dict[str, Any]  # POST /pools/ fields besides name, reward and overlap
    tasks: list[dict[str, Any]]  # the upload: the first is golden
    good: list[tuple[Any, Any]]  # (sent, read back as "answer")
    bad: list[tuple[Any, str]]  # (sent, a phrase the message holds)
    bad_upload: dict[str, Any] | None = None  # one row that rejects the whole upload
    pool_json: dict[str, Any] = field(default_factory=dict)  # what the pool's JSON shows of the type
    # A one-answer result as the results read it, where it adds to the answer (a box carries its confidence)
    result_of: Callable[[Any], Any] = field(default=lambda answer: answer)


CASES = {
    "single_choice": Case(
        pool={"labels": ["OK", "Bad"]},
        tasks=[
            {"data": {"text": "golden"}, "golden": "OK"},
            *[{"data": {"text": f"t{i}"}} for i in range(4)],
        ],
        good=[("OK", "OK"), ("Bad", "Bad")],
        bad=[("Nope", "not one of this pool's labels"), (["OK"], "not one of this pool's labels")],
        bad_upload={"data": {"text": "x"}, "golden": "Maybe"},
    ),
    "multi_choice": Case(
        pool={"labels": ["Adult", "Counterfeit", "Weapons"], "golden_share": 0.5},
        tasks=[
            {"data": {"title": "golden"}, "golden": ["Adult", "Counterfeit"]},
            *[{"data": {"title": f"listing {i}"}} for i in range(4)],
        ],
        good=[(["Counterfeit", "Adult"], ["Adult", "Counterfeit"]), ([], [])],
        bad=[
            ("Adult", "must be a list"),
            (["Adult", "Adult"], "twice"),
            (["Spam"], "not one of this pool's labels"),
            ([1], "as text"),
        ],
        bad_upload={"data": {"title": "x"}, "golden": ["Spam"]},
        pool_json={"golden_share": 0.5},
    ),
    "text": Case(
        pool={"max_length": 20},
        tasks=[
            {"data": {"audio": "golden"}, "golden": "Main Street 5"},
            *[{"data": {"audio": f"clip {i}"}} for i in range(4)],
        ],
        good=[("  Main street 5 ", "Main street 5"), ("Line one\nline two", "Line one\nline two")],
        bad=[
            ("   ", "empty"),
            ("x" * 21, "at most 20 characters"),
            (["a"], "must be text"),
            (5, "must be text"),
        ],
        bad_upload={"data": {"audio": "x"}, "golden": ""},
        pool_json={"max_length": 20},
    ),
    "boxes": Case(
        pool={"labels": ["Car", "Person"], "iou_threshold": 0.6},
        tasks=[
            {
                "data": {"image": "https://img.example.com/golden.jpg"},
                "golden": [{"label": "Car", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}],
            },
            *[
                {"data": {"image": f"https://img.example.com/{i}.jpg", "width": 640, "height": 480}}
                for i in range(4)
            ],
        ],
        good=[
            (
                [{"label": "Person", "x": 0.5, "y": 0.25, "w": 0.1234567, "h": 0.5}],
                [{"label": "Person", "x": 0.5, "y": 0.25, "w": 0.123457, "h": 0.5}],
            ),
            ([], []),
        ],
        bad=[
            ({"label": "Car", "x": 0, "y": 0, "w": 1, "h": 1}, "must be a list of boxes"),
            ([{"label": "Car", "x": 0.8, "y": 0, "w": 0.3, "h": 0.5}], "x + w must be at most 1"),
            ([{"label": "Car", "x": 0.1, "y": 0.1, "w": 0, "h": 0.5}], "w must be more than 0"),
            ([{"label": "Truck", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}], "not one of this pool's labels"),
            ([{"label": "Car", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "score": 1}], "unknown keys score"),
            ([{"label": "Car", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}] * 101, "at most 100"),
        ],
        bad_upload={"data": {"image": "file:///etc/passwd"}},
        pool_json={"image_field": "image", "iou_threshold": 0.6, "golden_share": 1.0},
        result_of=lambda boxes: [{**box, "confidence": 1.0} for box in boxes],
    ),
    "pairwise": Case(
        pool={"allow_tie": False},
        tasks=[
            {"data": {"left": "golden a", "right": "golden b"}, "golden": "left"},
            *[{"data": {"left": f"result {i}", "right": f"result {i + 1}"}} for i in range(4)],
        ],
        good=[("left", "left"), ("right", "right")],
        bad=[
            ("tie", "does not allow ties"),
            ("up", 'must be one of "left", "right"'),
            (["left"], "must be one of"),
        ],
        bad_upload={"data": {"left": "only one side"}},
        pool_json={"allow_tie": False},
    ),
}
# A type added to the registry without a case here fails this test, so none goes out untested.


def test_every_registered_type_has_a_contract_case():
    assert set(CASES) == set(TYPES)


def _open_pool(api, requester, task_type: str, case: Case) -> dict[str, Any]:
    client = api(requester)
    created = client.post(
        "/api/v1/pools/",
        {
            "name": f"A {task_type} pool",
            "reward": "0.05",
            "overlap": 1,
            "golden_rate": 0.2,
            "min_golden": 5,
            "task_type": task_type,
            **case.pool,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pool = created.json()
    assert pool["task_type"] == task_type
    for key, value in case.pool_json.items():
        assert pool[key] == value
    uploaded = client.post(f"/api/v1/pools/{pool['id']}/tasks/", {"tasks": case.tasks}, format="json")
    assert uploaded.status_code == 201, uploaded.content
    fund(requester, "10")
    assert client.post(f"/api/v1/pools/{pool['id']}/open/").status_code == 200
    return pool


@pytest.mark.parametrize("task_type", sorted(CASES))
def test_a_bad_upload_row_rejects_the_whole_upload(api, requester, task_type):
    case = CASES[task_type]
    if case.bad_upload is None:
        pytest.fail(f"{task_type} has no bad upload case")
    client = api(requester)
    pool = client.post(
        "/api/v1/pools/",
        {"name": "p", "reward": "0.05", "overlap": 1, "task_type": task_type, **case.pool},
        format="json",
    ).json()
    response = client.post(
        f"/api/v1/pools/{pool['id']}/tasks/", {"tasks": [*case.tasks[1:], case.bad_upload]}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_upload" and error["details"]["row"] == len(case.tasks)
    assert not Task.objects.filter(pool_id=pool["id"]).exists()


@pytest.mark.parametrize("task_type", sorted(CASES))
def test_good_answers_are_stored_and_read_back_and_bad_ones_write_nothing(api, requester, task_type):
    case = CASES[task_type]
    pool = _open_pool(api, requester, task_type, case)
    sent = []
    for raw, expected in case.good:
        worker = api(WorkerFactory())
        assignment = worker.post("/api/v1/assignments/next/", {}, format="json").json()
        assert assignment["pool"]["task_type"] == task_type
        for bad, phrase in case.bad:
            refused = worker.post(
                f"/api/v1/assignments/{assignment['id']}/submit/", {"answer": bad}, format="json"
            )
            assert refused.status_code == 400, refused.content
            error = refused.json()["error"]
            assert error["code"] == "invalid_answer" and phrase in error["message"], error
        assert not Answer.objects.filter(assignment_id=assignment["id"]).exists()
        ok = worker.post(f"/api/v1/assignments/{assignment['id']}/submit/", {"answer": raw}, format="json")
        assert ok.status_code == 200, ok.content
        sent.append((assignment["task"]["id"], expected))
    client = api(requester)
    answers = json.loads(b"".join(client.get(f"/api/v1/pools/{pool['id']}/answers/").streaming_content))[
        "results"
    ]
    assert sorted((a["task_id"], json.dumps(a["answer"])) for a in answers) == sorted(
        (task, json.dumps(expected)) for task, expected in sent
    )
    pool_aggregate(pool=Task.objects.get(pk=sent[0][0]).pool)
    results = json.loads(b"".join(client.get(f"/api/v1/pools/{pool['id']}/results/").streaming_content))[
        "results"
    ]
    by_task = {r["task_id"]: r for r in results}
    for task, expected in sent:
        if task in by_task:  # a golden task is not a result
            assert (
                by_task[task]["answer"] == case.result_of(expected)
                and by_task[task]["confidence"] is not None
            )
        per_label = by_task[task].get("label_confidence") if task in by_task else None
        if TYPES[task_type].per_label_confidence and task in by_task:
            # Each label's own probability, on the side of 0.5 the result took it.
            labels = case.pool["labels"]
            assert (
                per_label is not None
                and list(per_label) == labels
                and all(0.0 <= p <= 1.0 for p in per_label.values())
            )
            assert [label for label in labels if per_label[label] >= 0.5] == by_task[task]["answer"]
        else:
            assert per_label is None and "label_confidence" not in by_task.get(task, {})
    if TYPES[task_type].per_label_confidence:
        csv_text = b"".join(client.get(f"/api/v1/pools/{pool['id']}/results/?format=csv").streaming_content)
        header = csv_text.decode().splitlines()[0].split(",")
        assert header == ["task_id", "external_id", "answer", "confidence", "label_confidence", "answers"]
