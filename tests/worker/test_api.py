from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payouts.selectors import balance_for_user
from tasks.models import Answer, Assignment, AssignmentStatus, PoolStatus, Task
from tests.factories import WorkerFactory, open_pool
from workflows.pools import pool_complete_if_done

pytestmark = pytest.mark.django_db


def test_next_submit_pays_at_once(api, worker):
    pool = open_pool()
    client = api(worker)
    first = client.post("/api/v1/assignments/next/", {}, format="json")
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"id", "expires_at", "pool", "task"}
    assert body["pool"] == {
        "id": pool.pk,
        "name": pool.name,
        "instructions": pool.instructions,
        "task_type": "single_choice",
        "labels": ["OK", "Bad"],
        "reward": "0.10",
    }
    again = client.post("/api/v1/assignments/next/", {}, format="json").json()
    assert again["id"] == body["id"], "an unexpired assignment is returned again"
    submitted = client.post(f"/api/v1/assignments/{body['id']}/submit/", {"label": "OK"}, format="json")
    assert submitted.status_code == 200
    assert submitted.json() == {
        "status": "accepted",
        "reward": "0.10",
        "balance": {"available": "0.10", "reserved": "0.00"},
    }
    assert balance_for_user(user=worker).available == Decimal("0.10")


def test_submit_errors(api, worker):
    open_pool(tasks=2)
    client = api(worker)
    assignment = client.post("/api/v1/assignments/next/", {}, format="json").json()
    url = f"/api/v1/assignments/{assignment['id']}/submit/"
    bad = client.post(url, {"label": "Maybe"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_label"
    assert client.post(url, {"label": "OK"}, format="json").status_code == 200
    twice = client.post(url, {"label": "OK"}, format="json")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_submitted"
    other = WorkerFactory()
    mine = client.post("/api/v1/assignments/next/", {}, format="json").json()
    stolen = api(other).post(f"/api/v1/assignments/{mine['id']}/submit/", {"label": "OK"}, format="json")
    assert stolen.status_code == 404
    assert (
        api(other).post("/api/v1/assignments/abc/submit/", {"label": "OK"}, format="json").status_code == 404
    )
    assert Answer.objects.count() == 1


def test_requesters_cannot_take_tasks(api, requester):
    open_pool()
    assert api(requester).post("/api/v1/assignments/next/", {}, format="json").status_code == 403
    assert (
        api(requester).post("/api/v1/assignments/1/submit/", {"label": "OK"}, format="json").status_code
        == 403
    )


def test_expired_assignment_gets_410_and_the_task_goes_to_someone_else(api, worker):
    open_pool(tasks=1, overlap=1)
    late = api(worker).post("/api/v1/assignments/next/", {}, format="json").json()
    Assignment.objects.filter(pk=late["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    other = WorkerFactory()
    taken = api(other).post("/api/v1/assignments/next/", {}, format="json")
    assert taken.status_code == 200 and taken.json()["task"]["id"] == late["task"]["id"]
    response = api(worker).post(f"/api/v1/assignments/{late['id']}/submit/", {"label": "OK"}, format="json")
    assert response.status_code == 410 and response.json()["error"]["code"] == "expired"
    assert (
        api(other)
        .post(f"/api/v1/assignments/{taken.json()['id']}/submit/", {"label": "OK"}, format="json")
        .status_code
        == 200
    )
    task = Task.objects.get()
    assert task.answers_count == 1 and task.remaining == 0


def test_own_expired_assignment_frees_its_place_when_submitted_late(api, worker):
    open_pool(tasks=1, overlap=1)
    late = api(worker).post("/api/v1/assignments/next/", {}, format="json").json()
    Assignment.objects.filter(pk=late["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert (
        api(worker)
        .post(f"/api/v1/assignments/{late['id']}/submit/", {"label": "OK"}, format="json")
        .status_code
        == 410
    )
    assert Task.objects.get().remaining == 1
    assert api(WorkerFactory()).post("/api/v1/assignments/next/", {}, format="json").status_code == 200


def test_skipped_task_never_comes_back(api, worker):
    open_pool(tasks=2)
    client = api(worker)
    first = client.post("/api/v1/assignments/next/", {}, format="json").json()
    assert client.post(f"/api/v1/assignments/{first['id']}/skip/").status_code == 200
    second = client.post("/api/v1/assignments/next/", {}, format="json").json()
    assert second["task"]["id"] != first["task"]["id"]
    client.post(f"/api/v1/assignments/{second['id']}/submit/", {"label": "OK"}, format="json")
    assert client.post("/api/v1/assignments/next/", {}, format="json").status_code == 204
    # The skipped task is still there for someone else.
    other = api(WorkerFactory()).post("/api/v1/assignments/next/", {}, format="json").json()
    assert other["task"]["id"] == first["task"]["id"]


def test_overlap_answers_come_from_distinct_workers_then_the_pool_completes(api):
    pool = open_pool(tasks=2, overlap=2, fund_amount="1000")
    workers = WorkerFactory.create_batch(3)
    for w in workers[:2]:
        for _ in range(2):
            a = api(w).post("/api/v1/assignments/next/", {}, format="json").json()
            assert (
                api(w)
                .post(f"/api/v1/assignments/{a['id']}/submit/", {"label": "OK"}, format="json")
                .status_code
                == 200
            )
    assert api(workers[2]).post("/api/v1/assignments/next/", {}, format="json").status_code == 204
    assert pool_complete_if_done(pool_id=pool.pk)
    pool.refresh_from_db()
    assert pool.status == PoolStatus.COMPLETED
    # Everything not paid out went back to the requester.
    balance = balance_for_user(user=pool.requester)
    assert balance.reserved == 0
    assert balance.available == Decimal("1000") - 4 * Decimal("0.11")


def test_tasks_with_answers_are_served_first(api):
    open_pool(tasks=5, overlap=3)
    a, b = WorkerFactory.create_batch(2)
    first = api(a).post("/api/v1/assignments/next/", {}, format="json").json()
    # The next worker joins the task already under way rather than starting a fresh one.
    assert (
        api(b).post("/api/v1/assignments/next/", {}, format="json").json()["task"]["id"]
        == first["task"]["id"]
    )


def test_no_golden_label_or_marker_reaches_a_worker(api, worker):
    open_pool(tasks=3, golden=["Yes", "Other", "Yes"], golden_rate=0.5, labels=("Yes", "Other"))
    client = api(worker)
    seen_golden = False
    while True:
        response = client.post("/api/v1/assignments/next/", {}, format="json")
        if response.status_code == 204:
            break
        body = response.json()
        text = json.dumps(body)
        assignment = Assignment.objects.get(pk=body["id"])
        seen_golden |= assignment.is_golden
        assert "golden" not in text.lower()
        assert set(body["task"]) == {"id", "data"}
        submit = client.post(f"/api/v1/assignments/{body['id']}/submit/", {"label": "Other"}, format="json")
        assert "golden" not in submit.content.decode().lower() and "correct" not in submit.content.decode()
    assert seen_golden


def test_first_tasks_include_a_golden_item_and_none_repeats(api):
    pool = open_pool(tasks=40, golden=["OK", "Bad"] * 2, golden_rate=0.2)
    worker = WorkerFactory()
    client = api(worker)
    for _ in range(20):
        a = client.post("/api/v1/assignments/next/", {}, format="json").json()
        client.post(f"/api/v1/assignments/{a['id']}/submit/", {"label": "OK"}, format="json")
    served = list(Assignment.objects.filter(worker=worker).order_by("id").values_list("is_golden", "task_id"))
    assert any(golden for golden, _ in served[:5])
    golden_tasks = [task for golden, task in served if golden]
    assert len(golden_tasks) == len(set(golden_tasks)) == 4  # one per block of 5
    assert pool.golden_rate == 0.2


def test_a_pool_never_serves_more_golden_answers_than_it_reserved(api):
    pool = open_pool(tasks=1, golden=["OK", "Bad"] * 5, golden_rate=0.5)
    assert pool.golden_slots_left == 1
    # Every worker works until nothing is left, so golden items come due whatever their hashed positions.
    for w in WorkerFactory.create_batch(4):
        client = api(w)
        while (response := client.post("/api/v1/assignments/next/", {}, format="json")).status_code == 200:
            client.post(
                f"/api/v1/assignments/{response.json()['id']}/submit/", {"label": "OK"}, format="json"
            )
    assert Assignment.objects.filter(pool=pool, is_golden=True).count() == 1


def test_closing_cancels_assignments_in_flight(api, worker):
    pool = open_pool(tasks=2)
    a = api(worker).post("/api/v1/assignments/next/", {}, format="json").json()
    api(pool.requester).post(f"/api/v1/pools/{pool.pk}/close/")
    response = api(worker).post(f"/api/v1/assignments/{a['id']}/submit/", {"label": "OK"}, format="json")
    assert response.status_code == 410
    assert Assignment.objects.get(pk=a["id"]).status == AssignmentStatus.CANCELLED
    assert api(worker).post("/api/v1/assignments/next/", {}, format="json").status_code == 204


def test_answers_and_results_exports(api, worker):
    pool = open_pool(tasks=2, overlap=1)
    Task.objects.filter(pool=pool).update(external_id="=HYPERLINK(1)")
    a = api(worker).post("/api/v1/assignments/next/", {}, format="json").json()
    api(worker).post(f"/api/v1/assignments/{a['id']}/submit/", {"label": "Bad"}, format="json")
    client = api(pool.requester)
    answers = b"".join(client.get(f"/api/v1/pools/{pool.pk}/answers/?format=json").streaming_content)
    rows = json.loads(answers)["results"]
    assert len(rows) == 1
    assert set(rows[0]) == {
        "task_id",
        "external_id",
        "worker",
        "label",
        "answer",
        "submitted_at",
        "duration_ms",
    }
    assert rows[0]["worker"] != worker.username and worker.username not in answers.decode()
    results = json.loads(b"".join(client.get(f"/api/v1/pools/{pool.pk}/results/").streaming_content))[
        "results"
    ]
    assert sorted((r["answers"], r["label"]) for r in results if r["answers"]) == [(1, "Bad")]
    assert [r["label"] for r in results if not r["answers"]] == [None]
    csv_body = b"".join(client.get(f"/api/v1/pools/{pool.pk}/results/?format=csv").streaming_content).decode()
    assert csv_body.splitlines()[0] == "task_id,external_id,label,answer,confidence,calibration,answers"
    assert "'=HYPERLINK(1)" in csv_body
    jsonl = b"".join(client.get(f"/api/v1/pools/{pool.pk}/answers/?format=jsonl").streaming_content).decode()
    assert json.loads(jsonl.splitlines()[0])["label"] == "Bad"
    assert client.get(f"/api/v1/pools/{pool.pk}/answers/?format=xml").status_code == 400
