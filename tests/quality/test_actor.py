"""The aggregation actor on a real dramatiq worker (the stub broker, as `make run` uses in-process): answers
committed by the submit service ask for a run, the worker runs it, the results are stored."""

from __future__ import annotations

import dramatiq
import pytest

from payouts.services import accounts_forget
from quality.models import AggregationRun, PoolAggregationState, TaskResult
from tests.factories import WorkerFactory, open_pool
from tests.quality.helpers import answer, regular_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_thread():
    broker = dramatiq.get_broker()
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    yield broker
    worker.stop()
    broker.flush_all()
    accounts_forget()


def test_committed_answers_are_aggregated_by_the_actor_once_per_debounce(worker_thread, monkeypatch):
    monkeypatch.setattr("quality.services.DEBOUNCE_SECONDS", 1)
    pool = open_pool(tasks=2, overlap=2, golden_rate=0.2, aggregation_method="mv")
    first, second = regular_tasks(pool)
    a, b = WorkerFactory(), WorkerFactory()
    answer(a, first, "OK")
    answer(b, first, "OK")
    answer(a, second, "Bad")
    # Three commits asked for one run, a second later.
    assert PoolAggregationState.objects.get(pool=pool).due_at is not None
    worker_thread.join("default", timeout=30_000)
    results = dict(TaskResult.objects.filter(pool=pool).values_list("task_id", "label"))
    assert results == {first.pk: "OK", second.pk: "Bad"}
    run = AggregationRun.objects.get(pool=pool)
    assert (run.answers, run.tasks, run.trigger) == (3, 2, "answers")
    state = PoolAggregationState.objects.get(pool=pool)
    assert state.due_at is None and state.running_until is None and state.results_as_of == run.started_at
