"""A pool's spent money has one definition, and the API, the dashboard and billing show the same figure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from payouts.selectors import billing_for_requester, pool_reservations
from requester.dashboard import pool_stats
from tasks.models import Pool
from tests.factories import WorkerFactory, open_pool
from tests.fairness.util import answer, answers
from workflows.pools import pool_close, pool_complete_if_done
from workflows.reviews import answer_reject

pytestmark = pytest.mark.django_db


def _figures(api: Any, pool: Pool) -> dict[str, Decimal]:
    billing = billing_for_requester(requester=pool.requester)
    line = next(p for p in billing.pools if p.pool_id == pool.pk)
    return {
        "api": Decimal(api(pool.requester).get(f"/api/v1/pools/{pool.pk}/").json()["budget"]["spent"]),
        "dashboard": pool_stats(pool_ids=[pool.pk])[pool.pk].spent,
        "billing": line.spent,
        "billing breakdown": line.rewards + line.fees + line.top_ups,
        "billing total": billing.spent,
    }


def test_spent_agrees_everywhere_after_a_rejection(api):
    pool = open_pool(tasks=5, reward="0.10", acceptance="review")
    given = [answer(pool=pool, worker=WorkerFactory(), seconds=10) for _ in range(3)]
    answer_reject(requester=pool.requester, answer_id=given[0].pk, reason="Does not match the photo.")
    figures = _figures(api, pool)
    # Two answers kept, each 0.10 plus the 10% fee; the rejected one's reward and fee went back to the pool.
    assert set(figures.values()) == {Decimal("0.22")}, figures


def test_spent_agrees_everywhere_after_a_top_up_from_the_reservation(api, settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=60, reward="0.01")
    slow, fast = WorkerFactory(), WorkerFactory()
    for _ in range(10):
        answer(pool=pool, worker=slow, seconds=18)
        answer(pool=pool, worker=fast, seconds=3)
    pool_close(pool=pool)
    figures = _figures(api, pool)
    # 20 answers at 0.011 and a 0.30 top-up for the slow worker.
    assert set(figures.values()) == {Decimal("0.52")}, figures


def test_spent_agrees_everywhere_after_a_top_up_from_the_requester_balance(api, settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=20, reward="0.01")
    answers(pool=pool, count=20, seconds=36)
    assert pool_complete_if_done(pool_id=pool.pk)
    figures = _figures(api, pool)
    # The reservation was used up; the 1.40 of top-ups came from the requester's balance and still count.
    assert set(figures.values()) == {Decimal("0.22") + Decimal("1.40")}, figures
    assert pool_reservations(pool_ids=[pool.pk])[pool.pk].held == 0
