"""Helpers for the fair-work tests: open pools and answers that took a chosen time."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from tasks.models import Answer, Pool
from tests.factories import WorkerFactory
from workflows.assignments import assignment_next, assignment_submit


def answer(*, pool: Pool, worker: User, seconds: float, label: str = "OK") -> Answer:
    """Claim and submit one task of the pool, then record that it took `seconds`."""
    assignment = assignment_next(worker=worker, pool_id=pool.pk)
    assert assignment is not None, "no task left for this worker"
    result = assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)
    Answer.objects.filter(pk=result.pk).update(duration_ms=int(seconds * 1000))
    result.refresh_from_db()
    return result


def answers(*, pool: Pool, count: int, seconds: float, workers: list[Any] | None = None) -> list[Any]:
    """`count` answers spread over `workers` (new ones by default, one answer each), each taking `seconds`."""
    workers = workers or [WorkerFactory() for _ in range(count)]
    for i in range(count):
        answer(pool=pool, worker=workers[i % len(workers)], seconds=seconds)
    return workers
