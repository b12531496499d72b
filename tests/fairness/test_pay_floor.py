"""The pay floor: measured pay, leaving the feed below it, the reward that clears it, raising it, top-ups."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fairness import pay
from fairness.models import AuditAction, AuditLog, PoolTopUp
from fairness.services import pool_pay_measure, pools_pay_refresh
from payouts.ledger_invariants import ledger_problems
from payouts.models import LedgerTransaction, TransactionKind
from payouts.selectors import balance_for_user
from tests.factories import WorkerFactory, open_pool
from tests.fairness.util import answer, answers
from workflows.feed import feed_for_worker, pools_open_for_worker
from workflows.pools import pool_close, pool_set_reward

pytestmark = pytest.mark.django_db


def test_the_arithmetic():
    # 0.01 per answer at a median of 9 s is 4.00 per hour; 8.00/h needs 0.02.
    assert pay.hourly_pay(reward=Decimal("0.01"), median_ms=9000) == Decimal("4.00")
    assert pay.floor_reward(median_ms=9000) == Decimal("0.0200")
    # Rounded up to 0.0001: 8 x 7 s / 3600 = 0.015555… → 0.0156, which does clear the floor.
    assert pay.floor_reward(median_ms=7000) == Decimal("0.0156")
    assert pay.hourly_pay(reward=Decimal("0.0156"), median_ms=7000) >= Decimal("8.00")
    assert pay.median([5, 1, 3]) == 3 and pay.median([1, 2, 3, 4]) == 2
    assert not pay.is_below_floor(reward=Decimal("0.01"), median_ms=9000, answers=19)
    assert pay.is_below_floor(reward=Decimal("0.01"), median_ms=9000, answers=20)


def test_pool_leaves_the_feed_after_20_slow_answers_and_raising_the_reward_brings_it_back(settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=40, reward="0.01")
    answers(pool=pool, count=19, seconds=9)
    pools_pay_refresh()
    newcomer = WorkerFactory()
    assert [item.pool for item in feed_for_worker(worker=newcomer)] == [pool]  # 19 answers: not judged yet

    answers(pool=pool, count=1, seconds=9)
    pools_pay_refresh()
    assert pool.pay.below_floor and pool.pay.effective_hourly_pay == Decimal("4.00")
    assert pool.pay.floor_reward == Decimal("0.0200")
    assert feed_for_worker(worker=newcomer) == [] and pools_open_for_worker(worker=newcomer) == []
    told = AuditLog.objects.get(action=AuditAction.POOL_BELOW_FLOOR, pool=pool)
    assert "0.02" in told.summary and "4.00/h" in told.summary

    before = balance_for_user(user=pool.requester).available
    pool_set_reward(pool=pool, reward=Decimal("0.02"))
    pool.pay.refresh_from_db()
    assert not pool.pay.below_floor
    (item,) = feed_for_worker(worker=newcomer)
    assert item.fairness.effective_hourly_pay == Decimal("8.00") and item.fairness.pay_class == "ok"
    # 20 places still unpaid, each now costing 0.022 instead of 0.011 (the reward plus 10% fee).
    assert before - balance_for_user(user=pool.requester).available == Decimal("0.22")
    assert ledger_problems() == []


def test_raising_the_reward_without_the_money_is_refused_with_402():
    pool = open_pool(tasks=10, reward="0.01", fund_amount="0.11")  # exactly the cost of opening
    from fairlabel.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        pool_set_reward(pool=pool, reward=Decimal("0.05"))
    assert refused.value.status_code == 402 and "0.44" in refused.value.message
    pool.refresh_from_db()
    assert pool.reward == Decimal("0.01")


def test_a_running_pools_reward_cannot_go_down():
    pool = open_pool(tasks=5, reward="0.05")
    from fairlabel.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        pool_set_reward(pool=pool, reward=Decimal("0.04"))
    assert refused.value.status_code == 409


def test_closing_an_under_floor_pool_tops_workers_up_from_the_reservation(settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=60, reward="0.01")
    slow, fast = WorkerFactory(), WorkerFactory()
    for _ in range(10):
        answer(pool=pool, worker=slow, seconds=18)  # 2.00/h
    for _ in range(10):
        answer(pool=pool, worker=fast, seconds=3)  # 12.00/h: above the floor on their own
    median_ms = pool_pay_measure(pool=pool).median_ms
    assert median_ms == 10500  # (3 + 18) / 2 s
    slow_before = balance_for_user(user=slow).available
    pool_close(pool=pool)
    # slow: 10 answers x 18 s (under the 31.5 s cap) = 180 s; 8.00 x 180 / 3600 = 0.40, minus 0.10 paid.
    assert balance_for_user(user=slow).available - slow_before == Decimal("0.30")
    assert balance_for_user(user=fast).available == Decimal("0.10")
    top_up = PoolTopUp.objects.get(pool=pool)
    assert top_up.paid == top_up.owed == Decimal("0.30") and top_up.workers == 1
    txn = LedgerTransaction.objects.get(kind=TransactionKind.TOP_UP)
    assert txn.idempotency_key == f"top_up:{pool.pk}:{slow.pk}"
    assert ledger_problems() == []
    # The rest of the reservation went back to the requester after the top-up.
    assert balance_for_user(user=pool.requester).reserved == Decimal(0)


def test_top_up_is_pro_rata_when_the_reservation_and_the_requester_are_short(settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=40, reward="0.01", fund_amount="0.44")  # exactly the 40 places
    slow, fast = WorkerFactory(), WorkerFactory()
    for _ in range(10):
        answer(pool=pool, worker=slow, seconds=18)
    for _ in range(10):
        answer(pool=pool, worker=fast, seconds=3)
    pool_close(pool=pool)
    # Owed 0.30, but the 20 unused places held only 20 x 0.011 = 0.22 and the requester holds nothing more.
    top_up = PoolTopUp.objects.get(pool=pool)
    assert top_up.owed == Decimal("0.30") and top_up.paid == Decimal("0.22") and top_up.short
    assert balance_for_user(user=slow).available == Decimal("0.32")
    assert balance_for_user(user=pool.requester).reserved == Decimal(0)
    assert ledger_problems() == []


def test_a_completed_pool_pays_the_top_up_from_the_requester_balance(settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=20, reward="0.01")
    workers = answers(pool=pool, count=20, seconds=36)  # 1.00/h
    from workflows.pools import pool_complete_if_done

    assert pool_complete_if_done(pool_id=pool.pk)
    top_up = PoolTopUp.objects.get(pool=pool)
    # Each was owed 8 x 36 / 3600 - 0.01 = 0.07; the reservation was empty, the requester's balance was not.
    assert top_up.owed == Decimal("1.40") and top_up.paid == Decimal("1.40") and top_up.workers == 20
    assert all(balance_for_user(user=w).available == Decimal("0.08") for w in workers)
    # 100 deposited, 20 answers at 0.011, 1.40 of top-ups.
    assert balance_for_user(user=pool.requester).available == Decimal("100") - Decimal("0.22") - Decimal(
        "1.40"
    )
    assert ledger_problems() == []


def test_a_pool_closed_before_20_answers_owes_no_top_up(settings):
    pool = open_pool(tasks=30, reward="0.01")
    answers(pool=pool, count=5, seconds=60)
    pool_close(pool=pool)
    assert not PoolTopUp.objects.exists()
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.TOP_UP).exists()


def test_golden_mistakes_that_stand_between_a_worker_and_a_restriction():
    from quality.skill import mistakes_to_restriction

    # 9 of 10: (9 + 1) / (10 + k + 2) < 0.7 first at k = 3.
    assert mistakes_to_restriction(answered=10, correct=9, min_skill=0.7, min_golden=5) == 3
    # Not judged yet: at least enough golden answers to reach min_golden.
    assert mistakes_to_restriction(answered=0, correct=0, min_skill=0.7, min_golden=5) == 5
    assert mistakes_to_restriction(answered=4, correct=0, min_skill=0.7, min_golden=5) == 1
    assert mistakes_to_restriction(answered=4, correct=4, min_skill=0, min_golden=5) is None
