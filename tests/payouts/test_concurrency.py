"""50 workers submitting at once on PostgreSQL, while a requester reviews, workers cash out and the ledger is
checked mid-storm. Each thread has its own database connection, as in production."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from fairlabel.errors import ServiceError
from payouts.ledger_invariants import ledger_problems
from payouts.models import SimulatedBankTransfer, Withdrawal
from payouts.selectors import balance_for_user
from payouts.services import answers_accept_bulk, withdrawal_create, withdrawal_pay
from tasks.models import Answer, AnswerStatus, Task
from tests.factories import WorkerFactory, open_pool
from workflows.assignments import assignment_next, assignment_submit
from workflows.reviews import answer_reject

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


def _guarded(errors: list[str], work) -> None:
    try:
        work()
    except Exception as exc:  # collected and asserted empty below
        errors.append(repr(exc))
    finally:
        connection.close()


def test_fifty_workers_submitting_at_once_leave_the_ledger_whole():
    instant = open_pool(tasks=150, reward="0.01", fund_amount="10")
    review = open_pool(tasks=100, reward="0.02", acceptance="review", fund_amount="10")
    workers = WorkerFactory.create_batch(THREADS)
    errors: list[str] = []
    start = threading.Barrier(THREADS + 2)
    storm_over = threading.Event()
    checks: list[list[str]] = []

    def work(worker) -> None:
        start.wait()
        submitted = 0
        while (assignment := assignment_next(worker=worker)) is not None:
            try:
                assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")
            except ServiceError as exc:
                errors.append(f"{worker.username}: {exc.error_code}")
            submitted += 1
            if submitted == 3 and balance_for_user(user=worker).available >= Decimal("0.01"):
                withdrawal_create(worker=worker, amount=Decimal("0.01"))

    def requester() -> None:
        start.wait()
        rejected = 0
        while not storm_over.is_set():
            answers_accept_bulk(requester=review.requester, pool=review)
            pending = Answer.objects.filter(pool=review, status=AnswerStatus.PENDING).order_by("-id").first()
            if pending is not None and rejected < 10:
                try:
                    answer_reject(
                        requester=review.requester, answer_id=pending.pk, reason="Spot check failed"
                    )
                    rejected += 1
                except ServiceError as exc:
                    assert exc.error_code == "already_reviewed"  # accepted by the bulk accept meanwhile

    def checker() -> None:
        start.wait()
        while not storm_over.is_set():
            checks.append(ledger_problems())

    threads = [threading.Thread(target=_guarded, args=(errors, lambda w=w: work(w))) for w in workers]
    others = [
        threading.Thread(target=_guarded, args=(errors, requester)),
        threading.Thread(target=_guarded, args=(errors, checker)),
    ]
    for t in threads + others:
        t.start()
    for t in threads:
        t.join(timeout=240)
    storm_over.set()
    for t in others:
        t.join(timeout=60)

    assert errors == [], "\n\n".join(errors)
    assert checks and [found for found in checks if found] == [], "a check during the storm saw a breach"
    assert ledger_problems() == []
    # A rejection near the end gives a place back after the workers stopped: someone new answers it.
    while (assignment := assignment_next(worker=(latecomer := WorkerFactory()))) is not None:
        assignment_submit(worker=latecomer, assignment_id=assignment.pk, answer="OK")
        workers.append(latecomer)
    # Every place was answered once (a rejected answer's place was answered again by someone else).
    for pool in (instant, review):
        tasks = Task.objects.filter(pool=pool)
        assert set(tasks.values_list("remaining", flat=True)) == {0}
        assert set(tasks.values_list("answers_count", flat=True)) == {1}
    assert Answer.objects.filter(pool=review, status=AnswerStatus.REJECTED).exists()
    # Each worker holds exactly what their answers earned, minus what they cashed out.
    for worker in workers:
        earned = sum(
            (a.reward for a in Answer.objects.filter(worker=worker).exclude(status=AnswerStatus.REJECTED)),
            Decimal(0),
        )
        withdrawn = sum((w.amount for w in Withdrawal.objects.filter(worker=worker)), Decimal(0))
        balance = balance_for_user(user=worker)
        assert balance.available + balance.reserved + withdrawn == earned
    # Then the withdrawals are paid, once each.
    for withdrawal in Withdrawal.objects.all():
        withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert Withdrawal.objects.exclude(status="paid").count() == 0
    assert SimulatedBankTransfer.objects.count() == Withdrawal.objects.count() > 0
    assert ledger_problems() == []
