"""Dynamic overlap: a task stops being served once it has min_overlap answers and its confidence reaches the
pool's target (at submit and after each run), answers in flight still land, and the money for answers never
bought goes back to the requester when the pool completes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fairlabel.money import cost_per_answer
from payouts.selectors import balance_for_user
from quality.models import AggregationRun, TaskResult
from quality.services import pool_aggregate, pool_overlap_adjust
from tasks.models import PoolStatus, Task
from tests.factories import WorkerFactory, open_pool
from tests.quality.helpers import answer, claim, regular_tasks
from workflows.assignments import assignment_submit
from workflows.pools import pool_complete_if_done

pytestmark = pytest.mark.django_db


def places(task: Task) -> tuple[int, int, int]:
    task.refresh_from_db()
    return task.answers_count, task.remaining, task.max_answers


def test_agreeing_answers_stop_a_task_at_min_overlap(api):
    pool = open_pool(
        tasks=2, overlap=5, golden_rate=0.2, aggregation_method="mv", target_confidence=0.9, min_overlap=2
    )
    task, other = regular_tasks(pool)
    a, b = WorkerFactory(), WorkerFactory()
    answer(a, task, "OK")
    assert places(task) == (1, 4, 5)  # one answer is below min_overlap, whatever its confidence
    answer(b, task, "OK")
    assert places(task) == (2, 0, 2)  # 2 of 2 agree: confidence 1.0 >= 0.9; the three unbought places go
    result = TaskResult.objects.get(task=task)
    assert (result.label, result.confidence, result.answers) == ("OK", 1.0, 2)
    # A new worker is served the other task, never the stopped one.
    response = api(WorkerFactory()).post("/api/v1/assignments/next/", {}, format="json")
    assert response.json()["task"]["id"] == other.pk


def test_disagreement_keeps_a_task_open_until_its_overlap():
    pool = open_pool(
        tasks=1, overlap=3, golden_rate=0.2, aggregation_method="mv", target_confidence=0.9, min_overlap=2
    )
    (task,) = regular_tasks(pool)
    answer(WorkerFactory(), task, "OK")
    answer(WorkerFactory(), task, "Bad")
    assert places(task) == (2, 1, 3)  # 1-1: confidence 0.5
    answer(WorkerFactory(), task, "OK")
    assert places(task) == (3, 0, 3)  # the overlap caps it (2 of 3 = 0.67 never reached 0.9)


def test_an_answer_in_flight_when_a_task_stops_is_still_accepted():
    pool = open_pool(
        tasks=1, overlap=5, golden_rate=0.2, aggregation_method="mv", target_confidence=0.9, min_overlap=2
    )
    (task,) = regular_tasks(pool)
    late = WorkerFactory()
    in_flight = claim(late, task)
    answer(WorkerFactory(), task, "OK")
    answer(WorkerFactory(), task, "OK")
    assert places(task) == (2, 0, 3)  # the claimed place stays
    assignment_submit(worker=late, assignment_id=in_flight.pk, answer="Bad")
    assert places(task) == (3, 0, 3)


def test_money_for_answers_never_bought_returns_when_the_pool_completes():
    pool = open_pool(
        tasks=3, overlap=5, golden_rate=0.2, aggregation_method="mv", target_confidence=0.9, min_overlap=2
    )
    requester = pool.requester
    start = balance_for_user(user=requester).available
    reserved = balance_for_user(user=requester).reserved
    per_answer = cost_per_answer(pool.reward)
    assert reserved >= 15 * per_answer  # 3 tasks x 5 answers (and the golden share) were reserved
    workers = [WorkerFactory(), WorkerFactory()]
    for task in regular_tasks(pool):
        for worker in workers:
            answer(worker, task, "Bad")
    assert pool_complete_if_done(pool_id=pool.pk)
    pool.refresh_from_db()
    assert pool.status == PoolStatus.COMPLETED
    after = balance_for_user(user=requester)
    assert after.reserved == 0
    # Six answers were bought; everything else reserved came back (9 answers x 5 never bought, and more).
    assert after.available == start + reserved - 6 * per_answer
    assert after.available - start >= 9 * per_answer


def test_a_run_stops_confident_tasks_and_reopens_ones_whose_confidence_fell():
    pool = open_pool(tasks=2, overlap=4, golden_rate=0.2, target_confidence=0.8, min_overlap=2)  # Dawid-Skene
    first, second = regular_tasks(pool)
    workers = [WorkerFactory() for _ in range(3)]
    # No run yet: Dawid-Skene has no worker estimates, so submits do not stop anything.
    for worker in workers[:2]:
        answer(worker, first, "OK")
    assert places(first) == (2, 2, 4)
    run = pool_aggregate(pool=pool)
    assert run.stopped_tasks == 1 and AggregationRun.objects.get(pk=run.pk).stopped_tasks == 1
    assert places(first) == (2, 0, 2)
    # Later evidence lowers the stored confidence: the next adjustment serves the task again, up to overlap.
    TaskResult.objects.filter(task=first).update(confidence=0.6)
    assert pool_overlap_adjust(pool_id=pool.pk) == (0, 1)
    assert places(first) == (2, 2, 4)
    # A task with one answer is never stopped, however confident (min_overlap 2).
    answer(workers[2], second, "OK")
    pool_aggregate(pool=pool)
    assert places(second) == (1, 3, 4)


def test_dawid_skene_stops_at_submit_once_a_run_has_estimated_the_workers():
    pool = open_pool(
        tasks=6, golden=["OK", "Bad"] * 3, overlap=4, golden_rate=0.2, target_confidence=0.9, min_overlap=2
    )
    good = [WorkerFactory(), WorkerFactory()]
    tasks = regular_tasks(pool)
    for worker in good:  # both right on every golden item, and agreeing on the first task
        for golden in Task.objects.filter(pool=pool, golden_label__isnull=False):
            answer(worker, golden, golden.golden_label)
    pool_aggregate(pool=pool)
    answer(good[0], tasks[1], "Bad")
    assert places(tasks[1])[1] == 3  # one answer: not yet
    answer(good[1], tasks[1], "Bad")
    count, remaining, max_answers = places(tasks[1])
    assert (count, remaining, max_answers) == (2, 0, 2)
    assert TaskResult.objects.get(task=tasks[1]).confidence >= 0.9


def test_pools_without_a_target_are_untouched():
    pool = open_pool(tasks=1, overlap=3, golden_rate=0.2)
    (task,) = regular_tasks(pool)
    answer(WorkerFactory(), task, "OK")
    answer(WorkerFactory(), task, "OK")
    pool_aggregate(pool=pool)
    assert places(task) == (2, 1, 3)
    assert Decimal(0) < balance_for_user(user=pool.requester).reserved
