"""Real concurrency on PostgreSQL: many threads, each with its own connection, claiming and submitting at once.

After every run the tables themselves are checked: no task over its overlap, no worker twice on a task, every place accounted for.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import User
from fairlabel.errors import ServiceError
from payouts.ledger_invariants import ledger_problems
from tasks.models import Answer, Assignment, AssignmentStatus, Pool, PoolStatus, Task
from tests.factories import WorkerFactory, open_pool
from workflows.assignments import assignment_next, assignment_submit, assignment_submit_and_next

pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(target: Callable[..., None], args: list[tuple[Any, ...]]) -> list[str]:
    """Start one thread per argument tuple behind a barrier, so they really race; return what went wrong."""
    errors: list[str] = []
    barrier = threading.Barrier(len(args))

    def run(*a: Any) -> None:
        try:
            barrier.wait()
            target(*a)
        except Exception as exc:  # surfaced by the caller's assertion
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (a deadlock?)"
    return errors


def assert_never_over_assigned(pool: Pool, *, golden_slots_at_open: int) -> None:
    regular = Task.objects.filter(pool=pool, golden_label__isnull=True)
    live = Counter(
        Assignment.objects.filter(
            pool=pool, is_golden=False, status__in=[AssignmentStatus.ACTIVE, AssignmentStatus.SUBMITTED]
        ).values_list("task_id", flat=True)
    )
    answers = Counter(Answer.objects.filter(pool=pool, is_golden=False).values_list("task_id", flat=True))
    for task in regular:
        assert answers[task.pk] == task.answers_count <= task.max_answers, f"task {task.pk} over-answered"
        assert task.remaining + live[task.pk] == task.max_answers, f"task {task.pk}: a place lost or doubled"
    for model in (Assignment, Answer):
        repeated = model.objects.values("task_id", "worker_id").annotate(n=Count("id")).filter(n__gt=1)
        assert not repeated.exists(), f"a worker met a task twice ({model.__name__})"
    golden_live = Assignment.objects.filter(
        pool=pool, is_golden=True, status__in=[AssignmentStatus.ACTIVE, AssignmentStatus.SUBMITTED]
    ).count()
    assert Pool.objects.get(pk=pool.pk).golden_slots_left + golden_live == golden_slots_at_open
    active = Counter(
        Assignment.objects.filter(status=AssignmentStatus.ACTIVE).values_list("worker_id", flat=True)
    )
    assert all(n == 1 for n in active.values()), "a worker holds two tasks"
    assert ledger_problems() == []


def _work_until_empty(worker: User, refused: list[str]) -> None:
    while (assignment := assignment_next(worker=worker)) is not None:
        try:
            assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")
        except ServiceError as exc:
            refused.append(exc.error_code)


def test_overlap_is_exact_and_no_worker_repeats_under_concurrent_claims() -> None:
    pool = open_pool(tasks=40, overlap=3, reward="0.01", golden=6, golden_rate=0.1)
    refused: list[str] = []
    errors = run_at_once(_work_until_empty, [(w, refused) for w in WorkerFactory.create_batch(16)])
    assert errors == [] and refused == []
    regular = Task.objects.filter(pool=pool, golden_label__isnull=True)
    assert sorted(set(regular.values_list("answers_count", flat=True))) == [3]
    assert Answer.objects.filter(pool=pool, is_golden=True).exists()
    assert_never_over_assigned(pool, golden_slots_at_open=pool.golden_slots_left)


def test_expired_places_are_taken_over_exactly_once_while_their_owners_submit_late() -> None:
    pool = open_pool(tasks=12, overlap=2, reward="0.01")
    late_workers = WorkerFactory.create_batch(8)
    late = [assignment_next(worker=w) for w in late_workers]
    Assignment.objects.filter(pk__in=[a.pk for a in late if a]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    refused: list[str] = []

    def late_submit(worker: User, assignment: Assignment) -> None:
        try:
            assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")
        except ServiceError as exc:
            refused.append(exc.error_code)

    claimers = [(w, refused) for w in WorkerFactory.create_batch(8)]
    errors = run_at_once(
        lambda job, *a: job(*a),
        [(late_submit, w, a) for w, a in zip(late_workers, late, strict=True)]
        + [(_work_until_empty, *c) for c in claimers],
    )
    assert errors == []
    assert refused == ["expired"] * len(late), "a late submit is refused with 410 whoever took the place"
    assert sorted(set(Task.objects.filter(pool=pool).values_list("answers_count", flat=True))) == [2]
    assert not Answer.objects.filter(assignment__in=late).exists()
    assert_never_over_assigned(pool, golden_slots_at_open=0)


def test_two_requests_of_one_worker_at_once_get_the_same_assignment() -> None:
    pool = open_pool(tasks=30, overlap=1, reward="0.01")
    worker = WorkerFactory()
    for _ in range(5):
        got: list[int] = []

        def claim(into: list[int] = got) -> None:
            into.append(assignment_next(worker=worker).pk)

        errors = run_at_once(claim, [(), (), ()])
        assert errors == []
        assert len(set(got)) == 1, "every request is handed the one assignment that won"
        assignment_submit(worker=worker, assignment_id=got[0], answer="OK")
    assert Assignment.objects.filter(worker=worker).count() == 5
    assert_never_over_assigned(pool, golden_slots_at_open=0)


def test_submit_and_next_under_contention() -> None:
    pool = open_pool(tasks=30, overlap=3, reward="0.01", golden=4, golden_rate=0.2)

    def chain(worker: User) -> None:
        assignment = assignment_next(worker=worker)
        while assignment is not None:
            _, assignment = assignment_submit_and_next(
                worker=worker, assignment_id=assignment.pk, answer="OK"
            )

    errors = run_at_once(chain, [(w,) for w in WorkerFactory.create_batch(12)])
    assert errors == []
    assert sorted(
        set(Task.objects.filter(pool=pool, golden_label__isnull=True).values_list("answers_count", flat=True))
    ) == [3]
    assert_never_over_assigned(pool, golden_slots_at_open=pool.golden_slots_left)


def test_a_claim_racing_a_pool_close_takes_nothing() -> None:
    pool = open_pool(tasks=3, overlap=1, reward="0.01")
    worker = WorkerFactory()
    locked, claimed = threading.Event(), threading.Event()
    got: list[Assignment | None] = []

    def close_slowly() -> None:
        # What pool_close and pool_pause do first (lock the pool row FOR UPDATE, change its status), held open
        # while a claim arrives.
        with transaction.atomic():
            closing = Pool.objects.select_for_update().get(pk=pool.pk)
            closing.status = PoolStatus.CLOSED
            closing.save(update_fields=["status"])
            locked.set()
            claimed.wait(timeout=0.5)  # the claim is blocked on the pool row, so this times out

    def claim() -> None:
        locked.wait(timeout=10)
        got.append(assignment_next(worker=worker))
        claimed.set()

    errors = run_at_once(lambda job: job(), [(close_slowly,), (claim,)])
    assert errors == []
    assert got == [None], "the claim waited for the close and then saw the pool closed"
    assert not Assignment.objects.filter(pool=pool).exists()
