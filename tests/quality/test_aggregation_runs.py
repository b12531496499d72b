"""Aggregation from the database to stored results, the results endpoint, the debounce and the safety net."""

from __future__ import annotations

import json
from datetime import timedelta

import dramatiq
import numpy as np
import pytest
from django.utils import timezone

from quality import loading
from quality.aggregation import aggregate
from quality.models import AggregationRun, PoolAggregationState, TaskResult, WorkerConfusion
from quality.services import (
    DEBOUNCE_SECONDS,
    aggregations_catch_up,
    pool_aggregate,
    pool_aggregate_when_due,
    pool_aggregation_request,
)
from tasks.models import Answer, AnswerStatus, PoolStatus
from tests.factories import WorkerFactory, open_pool
from tests.quality.helpers import answer, golden_tasks, regular_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_accounts():
    """Running on_commit callbacks inside a test that then rolls back teaches payouts' per-process account
    cache ids that no longer exist; forget them so later tests start clean."""
    yield
    from payouts.services import accounts_forget

    accounts_forget()


@pytest.fixture
def broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


def sent(broker, *, delayed: bool | None = None) -> list[tuple[int, int]]:
    """(pool id, delay in ms, to the 100 ms) of every pool_aggregate message waiting in the stub broker."""
    found = []
    for queue_name, is_delayed in (("default", False), ("default.DQ", True)):
        if (delayed is not None and delayed != is_delayed) or queue_name not in broker.queues:
            continue
        for raw in list(broker.queues[queue_name].queue):
            message = dramatiq.Message.decode(raw)
            if message.actor_name == "pool_aggregate":
                eta = message.options.get("eta")
                delay = max(0, eta - message.message_timestamp) if eta else 0
                # eta and the message's timestamp are two clock readings, a millisecond or so apart under load.
                delay -= delay % 100
                found.append((message.args[0], delay))
    return found


def adversarial_pool():
    """Worker A answers every golden item right; B and C answer every one wrong (they swap the labels).

    On the regular task "t", A says OK and B and C say Bad: majority vote says Bad (2 of 3); Dawid-Skene
    seeded with the golden items learns that B's and C's "Bad" means OK and says OK.
    """
    # Twenty regular tasks so the reservation pays for the golden answers; only the first gets answers.
    pool = open_pool(tasks=20, golden=["OK", "Bad", "OK", "Bad"], overlap=3, golden_rate=0.2, min_golden=100)
    a, b, c = WorkerFactory(), WorkerFactory(), WorkerFactory()
    for task in golden_tasks(pool):
        swapped = "Bad" if task.golden_label == "OK" else "OK"
        answer(a, task, task.golden_label)
        answer(b, task, swapped)
        answer(c, task, swapped)
    task = regular_tasks(pool)[0]
    answer(a, task, "OK")
    answer(b, task, "Bad")
    answer(c, task, "Bad")
    return pool, task, (a, b, c)


def test_dawid_skene_seeded_with_golden_items_is_stored_with_confidence_and_answers():
    pool, task, (a, b, c) = adversarial_pool()
    run = pool_aggregate(pool=pool)
    assert (run.answers, run.tasks, run.workers, run.method) == (15, 1, 3, "ds")
    result = TaskResult.objects.get(task=task)
    assert (result.label, result.answers, result.method) == ("OK", 3, "ds")
    assert result.confidence > 0.99
    # Every worker's confusion matrix is stored (rows: true label in pool order, columns: given label).
    matrices = {m.worker_id: m for m in WorkerConfusion.objects.filter(pool=pool)}
    assert set(matrices) == {a.pk, b.pk, c.pk}
    assert matrices[a.pk].matrix[0][0] > 0.7 and matrices[b.pk].matrix[0][1] > 0.5  # B answers Bad for OK
    assert (matrices[a.pk].answers, matrices[a.pk].agreed) == (5, 5)
    assert (matrices[b.pk].answers, matrices[b.pk].agreed) == (5, 0)
    assert all(abs(sum(row) - 1) < 1e-5 for m in matrices.values() for row in m.matrix)
    state = PoolAggregationState.objects.get(pool=pool)
    assert state.results_as_of == run.started_at and state.method == "ds"


def test_stored_results_are_what_aggregate_computes_on_the_same_answers():
    pool, task, _ = adversarial_pool()
    pool_aggregate(pool=pool)
    rows = list(Answer.objects.filter(pool=pool).order_by("?").values_list("task_id", "worker_id", "label"))
    task_ids = sorted({t for t, _, _ in rows})
    worker_ids = sorted({w for _, w, _ in rows})
    gold = [(t.pk, pool.labels.index(t.golden_label)) for t in golden_tasks(pool)]
    direct = aggregate(
        method="ds",
        task_idx=np.array([task_ids.index(t) for t, _, _ in rows]),
        worker_idx=np.array([worker_ids.index(w) for _, w, _ in rows]),
        label_idx=np.array([pool.labels.index(label) for _, _, label in rows]),
        n_tasks=len(task_ids),
        n_workers=len(worker_ids),
        n_labels=2,
        gold_task_idx=np.array([task_ids.index(t) for t, _ in gold]),
        gold_label_idx=np.array([g for _, g in gold]),
    )
    code = task_ids.index(task.pk)
    stored = TaskResult.objects.get(task=task)
    assert stored.label == pool.labels[direct.labels[code]]
    assert stored.confidence == pytest.approx(direct.confidence[code], abs=1e-12)


def test_results_endpoint_reads_stored_results_and_computes_other_methods(api):
    pool, task, _ = adversarial_pool()
    client = api(pool.requester)

    def results(query: str = "") -> list[dict]:
        response = client.get(f"/api/v1/pools/{pool.pk}/results/{query}")
        assert response.status_code == 200, response.content
        rows = json.loads(b"".join(response.streaming_content))["results"]
        assert len(rows) == 20 and all(r["label"] is None for r in rows if r["task_id"] != task.pk)
        return [r for r in rows if r["task_id"] == task.pk]

    before = results()  # not aggregated yet: computed now with the pool's method
    assert [(r["task_id"], r["label"], r["answers"]) for r in before] == [(task.pk, "OK", 3)]
    pool_aggregate(pool=pool)
    TaskResult.objects.filter(task=task).update(confidence=0.5)  # proves the stored row is what is served
    assert results() == [
        {
            "task_id": task.pk,
            "external_id": None,
            "label": "OK",
            "answer": "OK",
            "confidence": 0.5,
            "calibration": "uncalibrated",  # the pool has too few golden tasks to fit one
            "answers": 3,
        }
    ]
    assert results("?method=ds")[0]["confidence"] == 0.5
    majority = results("?method=mv")
    assert majority == [
        {
            "task_id": task.pk,
            "external_id": None,
            "label": "Bad",
            "answer": "Bad",
            "confidence": 0.666667,
            "calibration": "uncalibrated",
            "answers": 3,
        }
    ]
    assert results("?method=wawa")[0]["label"] in ("OK", "Bad")
    csv_body = b"".join(
        client.get(f"/api/v1/pools/{pool.pk}/results/?method=mv&format=csv").streaming_content
    )
    assert f"{task.pk},,Bad,Bad,0.666667,uncalibrated,3" in csv_body.decode().splitlines()
    bad = client.get(f"/api/v1/pools/{pool.pk}/results/?method=glad")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_method"


def test_big_pools_are_never_aggregated_inside_a_request(api, monkeypatch):
    monkeypatch.setattr("quality.selectors.ON_REQUEST_MAX_ANSWERS", 10)
    pool, task, _ = adversarial_pool()  # 15 answers
    client = api(pool.requester)

    def get(query: str = ""):
        response = client.get(f"/api/v1/pools/{pool.pk}/results/{query}")
        return response.status_code, response

    status, response = get()  # not aggregated yet: tasks are listed, labels come with the first run
    rows = json.loads(b"".join(response.streaming_content))["results"]
    assert status == 200 and next(r for r in rows if r["task_id"] == task.pk) == {
        "task_id": task.pk,
        "external_id": None,
        "label": None,
        "answer": None,
        "confidence": None,
        "calibration": None,
        "answers": 3,
    }
    status, refused = get("?method=mv")
    assert status == 409 and refused.json()["error"]["code"] == "method_not_stored"
    pool_aggregate(pool=pool)
    status, response = get()
    rows = json.loads(b"".join(response.streaming_content))["results"]
    assert next(r for r in rows if r["task_id"] == task.pk)["label"] == "OK"


def test_rejected_answers_do_not_count_and_a_result_without_answers_goes():
    pool = open_pool(tasks=2, overlap=2, golden_rate=0.2, aggregation_method="mv")
    first, second = regular_tasks(pool)
    w1, w2 = WorkerFactory(), WorkerFactory()
    answer(w1, first, "OK")
    answer(w2, first, "Bad")
    only = answer(w1, second, "Bad")
    pool_aggregate(pool=pool)
    assert TaskResult.objects.get(task=first).answers == 2
    Answer.objects.filter(task=first, worker=w2).update(status=AnswerStatus.REJECTED)
    Answer.objects.filter(pk=only.pk).update(status=AnswerStatus.REJECTED)
    pool_aggregate(pool=pool)
    result = TaskResult.objects.get(task=first)
    assert (result.label, result.confidence, result.answers) == ("OK", 1.0, 1)
    assert not TaskResult.objects.filter(task=second).exists()
    assert not WorkerConfusion.objects.filter(pool=pool, worker=w2).exists()  # nothing of theirs counts now


def test_copy_reads_every_answer_that_counts_and_writes_the_results():
    pool, _, _ = adversarial_pool()
    labels = list(pool.labels)
    Answer.objects.filter(pk=Answer.objects.filter(pool=pool).first().pk).update(status=AnswerStatus.REJECTED)
    counting = (
        Answer.objects.filter(pool=pool, label__in=labels)
        .exclude(status=AnswerStatus.REJECTED)
        .values_list("task_id", "worker_id", "label")
    )
    expected = sorted((t, w, labels.index(name)) for t, w, name in counting)
    by_copy = loading._answers_by_copy(pool_id=pool.pk, labels=labels)
    assert expected and sorted(zip(*(a.tolist() for a in by_copy), strict=True)) == expected
    tasks = regular_tasks(pool)[:1]
    now = timezone.now()
    loading._results_by_copy(
        pool=pool,
        method="mv",
        now=now,
        as_of=now,
        task_id=np.array([t.pk for t in tasks]),
        label=np.array([1]),
        confidence=np.array([0.75]),
        raw_confidence=np.array([0.96]),
        answers=np.array([3]),
    )
    rows = list(
        TaskResult.objects.filter(pool=pool).values_list(
            "task_id", "label", "confidence", "raw_confidence", "answers"
        )
    )
    assert rows == [(tasks[0].pk, "Bad", 0.75, 0.96, 3)]


def test_answers_ask_for_one_debounced_run_and_the_run_clears_it(broker, django_capture_on_commit_callbacks):
    pool = open_pool(tasks=5, overlap=2, golden_rate=0.2)
    workers = [WorkerFactory(), WorkerFactory()]
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for task in regular_tasks(pool)[:3]:
            for worker in workers:
                answer(worker, task, "OK")
    # Six answers, one message, delayed by the debounce.
    assert sent(broker) == [(pool.pk, DEBOUNCE_SECONDS * 1000)]
    state = PoolAggregationState.objects.get(pool=pool)
    debounce = timedelta(seconds=DEBOUNCE_SECONDS)
    assert state.due_at is not None and before + debounce <= state.due_at <= timezone.now() + debounce

    run = pool_aggregate_when_due(pool_id=pool.pk)
    assert run is not None and run.answers == 6 and run.trigger == "answers"
    state.refresh_from_db()
    assert state.due_at is None and state.running_until is None and state.results_as_of == run.started_at
    assert pool_aggregate_when_due(pool_id=pool.pk) is None  # a duplicate message finds nothing due

    broker.flush_all()
    with django_capture_on_commit_callbacks(execute=True):
        answer(workers[0], regular_tasks(pool)[3], "Bad")
    assert sent(broker) == [(pool.pk, DEBOUNCE_SECONDS * 1000)]  # an answer after the run asks again


def test_a_run_never_overlaps_another_and_reschedules_what_came_in_meanwhile(broker):
    pool = open_pool(tasks=2, golden_rate=0.2)
    answer(WorkerFactory(), regular_tasks(pool)[0], "OK")
    assert pool_aggregation_request(pool_id=pool.pk, delay_seconds=0)
    state = PoolAggregationState.objects.get(pool=pool)
    # Another run holds the lease: this message does nothing.
    PoolAggregationState.objects.filter(pool=pool).update(running_until=timezone.now() + timedelta(minutes=5))
    assert pool_aggregate_when_due(pool_id=pool.pk) is None
    # The lease expired (a crashed worker): the run goes ahead; an answer that asked during it is re-sent.
    PoolAggregationState.objects.filter(pool=pool).update(running_until=timezone.now() - timedelta(seconds=1))
    broker.flush_all()
    original = pool_aggregate

    def run_with_an_answer_arriving(**kwargs):
        result = original(**kwargs)
        pool_aggregation_request(pool_id=pool.pk)
        return result

    import quality.services as services

    services.pool_aggregate = run_with_an_answer_arriving
    try:
        assert pool_aggregate_when_due(pool_id=pool.pk) is not None
    finally:
        services.pool_aggregate = original
    state.refresh_from_db()
    assert state.due_at is not None and state.running_until is None
    assert [pool_id for pool_id, _ in sent(broker)] == [
        pool.pk,
        pool.pk,
    ]  # asked during the run, sent after it


def test_completion_asks_for_the_final_run_at_once(broker, django_capture_on_commit_callbacks):
    pool = open_pool(tasks=1, overlap=1, golden_rate=0.2)
    with django_capture_on_commit_callbacks(execute=True):
        answer(WorkerFactory(), regular_tasks(pool)[0], "OK")  # debounced request
    with django_capture_on_commit_callbacks(execute=True):
        from workflows.pools import pool_complete_if_done

        assert pool_complete_if_done(pool_id=pool.pk)
    assert (pool.pk, 0) in sent(broker)
    state = PoolAggregationState.objects.get(pool=pool)
    assert state.due_at is not None and state.due_at <= timezone.now()
    run = pool_aggregate_when_due(pool_id=pool.pk)
    assert run is not None and run.trigger == "pool_end"


def test_catch_up_resends_lost_runs_and_runs_pools_behind_their_answers(broker):
    lost = open_pool(tasks=1, golden_rate=0.2)
    behind = open_pool(tasks=1, golden_rate=0.2)
    fresh = open_pool(tasks=1, golden_rate=0.2)
    draft_like = open_pool(tasks=1, golden_rate=0.2)
    answer(WorkerFactory(), regular_tasks(lost)[0], "OK")
    answer(WorkerFactory(), regular_tasks(behind)[0], "OK")
    answer(WorkerFactory(), regular_tasks(fresh)[0], "OK")
    pool_aggregate(pool=fresh)
    PoolAggregationState.objects.create(pool=lost, due_at=timezone.now() - timedelta(minutes=5))
    broker.flush_all()
    assert aggregations_catch_up() == 2
    assert sorted(pool_id for pool_id, _ in sent(broker)) == sorted([lost.pk, behind.pk])
    assert draft_like.status == PoolStatus.OPEN  # no answers: nothing to do
    # The pool that ended after its last results gets its final run.
    broker.flush_all()
    from workflows.pools import pool_close

    pool_close(pool=fresh)
    assert aggregations_catch_up() == 2  # fresh (closed after its results) and lost (still overdue)
    assert fresh.pk in [pool_id for pool_id, _ in sent(broker)]


def test_a_run_keeps_a_bounded_history():
    pool = open_pool(tasks=1, golden_rate=0.2)
    answer(WorkerFactory(), regular_tasks(pool)[0], "OK")
    from quality import services

    saved = services.RUNS_KEPT_PER_POOL
    services.RUNS_KEPT_PER_POOL = 3
    try:
        for _ in range(5):
            pool_aggregate(pool=pool)
    finally:
        services.RUNS_KEPT_PER_POOL = saved
    assert AggregationRun.objects.filter(pool=pool).count() == 3
