from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from payouts.checks import ledger_problems
from payouts.models import Entry, LedgerTransaction, TransactionKind
from payouts.selectors import balance_for_user
from payouts.services import (
    InsufficientFunds,
    account_requester_available,
    account_world_deposits,
    deposit_create,
    ledger_post,
)

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
