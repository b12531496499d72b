from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from fairlabel.money import fee_for
from payouts.ledger_invariants import ledger_problems
from payouts.models import Account, AccountKind, Entry, LedgerTransaction, TransactionKind
from payouts.selectors import balance_for_user, pool_reservations
from payouts.services import (
    InsufficientFunds,
    account_pool_spent,
    account_requester_available,
    account_worker_available,
    account_world_deposits,
    deposit_create,
    ledger_post,
    pool_reservation_settle,
)
from tests.factories import WorkerFactory, open_pool
from tests.payouts.util import submit
from workflows.pools import pool_close

pytestmark = pytest.mark.django_db


def test_deposit_is_a_balanced_posting(requester):
    deposit_create(user=requester, amount=Decimal("12.5"))
    txn = LedgerTransaction.objects.get()
    assert sorted(txn.entries.values_list("amount", flat=True)) == [Decimal("-12.5"), Decimal("12.5")]
    assert balance_for_user(user=requester).available == Decimal("12.5")
    assert ledger_problems() == []


def test_unbalanced_posting_is_refused(requester):
    with pytest.raises(ValueError, match="sum to zero"):
        ledger_post(
            kind=TransactionKind.DEPOSIT, legs=[(account_requester_available(user=requester), Decimal(1))]
        )
    assert not LedgerTransaction.objects.exists()


def test_no_account_goes_below_zero(requester):
    deposit_create(user=requester, amount=Decimal("1"))
    # ledger_post sets no savepoint: a refusal leaves only a rollback, so the caller's block must end.
    with pytest.raises(InsufficientFunds), transaction.atomic():
        ledger_post(
            kind=TransactionKind.REVERSAL,
            legs=[
                (account_requester_available(user=requester), Decimal("-2")),
                (account_world_deposits(), Decimal(2)),
            ],
        )
    assert balance_for_user(user=requester).available == Decimal("1")


def test_the_database_refuses_to_edit_or_delete_entries(requester):
    deposit_create(user=requester, amount=Decimal("5"))
    entry = Entry.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount=Decimal("6"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_unbalanced_transaction_at_commit(requester):
    account = account_requester_available(user=requester)
    with pytest.raises(IntegrityError, match="does not sum to zero"), transaction.atomic():
        txn = LedgerTransaction.objects.create(kind=TransactionKind.DEPOSIT)
        Entry.objects.create(transaction=txn, account=account, amount=Decimal("3"))
    assert not Entry.objects.exists()
    connection.close()


def test_deposit_command(requester, capsys):
    call_command("deposit", requester.username, "25.50")
    assert "available 25.50" in capsys.readouterr().out
    with pytest.raises(CommandError, match="greater than zero"):
        call_command("deposit", requester.username, "-3")
    with pytest.raises(CommandError, match="no account"):
        call_command("deposit", "ghost", "3")
    with pytest.raises(CommandError, match="not a requester"):
        from tests.factories import WorkerFactory

        call_command("deposit", WorkerFactory().username, "3")


def test_a_posting_replayed_with_its_idempotency_key_moves_nothing(requester):
    legs = [
        (account_world_deposits(), Decimal("-3")),
        (account_requester_available(user=requester), Decimal("3")),
    ]
    first = ledger_post(kind=TransactionKind.DEPOSIT, legs=legs, idempotency_key="bank-transfer-42")
    again = ledger_post(kind=TransactionKind.DEPOSIT, legs=legs, idempotency_key="bank-transfer-42")
    assert again.pk == first.pk
    assert LedgerTransaction.objects.count() == 1 and Entry.objects.count() == 2
    assert balance_for_user(user=requester).available == Decimal("3")
    assert ledger_problems() == []


# A pool's answers are paid from spent rows (by worker) rather than from the one reservation row, so a busy
# pool's submits do not queue on one lock; the reservation and its spent rows always add up.


def _pool_rows(pool):
    return dict(
        Account.objects.filter(pool=pool, kind=AccountKind.POOL_RESERVED).values_list("key", "balance")
    )


def test_answers_are_paid_from_spent_rows_spread_by_worker_and_the_reservation_adds_up():
    pool = open_pool(tasks=8, reward="0.10", fund_amount="100")
    reserved_at_open = balance_for_user(user=pool.requester).reserved
    workers = WorkerFactory.create_batch(4)
    for worker in workers:
        submit(pool=pool, worker=worker)

    rows = _pool_rows(pool)
    assert rows[f"pool:{pool.pk}"] == reserved_at_open  # the reservation row itself is not touched
    spent_rows = {key: balance for key, balance in rows.items() if ":spent:" in key}
    assert len(spent_rows) == 4  # one per worker here: four rows, four locks, no queue on one
    cost = Decimal("0.10") + fee_for(Decimal("0.10"))
    assert sum(spent_rows.values()) == -4 * cost
    assert balance_for_user(user=pool.requester).reserved == reserved_at_open - 4 * cost
    assert pool_reservations(pool_ids=[pool.pk])[pool.pk].spent == 4 * cost
    assert ledger_problems() == []


def test_settling_folds_the_spent_rows_into_the_reservation_once():
    pool = open_pool(tasks=4, reward="0.10", fund_amount="100")
    for worker in WorkerFactory.create_batch(3):
        submit(pool=pool, worker=worker)
    net = balance_for_user(user=pool.requester).reserved

    with transaction.atomic():
        reservation = pool_reservation_settle(pool=pool)
    assert reservation.balance == net
    assert all(b == 0 for k, b in _pool_rows(pool).items() if ":spent:" in k)
    settle = LedgerTransaction.objects.get(kind=TransactionKind.POOL_SETTLE, pool=pool)
    assert sum(settle.entries.values_list("amount", flat=True)) == 0
    with transaction.atomic():
        pool_reservation_settle(pool=pool)  # nothing left to fold: no second posting
    assert LedgerTransaction.objects.filter(kind=TransactionKind.POOL_SETTLE, pool=pool).count() == 1
    assert balance_for_user(user=pool.requester).reserved == net
    assert ledger_problems() == []


def test_closing_returns_exactly_what_the_answers_left_and_empties_every_row():
    pool = open_pool(tasks=5, reward="0.10", fund_amount="10")
    for worker in WorkerFactory.create_batch(2):
        submit(pool=pool, worker=worker)
    available_before = balance_for_user(user=pool.requester).available
    net = balance_for_user(user=pool.requester).reserved

    pool_close(pool=pool)

    assert balance_for_user(user=pool.requester).available == available_before + net
    assert set(_pool_rows(pool).values()) == {Decimal(0)}
    assert ledger_problems() == []


def test_ledger_check_reports_a_pool_that_spent_more_than_its_reservation():
    pool = open_pool(tasks=1, reward="0.10", fund_amount="1")
    reserved = balance_for_user(user=pool.requester).reserved
    worker = WorkerFactory()
    # Only a bug could do this: the claim bounds what a pool's answers spend.
    ledger_post(
        kind=TransactionKind.ANSWER_REWARD,
        legs=[
            (account_pool_spent(pool=pool, shard=worker.pk), -(reserved + 1)),
            (account_worker_available(user_id=worker.pk), reserved + 1),
        ],
        pool=pool,
    )
    assert any(f"pool {pool.pk} has spent more than its reservation" in p for p in ledger_problems())
