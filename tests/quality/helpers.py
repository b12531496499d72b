"""Shared set-up for the quality tests: open pools and answers submitted through the real submit service."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from accounts.models import User
from tasks.models import Answer, Assignment, Pool, Task, WorkerPoolStats
from workflows.assignments import assignment_submit


def claim(worker: User, task: Task, *, seconds_ago: float = 5.0) -> Assignment:
    """What a claim leaves behind for this task (a taken place, the stats row), without the claim's choice."""
    now = timezone.now()
    golden = task.golden_label is not None
    WorkerPoolStats.objects.get_or_create(worker=worker, pool=task.pool)
    if golden:
        # The claim takes a paid golden slot when one is left (the tests answer more golden items than
        # the reservation's golden share; the rewards still come out of the same reservation).
        Pool.objects.filter(pk=task.pool_id, golden_slots_left__gt=0).update(
            golden_slots_left=F("golden_slots_left") - 1
        )
    else:
        Task.objects.filter(pk=task.pk).update(remaining=F("remaining") - 1)
    return Assignment.objects.create(
        task=task,
        pool=task.pool,
        worker=worker,
        is_golden=golden,
        created_at=now - timedelta(seconds=seconds_ago),
        expires_at=now + timedelta(minutes=10),
    )


def answer(worker: User, task: Task, label: str, *, seconds: float = 5.0) -> Answer:
    """Claim `task` for `worker` and submit `label` through tasks.services.assignment_submit."""
    assignment = claim(worker, task, seconds_ago=seconds)
    return assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)


def golden_tasks(pool: Pool) -> list[Task]:
    return list(Task.objects.filter(pool=pool, golden_label__isnull=False).order_by("id"))


def regular_tasks(pool: Pool) -> list[Task]:
    return list(Task.objects.filter(pool=pool, golden_label__isnull=True).order_by("id"))


def unseen_golden(pool: Pool, worker: User) -> Task:
    """A golden task the worker has not met (an API claim in the test may have taken one)."""
    task = (
        Task.objects.filter(pool=pool, golden_label__isnull=False)
        .exclude(assignments__worker=worker)
        .order_by("id")
        .first()
    )
    assert task is not None, "the test pool needs more golden items"
    return task
