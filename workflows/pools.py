"""A pool's life where it touches money, quality and fair work: opening, adding tasks, reward raises, the end."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db import transaction

from fairness.services import pool_floor_top_up, pool_pay_measure
from payouts.services import pool_reservation_release, pool_reserve, pool_reserve_for_reward
from quality import services as quality_services
from tasks import services as tasks_services
from tasks.importing import TaskRow
from tasks.models import Pool, PoolStatus


@transaction.atomic(durable=True)
def pool_open(*, pool: Pool) -> Pool:
    """Open a draft pool, reserving the cost of every answer it will pay for (402 if the money is short)."""
    return pool_open_within(pool=pool)


def pool_open_within(*, pool: Pool) -> Pool:
    """`pool_open` inside a use case's own transaction (loading the demo)."""
    pool, regular_slots = tasks_services.pool_regular_slots_to_open(pool=pool)
    golden_slots = pool_reserve(pool=pool, regular_slots=regular_slots)
    return tasks_services.pool_mark_open(pool=pool, golden_slots=golden_slots)


def _reserve_added(added: tasks_services.TasksAdded) -> None:
    if added.pool.status == PoolStatus.OPEN and added.regular_slots:
        golden_slots = pool_reserve(pool=added.pool, regular_slots=added.regular_slots)
        tasks_services.pool_golden_slots_add(pool=added.pool, golden_slots=golden_slots)


@transaction.atomic(durable=True)
def tasks_add(*, pool: Pool, rows: Iterable[TaskRow]) -> int:
    """Add tasks all or nothing; in an open pool their cost is reserved in the same transaction."""
    return tasks_add_within(pool=pool, rows=rows)


def tasks_add_within(*, pool: Pool, rows: Iterable[TaskRow]) -> int:
    """`tasks_add` inside a use case's own transaction (loading the demo)."""
    added = tasks_services.tasks_add(pool=pool, rows=rows)
    _reserve_added(added)
    return added.created


def tasks_import(
    *,
    pool_id: int,
    rows: Iterable[TaskRow],
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 20_000,
) -> int:
    """A large upload (COPY) and the reservation of its cost, inside the import job's transaction."""
    added = tasks_services.tasks_import(
        pool_id=pool_id, rows=rows, on_progress=on_progress, progress_every=progress_every
    )
    _reserve_added(added)
    return added.created


def _end(*, pool: Pool, memo: str) -> None:
    # Workers paid under the floor are topped up from the reservation before the rest goes back.
    pool_floor_top_up(pool=pool)
    pool_reservation_release(pool=pool, memo=memo)
    quality_services.pool_ended(pool_id=pool.pk)


@transaction.atomic(durable=True)
def pool_close(*, pool: Pool) -> Pool:
    """Stop serving the pool and return whatever its reservation still holds to the requester."""
    closed = tasks_services.pool_mark_closed(pool=pool)
    if closed is None:
        return Pool.objects.get(pk=pool.pk)
    _end(pool=closed, memo="pool closed: unused reservation returned")
    return closed


@transaction.atomic(durable=True)
def pool_complete_if_done(*, pool_id: int) -> bool:
    """Mark an open pool completed once every regular task has all its answers; safe to run any number of times."""
    completed = tasks_services.pool_mark_completed_if_done(pool_id=pool_id)
    if completed is None:
        return False
    _end(pool=completed, memo="pool completed: unused reservation returned")
    return True


@transaction.atomic(durable=True)
def pool_set_reward(*, pool: Pool, reward: Decimal) -> Pool:
    """Change the reward per answer. In a running pool it can only go up, and the extra cost of every place
    still unpaid (free places, golden places, tasks in hand) is reserved now, or the change is refused (402).

    Raising the reward is how a requester brings a pool below the pay floor back to the feed: the pay is
    re-measured in the same transaction.
    """
    pool = tasks_services.pool_reward_change_allowed(pool=pool, reward=reward)
    if pool.status != PoolStatus.DRAFT and reward > pool.reward:
        pool_reserve_for_reward(
            pool=pool, reward=reward, unpaid_places=tasks_services.pool_unpaid_places(pool=pool)
        )
    pool = tasks_services.pool_reward_save(pool=pool, reward=reward)
    if pool.status != PoolStatus.DRAFT:
        pool_pay_measure(pool=pool)
    return pool
