"""Helpers for the payouts tests: open pools, answer them, and give workers money to cash out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from accounts.models import User
from payouts.selectors import balance_for_user
from tasks.models import Answer, Pool
from tests.factories import PoolFactory, TaskFactory, fund
from workflows.assignments import assignment_next, assignment_submit
from workflows.pools import pool_open


def open_pool(
    *,
    tasks: int = 3,
    reward: str = "0.10",
    overlap: int = 1,
    acceptance: str = "instant",
    review_hours: int = 24,
    fund_amount: str = "100",
    golden: int = 0,
    golden_rate: float = 0.0,
    **extra: Any,
) -> Pool:
    pool = PoolFactory(
        reward=Decimal(reward),
        overlap=overlap,
        acceptance=acceptance,
        review_hours=review_hours,
        golden_rate=golden_rate,
        **extra,
    )
    TaskFactory.create_batch(tasks, pool=pool)
    for i in range(golden):
        TaskFactory(pool=pool, golden_label="OK", data={"text": f"golden {i}"})
    fund(pool.requester, fund_amount)
    return pool_open(pool=pool)


def submit(*, pool: Pool, worker: User, label: str = "OK") -> Answer:
    assignment = assignment_next(worker=worker, pool_id=pool.pk)
    assert assignment is not None, "no task left for this worker"
    return assignment_submit(worker=worker, assignment_id=assignment.pk, label=label)


def earn(worker: User, amount: str) -> None:
    """Give the worker `amount` available, the way workers get money: one accepted answer paying it."""
    pool = open_pool(tasks=1, reward=amount, fund_amount=str(Decimal(amount) * 2))
    submit(pool=pool, worker=worker)


def available(user: User) -> Decimal:
    return balance_for_user(user=user).available


def pending(user: User) -> Decimal:
    return balance_for_user(user=user).reserved
