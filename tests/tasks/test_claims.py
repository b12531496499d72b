"""What a worker gets next, and why no claim can give a task one answer too many."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from fairlabel.errors import ServiceError
from tasks.models import Assignment, AssignmentStatus, Pool, Task, WorkerPoolStats
from tasks.services import assignment_skip, assignments_expire_stale
from tests.factories import PoolFactory, TaskFactory, WorkerFactory, open_pool
from workflows.assignments import assignment_next, assignment_submit, assignment_submit_and_next
from workflows.pools import pool_close

pytestmark = pytest.mark.django_db


def expire_now(assignment: Assignment) -> None:
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def places_add_up(pool: Pool) -> bool:
    """Every regular task: free places + active + submitted assignments = max_answers."""
    for task in Task.objects.filter(pool=pool, golden_label__isnull=True):
        live = Assignment.objects.filter(
            task=task, status__in=[AssignmentStatus.ACTIVE, AssignmentStatus.SUBMITTED]
        ).count()
        if task.remaining + live != task.max_answers:
            return False
    return True


def test_the_returned_assignment_is_what_the_database_holds(worker: User) -> None:
    pool = open_pool(tasks=2)
    got = assignment_next(worker=worker)
    assert got is not None
    stored = Assignment.objects.select_related("task", "pool").get(pk=got.pk)
    assert (got.task_id, got.pool_id, got.worker_id, got.status, got.is_golden) == (
        stored.task_id,
        pool.pk,
        worker.pk,
        AssignmentStatus.ACTIVE,
        False,
    )
    assert got.expires_at == stored.expires_at
    assert got.task.data == stored.task.data and got.pool.name == pool.name
    assert stored.expires_at - stored.created_at == timedelta(seconds=pool.assignment_ttl)
    assert WorkerPoolStats.objects.get(worker=worker, pool=pool).claimed == 1
    assert assignment_next(worker=worker).pk == got.pk, "the task in hand is returned until it is finished"


def test_open_pools_by_priority_and_only_open_ones(worker: User) -> None:
    low = open_pool(tasks=1, priority=10)
    high = open_pool(tasks=1, priority=90)
    draft = PoolFactory(priority=100)
    TaskFactory(pool=draft)
    first = assignment_next(worker=worker)
    assert first is not None and first.pool_id == high.pk
    assignment_submit(worker=worker, assignment_id=first.pk, answer="OK")
    second = assignment_next(worker=worker)
    assert second is not None and second.pool_id == low.pk
    assignment_submit(worker=worker, assignment_id=second.pk, answer="OK")
    assert assignment_next(worker=worker) is None


def test_a_named_pool_is_the_only_one_claimed_from(worker: User) -> None:
    open_pool(tasks=1, priority=90)
    low = open_pool(tasks=1, priority=10)
    got = assignment_next(worker=worker, pool_id=low.pk)
    assert got is not None and got.pool_id == low.pk


def test_tasks_under_way_come_before_fresh_ones() -> None:
    pool = open_pool(tasks=4, overlap=3)
    a, b, c = WorkerFactory.create_batch(3)
    first = assignment_next(worker=a)
    assert first is not None
    # b and c join the task a started (fewest places left first) instead of starting new ones.
    assert assignment_next(worker=b).task_id == first.task_id
    assert assignment_next(worker=c).task_id == first.task_id
    assert Task.objects.get(pk=first.task_id).remaining == 0
    assert places_add_up(pool)


def test_skipped_and_answered_tasks_never_come_back(worker: User) -> None:
    open_pool(tasks=2, overlap=2)
    first = assignment_next(worker=worker)
    assignment_skip(worker=worker, assignment_id=first.pk)
    second = assignment_next(worker=worker)
    assert second.task_id != first.task_id
    assignment_submit(worker=worker, assignment_id=second.pk, answer="OK")
    assert assignment_next(worker=worker) is None
    # The skipped place went back to the pool for someone else.
    assert Task.objects.get(pk=first.task_id).remaining == 2


def test_golden_items_are_mixed_in_at_the_rate_from_the_first_block_and_never_repeat() -> None:
    pool = open_pool(tasks=60, golden=6, golden_rate=0.2, overlap=1)
    for worker in WorkerFactory.create_batch(3):
        served = []
        for _ in range(25):
            got = assignment_next(worker=worker)
            assert got is not None
            served.append((got.is_golden, got.task_id))
            assignment_submit(worker=worker, assignment_id=got.pk, answer="OK")
        assert any(golden for golden, _ in served[:5]), "the first block of 1/golden_rate holds a golden item"
        golden_tasks = [task for golden, task in served if golden]
        assert len(golden_tasks) == 5, "one golden item per block of five"
        assert len(set(golden_tasks)) == len(golden_tasks), "no golden item twice"
        stored = list(
            Assignment.objects.filter(worker=worker).order_by("id").values_list("is_golden", "task_id")
        )
        assert stored == served
    assert Task.objects.filter(pool=pool, golden_label__isnull=False, answers_count__gt=0).count() == 6


def test_workers_who_come_to_a_golden_item_at_the_same_time_do_not_all_get_the_same_one() -> None:
    # Golden counts move only when answers arrive: one shared order would hand every worker claiming in the
    # same seconds the same item, and their submits would queue on its row.
    open_pool(tasks=100, golden=10, golden_rate=0.2, overlap=3)
    first_golden = []
    for worker in WorkerFactory.create_batch(8):
        while True:
            got = assignment_next(worker=worker)
            assert got is not None
            if got.is_golden:  # held, not answered: the counts stay where they were for everyone
                first_golden.append(got.task_id)
                break
            assignment_submit(worker=worker, assignment_id=got.pk, answer="OK")
    assert len(set(first_golden)) > 1


def test_when_golden_items_run_out_regular_work_continues(worker: User) -> None:
    open_pool(tasks=10, golden=1, golden_rate=0.5)
    kinds = []
    while (got := assignment_next(worker=worker)) is not None:
        kinds.append(got.is_golden)
        assignment_submit(worker=worker, assignment_id=got.pk, answer="OK")
    assert kinds.count(True) == 1 and kinds.count(False) == 10


def test_golden_answers_stay_within_what_the_pool_paid_for() -> None:
    pool = open_pool(tasks=1, golden=10, golden_rate=0.5)
    assert pool.golden_slots_left == 1
    # Each worker works until nothing is left, so golden items come due whatever their hashed positions.
    golden = 0
    for w in WorkerFactory.create_batch(4):
        while (got := assignment_next(worker=w)) is not None:
            golden += got.is_golden
            assignment_submit(worker=w, assignment_id=got.pk, answer="OK")
    assert golden == 1
    assert Pool.objects.get(pk=pool.pk).golden_slots_left == 0


def test_an_expired_place_goes_to_the_next_claimer_without_a_sweep(worker: User) -> None:
    pool = open_pool(tasks=1, overlap=1)
    late = assignment_next(worker=worker)
    expire_now(late)
    other = WorkerFactory()
    taken = assignment_next(worker=other)
    assert taken is not None and taken.task_id == late.task_id
    assert Assignment.objects.get(pk=late.pk).status == AssignmentStatus.EXPIRED
    assert Task.objects.get(pk=late.task_id).remaining == 0, "the place moved, none was added"
    with pytest.raises(ServiceError) as refused:
        assignment_submit(worker=worker, assignment_id=late.pk, answer="OK")
    assert refused.value.status_code == 410
    assignment_submit(worker=other, assignment_id=taken.pk, answer="OK")
    assert places_add_up(pool)


def test_the_workers_own_expired_assignment_is_given_back_before_they_claim(worker: User) -> None:
    pool = open_pool(tasks=2, golden=1, golden_rate=0.5, overlap=1)
    slots = pool.golden_slots_left
    first = assignment_next(worker=worker)
    expire_now(first)
    second = assignment_next(worker=worker)
    assert second is not None and second.pk != first.pk and second.task_id != first.task_id
    assert Assignment.objects.get(pk=first.pk).status == AssignmentStatus.EXPIRED
    pool.refresh_from_db()
    assert pool.golden_slots_left == slots - int(second.is_golden), "a golden slot held by `first` came back"
    assert places_add_up(pool)


def test_submit_and_next_stays_in_the_pool_then_falls_back(worker: User) -> None:
    low = open_pool(tasks=2, priority=10)
    high = open_pool(tasks=1, priority=90)
    first = assignment_next(worker=worker, pool_id=low.pk)
    answer, following = assignment_submit_and_next(worker=worker, assignment_id=first.pk, answer="OK")
    assert answer.assignment_id == first.pk
    assert following is not None and following.pool_id == low.pk, "same pool first, despite the priority"
    answer, following = assignment_submit_and_next(worker=worker, assignment_id=following.pk, answer="Bad")
    assert answer.label == "Bad"
    assert following is not None and following.pool_id == high.pk, "then any pool"
    answer, following = assignment_submit_and_next(worker=worker, assignment_id=following.pk, answer="OK")
    assert following is None


def test_submit_and_next_refuses_an_expired_assignment(worker: User) -> None:
    open_pool(tasks=2)
    first = assignment_next(worker=worker)
    expire_now(first)
    with pytest.raises(ServiceError) as refused:
        assignment_submit_and_next(worker=worker, assignment_id=first.pk, answer="OK")
    assert refused.value.error_code == "expired"


def test_a_closed_pool_serves_nothing(worker: User) -> None:
    pool = open_pool(tasks=2)
    pool_close(pool=pool)
    assert assignment_next(worker=worker) is None


def test_the_tidy_job_expires_what_nobody_reclaimed() -> None:
    pool = open_pool(tasks=3, golden=2, golden_rate=0.5, overlap=1)
    held = [assignment_next(worker=w) for w in WorkerFactory.create_batch(3)]
    for assignment in held:
        expire_now(assignment)
    slots_before = Pool.objects.get(pk=pool.pk).golden_slots_left
    assert assignments_expire_stale(batch=2) == 3, "in short transactions until none is left"
    assert assignments_expire_stale() == 0, "safe to run again"
    assert not Assignment.objects.filter(status=AssignmentStatus.ACTIVE).exists()
    assert Pool.objects.get(pk=pool.pk).golden_slots_left == slots_before + sum(a.is_golden for a in held)
    assert places_add_up(pool)


def test_a_claim_costs_the_same_few_queries_whatever_the_pool_size(worker: User) -> None:
    small = open_pool(tasks=5, golden=2, golden_rate=0.1, overlap=3, fund_amount="1000")
    big = open_pool(tasks=500, golden=2, golden_rate=0.1, overlap=3, fund_amount="1000")
    counts = []
    for pool in (small, big):
        with CaptureQueriesContext(connection) as queries:
            got = assignment_next(worker=worker, pool_id=pool.pk)
        assert got is not None
        control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
        counts.append(sum(not q["sql"].startswith(control) for q in queries.captured_queries))
        assignment_submit(worker=worker, assignment_id=got.pk, answer="OK")
    # The held check, the pools the worker may take from (with the worker's counters in each), the claim.
    assert counts == [3, 3]


# The database itself refuses the states a claim must never reach, whatever code runs.


def test_the_database_refuses_a_negative_place_count() -> None:
    task = TaskFactory(pool=PoolFactory(overlap=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(remaining=-1)


def test_the_database_refuses_a_worker_twice_on_a_task(worker: User) -> None:
    task = TaskFactory(pool=PoolFactory(overlap=2))
    now = timezone.now()
    Assignment.objects.create(
        task=task,
        pool=task.pool,
        worker=worker,
        status=AssignmentStatus.SKIPPED,
        created_at=now,
        expires_at=now,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(task=task, pool=task.pool, worker=worker, created_at=now, expires_at=now)


def test_the_database_refuses_two_tasks_in_hand(worker: User) -> None:
    pool = PoolFactory(overlap=1)
    first, second = TaskFactory.create_batch(2, pool=pool)
    now = timezone.now()
    Assignment.objects.create(task=first, pool=pool, worker=worker, created_at=now, expires_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(task=second, pool=pool, worker=worker, created_at=now, expires_at=now)


def test_ping_is_a_trivial_authenticated_read(api: Any, worker: User) -> None:
    response = api(worker).get("/api/v1/ping/")
    assert response.status_code == 200 and response.json() == {"ok": True, "user": worker.username}
    assert api(None).get("/api/v1/ping/").status_code == 401
