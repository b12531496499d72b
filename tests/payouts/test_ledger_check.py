"""ledger_check: silent when the ledger is whole, a readable report and a non-zero exit on any breach."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client

from payouts.actors import ledger_check
from payouts.models import Account, Entry, LedgerCheckRun, LedgerTransaction, TransactionKind, Withdrawal
from payouts.services import account_requester_available, withdrawal_create
from tests.factories import StaffFactory, open_pool
from tests.payouts.util import earn, submit
from tests.processes import database_url

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def test_a_whole_ledger_passes_and_the_run_is_recorded(capsys, worker):
    submit(pool=open_pool(tasks=2), worker=worker)
    call_command("ledger_check")
    out = capsys.readouterr().out
    assert "OK: every invariant holds." in out and "platform_fees" in out
    run = LedgerCheckRun.objects.get()
    assert run.ok and run.problems == []


def test_a_cached_balance_that_drifted_is_reported(requester):
    open_pool(fund_amount="5")
    account = account_requester_available(user=open_pool(fund_amount="5").requester)
    Account.objects.filter(pk=account.pk).update(balance=Decimal("999"))
    with pytest.raises(CommandError) as raised:
        call_command("ledger_check")
    assert raised.value.returncode == 1
    assert f"account {account.key} caches 999.000000 but its entries sum to" in str(raised.value)
    assert "deposits" in str(raised.value)  # the totals no longer add up either
    assert not LedgerCheckRun.objects.get().ok


def test_an_unbalanced_transaction_and_a_withdrawal_paid_outside_the_ledger_are_reported(worker):
    earn(worker, "4")
    account = account_requester_available(user=open_pool().requester)
    # Neither could commit on PostgreSQL (the zero-sum trigger); the check finds them before a commit would,
    # and the savepoint is rolled back so the test's own teardown does not trip the trigger.
    withdrawal = withdrawal_create(worker=worker, amount=Decimal("2"))
    with transaction.atomic():
        txn = LedgerTransaction.objects.create(kind=TransactionKind.REVERSAL)
        Entry.objects.create(transaction=txn, account=account, amount=Decimal("1"))
        Withdrawal.objects.filter(pk=withdrawal.pk).update(status="paid", provider_reference="x")
        with pytest.raises(CommandError) as raised:
            call_command("ledger_check", "--no-record")
        transaction.set_rollback(True)
    report = str(raised.value)
    assert f"transaction {txn.pk} (reversal) sums to 1.000000, not zero" in report
    assert "paid out 0 in the ledger but paid withdrawals total 2" in report
    assert "withdrawals in flight hold 2.000000 but unfinished withdrawals total 0" in report
    assert not LedgerCheckRun.objects.exists()


def test_pending_balances_must_match_the_answers_awaiting_review(worker):
    answer = submit(pool=open_pool(acceptance="review", reward="0.30"), worker=worker)
    from tasks.models import Answer

    Answer.objects.filter(pk=answer.pk).update(status="accepted")  # accepted without moving the money
    with pytest.raises(CommandError, match=r"has 0.30 pending but their answers awaiting review total 0.00"):
        call_command("ledger_check", "--no-record")


def test_the_periodic_job_records_its_result_on_the_admin_site():
    ledger_check()
    run = LedgerCheckRun.objects.get()
    assert run.ok
    client = Client()
    client.force_login(StaffFactory())
    page = client.get("/admin/payouts/ledgercheckrun/")
    assert page.status_code == 200 and "ledger check" in page.content.decode().lower()


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_breach():
    pool = open_pool(fund_amount="3")
    env = os.environ | {"DATABASE_URL": database_url(), "FAIRLABEL_TESTING": "1"}
    ok = subprocess.run(
        [sys.executable, "manage.py", "ledger_check"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    Account.objects.filter(key=f"requester:{pool.requester_id}").update(balance=Decimal("1"))
    broken = subprocess.run(
        [sys.executable, "manage.py", "ledger_check"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert broken.returncode == 1
    assert (
        "ledger breach" in broken.stderr and f"requester:{pool.requester_id} caches 1.000000" in broken.stderr
    )
