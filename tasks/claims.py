"""Claiming work: which task a worker gets next, taken under row locks so no task is over-assigned.

Correct by construction: a claim takes a place from `Task.remaining` under `FOR UPDATE SKIP LOCKED` and the
check constraint keeps it from going below zero; the unique (task, worker) index stops any repeat.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef

from accounts.models import User
from tasks.models import Assignment, AssignmentStatus, Pool, Task, WorkerPoolStats


def golden_due(*, stats: WorkerPoolStats, pool: Pool) -> bool:
    """Is this worker's next task in the pool a golden one?

    The worker's stream is cut into blocks of about 1/golden_rate tasks; each block holds one golden item at
    a position drawn from a hash of (worker, pool, block), so the first block always includes one and the
    position cannot be predicted. If no golden item could be served at its position, the next task tries again.
    """
    if pool.golden_rate <= 0:
        return False
    block_size = max(1, round(1 / pool.golden_rate))
    block, offset = divmod(stats.claimed, block_size)
    if stats.golden_claimed > block:
        return False
    digest = hashlib.blake2b(f"{stats.worker_id}:{pool.pk}:{block}".encode(), digest_size=8).digest()
    return offset >= int.from_bytes(digest, "big") % block_size


def expire_own_stale(*, worker: User, now: Any) -> None:
    """Give back the places of this worker's expired assignments (no sweep needed for that)."""
    stale = list(
        Assignment.objects.select_for_update()
        .filter(worker=worker, status=AssignmentStatus.ACTIVE, expires_at__lte=now)
        .only("id", "task_id", "pool_id", "is_golden")
    )
    for assignment in stale:
        expire(assignment=assignment)


def expire(*, assignment: Assignment) -> None:
    """Mark a locked, active, expired assignment expired and return its place."""
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.EXPIRED)
    if assignment.is_golden:
        Pool.objects.filter(pk=assignment.pool_id).update(golden_slots_left=F("golden_slots_left") + 1)
    else:
        Task.objects.filter(pk=assignment.task_id).update(remaining=F("remaining") + 1)


def _claim_golden(*, pool: Pool, worker: User, now: Any) -> Assignment | None:
    seen = Assignment.objects.filter(task=OuterRef("pk"), worker=worker)
    task = (
        Task.objects.filter(pool=pool, golden_label__isnull=False)
        .filter(~Exists(seen))
        .order_by("answers_count", "id")
        .only("id")
        .first()
    )
    if task is None:
        return None
    if not Pool.objects.filter(pk=pool.pk, golden_slots_left__gt=0).update(
        golden_slots_left=F("golden_slots_left") - 1
    ):
        return None
    return Assignment.objects.create(
        task=task,
        pool=pool,
        worker=worker,
        is_golden=True,
        created_at=now,
        expires_at=now + timedelta(seconds=pool.assignment_ttl),
    )


def _claim_regular(*, pool: Pool, worker: User, now: Any) -> Assignment | None:
    expires_at = now + timedelta(seconds=pool.assignment_ttl)
    # First a place left behind by an expired assignment: that task is already under way.
    seen_task = Assignment.objects.filter(task=OuterRef("task_id"), worker=worker)
    expired = (
        Assignment.objects.select_for_update(skip_locked=True)
        .filter(pool=pool, status=AssignmentStatus.ACTIVE, is_golden=False, expires_at__lte=now)
        .filter(~Exists(seen_task))
        .order_by("expires_at")
        .only("id", "task_id")
        .first()
    )
    if expired is not None:
        Assignment.objects.filter(pk=expired.pk).update(status=AssignmentStatus.EXPIRED)
        return Assignment.objects.create(
            task_id=expired.task_id, pool=pool, worker=worker, created_at=now, expires_at=expires_at
        )
    seen = Assignment.objects.filter(task=OuterRef("pk"), worker=worker)
    task = (
        Task.objects.select_for_update(skip_locked=True)
        .filter(pool=pool, remaining__gt=0, golden_label__isnull=True)
        .filter(~Exists(seen))
        .order_by("remaining", "id")
        .only("id")
        .first()
    )
    if task is None:
        return None
    Task.objects.filter(pk=task.pk).update(remaining=F("remaining") - 1)
    return Assignment.objects.create(
        task=task, pool=pool, worker=worker, created_at=now, expires_at=expires_at
    )


def claim_in_pool(*, pool: Pool, worker: User, now: Any) -> Assignment | None:
    stats, _ = WorkerPoolStats.objects.get_or_create(worker=worker, pool=pool)
    stats = WorkerPoolStats.objects.select_for_update().get(pk=stats.pk)
    assignment = None
    if golden_due(stats=stats, pool=pool):
        assignment = _claim_golden(pool=pool, worker=worker, now=now)
    if assignment is None:
        assignment = _claim_regular(pool=pool, worker=worker, now=now)
    if assignment is None:
        return None
    WorkerPoolStats.objects.filter(pk=stats.pk).update(
        claimed=F("claimed") + 1, golden_claimed=F("golden_claimed") + int(assignment.is_golden)
    )
    return assignment
