"""Random sequences of everything that moves money; afterwards ledger_check finds nothing and no cent is lost.

Each example gets its own people; the examples share one database transaction, so the ledger check also
covers everything earlier examples left behind.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairlabel.errors import ServiceError
from fairlabel.money import cents_floor, fee_for
from payouts.ledger_invariants import ledger_problems
from payouts.models import Entry, SimulatedBankTransfer, TransactionKind, Withdrawal
from payouts.providers import PayoutFailed, PayoutReceipt, PayoutRequest, SimulatedProvider
from payouts.selectors import balance_for_user
from payouts.services import (
    answers_accept_bulk,
    answers_auto_accept_expired,
    deposit_create,
    withdrawal_create,
    withdrawal_pay,
)
from tasks.models import Answer, Pool, PoolStatus
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, WorkerFactory
from workflows.assignments import assignment_next, assignment_submit
from workflows.pools import pool_close, pool_open
from workflows.reviews import answer_reject

pytestmark = pytest.mark.django_db

REWARDS = ["0.01", "0.05", "0.0125", "1.10", "0.0001"]

PARAMETERS: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "deposit": st.tuples(st.integers(0, 1), st.integers(1, 3000)),
    "open": st.tuples(
        st.integers(0, 1),
        st.sampled_from(REWARDS),
        st.integers(1, 4),
        st.integers(1, 2),
        st.booleans(),
        st.integers(0, 2),
    ),
    "answer": st.tuples(st.integers(0, 3), st.integers(0, 5)),
    "reject": st.tuples(st.integers(0, 40)),
    "accept_all": st.tuples(st.integers(0, 5)),
    "window_ends": st.tuples(),
    "close": st.tuples(st.integers(0, 5)),
    "withdraw": st.tuples(st.integers(0, 3), st.sampled_from(["0.25", "0.5", "1"])),
    "pay": st.tuples(st.integers(0, 10), st.sampled_from(["ok", "refused", "final", "unclear"])),
}
# Answers are most of what happens on the platform; weighted so that sequences have work to review and pay.
KINDS = (
    ["answer"] * 8
    + ["reject", "withdraw", "pay"] * 2
    + ["deposit", "open", "accept_all", "window_ends", "close"]
)
operations = st.sampled_from(KINDS).flatmap(lambda kind: PARAMETERS[kind].map(lambda args: (kind, *args)))


class ScriptedProvider:
    """The simulated bank, told by the test how its next call goes."""

    name = "simulated"
    outcome = "ok"

    def pay(self, request: PayoutRequest) -> PayoutReceipt:
        if SimulatedBankTransfer.objects.filter(idempotency_key=request.idempotency_key).exists():
            return SimulatedProvider().pay(request)  # a key it already paid is answered, whatever the script
        if self.outcome == "refused":
            raise PayoutFailed("declined for now", retryable=True)
        if self.outcome == "final":
            raise PayoutFailed("account closed", retryable=False)
        if self.outcome == "unclear":
            raise TimeoutError("no answer")
        return SimulatedProvider().pay(request)


class World:
    def __init__(self) -> None:
        self.requesters = RequesterFactory.create_batch(2)
        self.workers = WorkerFactory.create_batch(4)
        self.pools: list[Pool] = []
        self.deposited = {r.pk: Decimal(0) for r in self.requesters}
        self.withdrawals: list[Withdrawal] = []
        self.provider = ScriptedProvider()
        # Start with money and work on offer, so that short sequences already pay, review and withdraw.
        self.deposit(0, 2000)
        self.deposit(1, 2000)
        self.open(0, "0.05", 6, 2, False, 0)
        self.open(1, "0.0125", 6, 2, True, 1)

    def run(self, op: tuple[Any, ...]) -> None:
        getattr(self, op[0])(*op[1:])

    def deposit(self, who: int, cents: int) -> None:
        amount = Decimal(cents) / 100
        deposit_create(user=self.requesters[who], amount=amount)
        self.deposited[self.requesters[who].pk] += amount

    def open(self, who: int, reward: str, tasks: int, overlap: int, review: bool, golden: int) -> None:
        pool = PoolFactory(
            requester=self.requesters[who],
            reward=Decimal(reward),
            overlap=overlap,
            acceptance="review" if review else "instant",
            golden_rate=0.3 if golden else 0.0,
        )
        TaskFactory.create_batch(tasks, pool=pool)
        for i in range(golden):
            TaskFactory(pool=pool, golden_label="OK", data={"g": i})
        self.pools.append(pool)
        try:
            pool_open(pool=pool)
        except ServiceError as exc:
            assert exc.error_code == "insufficient_funds"

    def answer(self, who: int, which: int) -> None:
        if not self.pools:
            return
        running = [p for p in self.pools if Pool.objects.get(pk=p.pk).status == PoolStatus.OPEN] or self.pools
        pool = running[which % len(running)]
        worker = self.workers[who]
        assignment = assignment_next(worker=worker, pool_id=pool.pk)
        if assignment is not None:
            assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")

    def _answers(self) -> list[Answer]:
        return list(Answer.objects.filter(pool__in=self.pools).order_by("id"))

    def reject(self, which: int) -> None:
        pending = [a for a in self._answers() if a.status == "pending"]
        if pending:
            answer = pending[which % len(pending)]
            answer_reject(requester=answer.pool.requester, answer_id=answer.pk, reason="Does not match")

    def accept_all(self, which: int) -> None:
        if self.pools:
            pool = self.pools[which % len(self.pools)]
            answers_accept_bulk(requester=pool.requester, pool=pool)

    def window_ends(self) -> None:
        answers_auto_accept_expired(now=timezone.now() + timedelta(hours=73))

    def close(self, which: int) -> None:
        if self.pools:
            pool_close(pool=self.pools[which % len(self.pools)])

    def withdraw(self, who: int, share: str) -> None:
        worker = self.workers[who]
        amount = cents_floor(balance_for_user(user=worker).available * Decimal(share))
        if amount > 0:
            self.withdrawals.append(withdrawal_create(worker=worker, amount=amount))

    def pay(self, which: int, outcome: str) -> None:
        if not self.withdrawals:
            return
        withdrawal = self.withdrawals[which % len(self.withdrawals)]
        Withdrawal.objects.filter(pk=withdrawal.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        self.provider.outcome = outcome
        with mock.patch("payouts.services.provider_for", return_value=self.provider):
            withdrawal_pay(withdrawal_id=withdrawal.pk)

    def check(self) -> None:
        assert ledger_problems() == []
        answers = [a for a in self._answers() if a.status != "rejected"]
        top_ups = dict(
            Entry.objects.filter(transaction__kind=TransactionKind.TOP_UP, account__user__in=self.workers)
            .values_list("account__user")
            .annotate(total=Sum("amount"))
        )
        for worker in self.workers:
            earned = sum((a.reward for a in answers if a.worker_id == worker.pk), Decimal(0))
            earned += top_ups.get(worker.pk, Decimal(0))
            balance = balance_for_user(user=worker)
            withdrawn = sum(
                (w.amount for w in Withdrawal.objects.filter(worker=worker).exclude(status="failed")),
                Decimal(0),
            )
            assert balance.available + balance.reserved + withdrawn == earned, "a worker's money went missing"
            paid = SimulatedBankTransfer.objects.filter(
                payer_reference__in=[str(w.pk) for w in Withdrawal.objects.filter(worker=worker)]
            ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
            assert paid == sum(
                (w.amount for w in Withdrawal.objects.filter(worker=worker, status="paid")), Decimal(0)
            ), "the bank paid something the platform does not show as paid"
        for requester in self.requesters:
            spent = sum(
                (a.reward + fee_for(a.reward) for a in answers if a.pool.requester_id == requester.pk),
                Decimal(0),
            )
            # Pay-floor top-ups also come out of the requester's pools.
            spent += Entry.objects.filter(
                transaction__kind=TransactionKind.TOP_UP,
                transaction__pool__requester=requester,
                account__kind="worker_available",
            ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
            balance = balance_for_user(user=requester)
            assert balance.available + balance.reserved + spent == self.deposited[requester.pk]
            for pool in Pool.objects.filter(requester=requester, status__in=[PoolStatus.CLOSED]):
                held = [account.balance for account in pool.ledger_accounts.all()]
                assert held and all(b == 0 for b in held), "a closed pool still holds money"


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(operations, min_size=15, max_size=40))
def test_random_sequences_leave_the_ledger_whole(db: Any, ops: list[tuple[Any, ...]]) -> None:
    world = World()
    for i, op in enumerate(ops):
        world.run(op)
        if i % 10 == 9:
            world.check()
    world.check()
