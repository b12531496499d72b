"""Care around disturbing content, and erasing an account while the ledger stays whole."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import authenticate

from fairlabel.errors import ServiceError
from fairness.models import Appeal, AuditAction, AuditLog, Decision, RequesterRating
from fairness.selectors import care_status
from fairness.services import account_erase, appeal_file, care_preferences_save, rating_save
from payouts.ledger_invariants import ledger_problems
from payouts.models import Entry
from payouts.services import withdrawal_create, withdrawal_pay
from tasks.models import Answer
from tasks.services import assignment_skip
from tests.factories import PASSWORD, WorkerFactory, open_pool
from tests.fairness.util import answer, answers
from workflows.assignments import assignment_next
from workflows.feed import feed_for_worker, pools_open_for_worker
from workflows.reviews import answer_reject

pytestmark = pytest.mark.django_db


def test_warned_pools_are_hidden_until_the_worker_opts_in():
    plain = open_pool(tasks=3, reward="0.01", name="Plain")
    gory = open_pool(tasks=3, reward="0.01", name="Gory", content_warning="violence")
    worker = WorkerFactory()
    assert pools_open_for_worker(worker=worker) == [plain]
    care_preferences_save(worker=worker, categories=["hate"], daily_cap=10)
    assert pools_open_for_worker(worker=worker) == [plain]
    care_preferences_save(worker=worker, categories=["hate", "violence"], daily_cap=10)
    assert set(pools_open_for_worker(worker=worker)) == {plain, gory}
    (item,) = [i for i in feed_for_worker(worker=worker) if i.pool == gory]
    assert item.pool.content_warning == "violence"


def test_the_daily_cap_counts_warned_tasks_seen_today_skipped_ones_included():
    gory = open_pool(tasks=10, reward="0.01", content_warning="violence")
    plain = open_pool(tasks=10, reward="0.01")
    worker = WorkerFactory()
    care_preferences_save(worker=worker, categories=["violence"], daily_cap=2)
    answer(pool=gory, worker=worker, seconds=4)
    skipped = assignment_next(worker=worker, pool_id=gory.pk)
    assignment_skip(worker=worker, assignment_id=skipped.pk)  # seeing it counts, even when skipped
    assert care_status(worker=worker).warned_today == 2 and care_status(worker=worker).left_today == 0
    assert pools_open_for_worker(worker=worker) == [plain]
    assert assignment_next(worker=worker, pool_id=gory.pk) is None
    # Another worker's cap is their own.
    other = WorkerFactory()
    care_preferences_save(worker=other, categories=["violence"], daily_cap=2)
    assert gory in pools_open_for_worker(worker=other)


def test_erasing_an_account_keeps_the_ledger_and_answers_under_a_pseudonym():
    pool = open_pool(tasks=12, reward="0.05", acceptance="review")
    worker = WorkerFactory(email="grace@example.org", first_name="Grace")
    answers(pool=pool, count=10, seconds=5, workers=[worker])
    rejected = Answer.objects.filter(worker=worker).first()
    answer_reject(requester=pool.requester, answer_id=rejected.pk, reason="Off-topic.")
    appeal_file(
        worker=worker, decision_id=Decision.objects.get(worker=worker).pk, message="My name is Grace."
    )
    rating_save(
        worker=worker,
        requester_id=pool.requester_id,
        pay_score=3,
        clarity=4,
        fairness=2,
        speed=3,
        comment="Grace thinks so.",
    )
    care_preferences_save(worker=worker, categories=["violence"], daily_cap=5)
    with pytest.raises(ServiceError) as wrong:
        account_erase(user=worker, password="not it")
    assert wrong.value.status_code == 403
    with pytest.raises(ServiceError) as holding:  # 9 pending rewards are still the worker's
        account_erase(user=worker, password=PASSWORD)
    assert holding.value.error_code == "balance_not_empty"

    from payouts.services import answers_accept_bulk

    answers_accept_bulk(requester=pool.requester, pool=pool)
    withdrawal = withdrawal_create(worker=worker, amount=Decimal("0.45"))
    with pytest.raises(ServiceError) as in_flight:
        account_erase(user=worker, password=PASSWORD)
    assert in_flight.value.error_code == "withdrawal_in_flight"
    assert withdrawal_pay(withdrawal_id=withdrawal.pk).status == "paid"  # the simulated bank pays at once
    entries_before = Entry.objects.count()
    erased = account_erase(user=worker, password=PASSWORD)
    assert erased.username == f"deleted-{worker.public_id.hex[:12]}"
    assert erased.email == "" and erased.first_name == "" and not erased.is_active
    assert (
        not erased.has_usable_password() and authenticate(username=worker.username, password=PASSWORD) is None
    )
    assert Appeal.objects.get().message != "My name is Grace."
    assert RequesterRating.objects.get().comment == "" and RequesterRating.objects.get().pay == 3
    assert care_status(worker=erased).categories == []
    assert Entry.objects.count() == entries_before  # not one ledger entry removed
    assert Answer.objects.filter(worker=erased).count() == 10
    assert ledger_problems() == []
    assert AuditLog.objects.filter(action=AuditAction.ACCOUNT_ERASED, worker=erased).exists()
