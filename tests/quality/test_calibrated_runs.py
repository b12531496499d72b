"""A pool's run calibrates its confidences on held-out golden items: stored, exported, shown to staff, and
applied by the submit-time estimate that dynamic overlap uses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.test import Client

from quality.calibration import Calibration
from quality.models import PoolAggregationState, TaskResult
from quality.services import pool_aggregate
from tests.factories import StaffFactory, WorkerFactory, open_pool, record_answer
from tests.quality.helpers import answer, golden_tasks, regular_tasks

pytestmark = pytest.mark.django_db


def split_crowd(
    *, golden: int = 40, regular: int = 20, unanswered: int = 0, overlap: int = 3, **pool_options
):
    """Three workers. Where all three agree they are right; where two agree against one, the two are right only
    half of the time. Majority vote says 1.0 and 0.67: the first is true, the second claims too much."""
    labels = ["OK", "Bad"]
    pool = open_pool(
        tasks=regular + unanswered,
        overlap=overlap,
        golden=[labels[i % 2] for i in range(golden)],
        golden_rate=0.2,
        aggregation_method="mv",
        min_golden=1000,
        **pool_options,
    )
    a, b, c = WorkerFactory(), WorkerFactory(), WorkerFactory()

    def answer_all(task, truth: str, case: int) -> None:
        wrong = labels[1 - labels.index(truth)]
        given = [(truth, truth, truth), (truth, truth, wrong), (truth, wrong, wrong)][case]
        for worker, label in zip((a, b, c), given, strict=True):
            record_answer(task, worker, label, golden=task.golden_label is not None)

    for i, task in enumerate(golden_tasks(pool)):
        answer_all(task, task.golden_label, (0, 0, 1, 2)[i % 4])  # half unanimous, a quarter each split way
    truth = {}
    for i, task in enumerate(regular_tasks(pool)[:regular]):
        truth[task.pk] = labels[i % 2]
        answer_all(task, truth[task.pk], (0, 0, 1, 2)[i % 4])
    return pool, truth


def results(client: Client, pool_id: int) -> dict[int, dict]:
    body = b"".join(client.get(f"/api/v1/pools/{pool_id}/results/").streaming_content)
    return {row["task_id"]: row for row in json.loads(body)["results"]}


def test_a_run_stores_calibrated_confidence_and_keeps_the_raw_one(api):
    pool, _ = split_crowd()
    run = pool_aggregate(pool=pool)
    fitted = run.calibration
    assert fitted is not None and fitted["kind"] == "temperature" and fitted["items"] == 40
    assert fitted["ece_after"] < fitted["ece_before"]
    state = PoolAggregationState.objects.get(pool=pool)
    assert state.calibration == run.calibration

    stored = {r.task_id: r for r in TaskResult.objects.filter(pool=pool)}
    split = [r for r in stored.values() if r.raw_confidence == pytest.approx(2 / 3)]
    unanimous = [r for r in stored.values() if r.raw_confidence == 1.0]
    assert len(split) == 10 and len(unanimous) == 10
    # Two against one is right half of the time here: calibrated, it says about that; all three stay sure.
    assert all(0.45 < r.confidence < 0.6 for r in split)
    assert all(r.confidence > 0.9 for r in unanimous)

    rows = results(api(pool.requester), pool.pk)
    assert {row["calibration"] for row in rows.values()} == {"temperature"}
    assert all(row["confidence"] == round(stored[t].confidence, 6) for t, row in rows.items())


def test_staff_see_the_fit_and_its_reliability_diagram():
    pool, _ = split_crowd()
    pool_aggregate(pool=pool)
    client = Client()
    client.force_login(StaffFactory())
    page = client.get(f"/staff/quality/pools/{pool.pk}/").content.decode()
    assert "Calibrated by <strong>temperature</strong>" in page and "on 40 golden tasks" in page
    assert 'aria-labelledby="reliability-title"' in page
    assert page.count('class="before"') >= 2 and page.count('class="after"') >= 2  # points of both curves


def test_too_few_golden_items_say_uncalibrated_everywhere(api):
    pool, _ = split_crowd(golden=12)
    fitted = pool_aggregate(pool=pool).calibration
    assert fitted is not None and fitted["kind"] == "uncalibrated" and fitted["items"] == 12
    assert {row["calibration"] for row in results(api(pool.requester), pool.pk).values()} == {"uncalibrated"}
    stored = TaskResult.objects.filter(pool=pool)
    assert all(r.confidence == r.raw_confidence for r in stored)
    client = Client()
    client.force_login(StaffFactory())
    page = client.get(f"/staff/quality/pools/{pool.pk}/").content.decode()
    assert "<strong>Uncalibrated.</strong> The last run had 12 answered golden tasks" in page


def test_the_submit_time_estimate_is_calibrated_as_the_run_was():
    pool, _ = split_crowd(unanswered=1, overlap=5, target_confidence=0.9, min_overlap=3)
    pool_aggregate(pool=pool)
    calibration = Calibration.from_json(PoolAggregationState.objects.get(pool=pool).calibration)
    fresh = regular_tasks(pool)[-1]
    for label in ("OK", "OK", "Bad"):
        answer(WorkerFactory(), fresh, label)
    estimate = TaskResult.objects.get(task=fresh)
    expected = calibration.apply(np.array([[2 / 3], [1 / 3]]))[0]
    assert estimate.label == "OK" and estimate.confidence == pytest.approx(expected)
    assert estimate.confidence < 0.6  # the raw share (0.67) would have said more
    fresh.refresh_from_db()
    assert fresh.remaining == 2  # below the target: the task keeps its last two places


def test_an_auto_pool_runs_the_method_its_golden_items_choose(api):
    pool, _ = split_crowd()
    pool.aggregation_method = "auto"
    pool.save(update_fields=["aggregation_method"])
    run = pool_aggregate(pool=pool)
    choice = run.method_choice
    assert choice is not None and run.method == choice["chosen"] in ("ds", "mv", "wawa")
    assert set(choice["scores"]) == {"ds", "mv", "wawa"} and choice["runner_up"] != choice["chosen"]
    best = max(choice["scores"], key=lambda m: choice["scores"][m])
    assert choice["chosen"] == best
    state = PoolAggregationState.objects.get(pool=pool)
    assert state.method == run.method
    # The stored results are what the requester gets (no aggregation inside the request).
    TaskResult.objects.filter(pool=pool).update(confidence=0.123)
    assert {row["confidence"] for row in results(api(pool.requester), pool.pk).values()} == {0.123}

    requester = Client()
    requester.force_login(pool.requester)
    page = requester.get(f"/pools/{pool.pk}/").content.decode()
    assert (
        "chosen by the pool's golden items over" in page
        and "Confidence is calibrated on 40 golden items" in page
    )
    staff = Client()
    staff.force_login(StaffFactory())
    page = staff.get(f"/staff/quality/pools/{pool.pk}/").content.decode()
    assert "Each method's held-out score" in page


def test_an_auto_pool_through_the_api(api, requester):
    from tests.factories import fund

    created = api(requester).post(
        "/api/v1/pools/",
        {
            "name": "Auto",
            "reward": "0.05",
            "overlap": 3,
            "labels": ["OK", "Bad"],
            "aggregation_method": "auto",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["aggregation_method"] == "auto"
    fund(requester, "1")
    refused = api(requester).post(
        "/api/v1/pools/",
        {
            "name": "Bad",
            "reward": "0.05",
            "overlap": 3,
            "labels": ["OK", "Bad"],
            "aggregation_method": "best",
        },
        format="json",
    )
    assert refused.status_code == 400 and "aggregation_method" in json.dumps(refused.json())


def test_method_auto_is_computed_on_request_before_any_run(api):
    pool, truth = split_crowd()
    body = b"".join(
        api(pool.requester).get(f"/api/v1/pools/{pool.pk}/results/?method=auto").streaming_content
    )
    rows = {row["task_id"]: row for row in json.loads(body)["results"]}
    assert set(rows) == set(truth) and {row["calibration"] for row in rows.values()} == {"temperature"}
    assert not TaskResult.objects.filter(pool=pool).exists()  # nothing stored by a read
    refused = api(pool.requester).get(f"/api/v1/pools/{pool.pk}/results/?method=best")
    assert refused.status_code == 400 and "auto" in refused.json()["error"]["message"]
