"""Real concurrency on PostgreSQL: many threads, each with its own connection, claiming and submitting at once."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from fairlabel.errors import ServiceError
from payouts.checks import ledger_problems
from tasks.models import Answer, Task
from tasks.services import assignment_next, assignment_submit, pool_open
from tests.factories import PoolFactory, TaskFactory, WorkerFactory, fund

pytestmark = pytest.mark.django_db(transaction=True)


def _work_until_empty(worker, errors, barrier):
    try:
        barrier.wait()
        while True:
            assignment = assignment_next(worker=worker)
            if assignment is None:
                return
            try:
                assignment_submit(worker=worker, assignment_id=assignment.pk, label="OK")
            except ServiceError as exc:
                errors.append(exc.error_code)
    except Exception as exc:  # surfaced by the assertion below
        errors.append(repr(exc))
    finally:
        connection.close()


def test_overlap_is_exact_and_no_worker_repeats_under_concurrent_claims():
    pool = PoolFactory(overlap=3, reward=Decimal("0.01"), golden_rate=0.1)
    TaskFactory.create_batch(40, pool=pool)
    for i in range(6):
        TaskFactory(pool=pool, golden_label="OK", data={"text": f"g{i}"})
    fund(pool.requester, "100")
    pool_open(pool=pool)
    workers = WorkerFactory.create_batch(16)
    errors: list[str] = []
    barrier = threading.Barrier(len(workers))
    threads = [threading.Thread(target=_work_until_empty, args=(w, errors, barrier)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    regular = Task.objects.filter(pool=pool, golden_label__isnull=True)
    assert sorted(set(regular.values_list("answers_count", flat=True))) == [3]
    per_task = Counter(Answer.objects.filter(pool=pool, is_golden=False).values_list("task_id", flat=True))
    assert set(per_task.values()) == {3} and len(per_task) == 40
    pairs = list(Answer.objects.values_list("task_id", "worker_id"))
    assert len(pairs) == len(set(pairs)), "a worker answered a task twice"
    assert ledger_problems() == []
