"""What a worker may take: open pools, less the ones fair work and quality keep them out of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.models import User
from fairness.selectors import PoolFairness, fairness_for_pools, pool_fair_for_worker_sql
from quality.selectors import pool_unrestricted_sql
from tasks.models import Pool
from tasks.selectors import PoolCondition, pools_open_with_counts, pools_tasks_left


def pool_conditions_for_worker(*, now: datetime) -> list[PoolCondition]:
    """Blocks, the pay floor, content opt-ins and the daily cap (fair work), and restrictions (quality)."""
    fair_sql, fair_params = pool_fair_for_worker_sql(now=now)
    return [
        PoolCondition(sql=fair_sql, params=fair_params),
        PoolCondition(sql=pool_unrestricted_sql(), params={}),
    ]


def pools_open_for_worker_with_counts(
    *, worker: User, pool_id: int | None = None, now: datetime | None = None
) -> list[tuple[Pool, tuple[int, int]]]:
    """The one place that decides which pools a worker may take from, with the worker's counts in each."""
    return pools_open_with_counts(
        worker=worker, conditions=pool_conditions_for_worker(now=now or timezone.now()), pool_id=pool_id
    )


def pools_open_for_worker(*, worker: User, pool_id: int | None = None) -> list[Pool]:
    return [pool for pool, _ in pools_open_for_worker_with_counts(worker=worker, pool_id=pool_id)]


@dataclass(frozen=True)
class FeedPool:
    pool: Pool
    tasks_left: int
    hourly_estimate: Decimal | None
    # Pay against the floor, the requester's rating and review speed.
    fairness: PoolFairness | None = None


def feed_for_worker(*, worker: User) -> list[FeedPool]:
    """Open pools with work left for this worker, with an honest pay-per-hour estimate once answers exist.

    The estimate comes from the pool's cached pay measurement (fairness.PoolPay, refreshed by a periodic job),
    so the feed costs the same few queries however many answers its pools hold.
    """
    pools = pools_open_for_worker(worker=worker)
    if not pools:
        return []
    left = pools_tasks_left(pool_ids=[p.pk for p in pools])
    fair = fairness_for_pools(pools=pools)
    feed = [
        FeedPool(
            pool=pool,
            tasks_left=left.get(pool.pk, 0),
            hourly_estimate=fair[pool.pk].effective_hourly_pay,
            fairness=fair[pool.pk],
        )
        for pool in pools
    ]
    return [item for item in feed if item.tasks_left > 0]
