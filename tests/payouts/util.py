"""Helpers for the payouts tests: open pools, answer them, and give workers money to cash out."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import User
from payouts.selectors import balance_for_user
from tasks.models import Answer, Pool
from tests.factories import open_pool
from workflows.assignments import assignment_next, assignment_submit


def submit(*, pool: Pool, worker: User, label: str = "OK") -> Answer:
    assignment = assignment_next(worker=worker, pool_id=pool.pk)
    assert assignment is not None, "no task left for this worker"
    return assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)


def earn(worker: User, amount: str) -> None:
    """Give the worker `amount` available, the way workers get money: one accepted answer paying it."""
    pool = open_pool(tasks=1, reward=amount, fund_amount=str(Decimal(amount) * 2))
    submit(pool=pool, worker=worker)


def available(user: User) -> Decimal:
    return balance_for_user(user=user).available


def pending(user: User) -> Decimal:
    return balance_for_user(user=user).reserved
