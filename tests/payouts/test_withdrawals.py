"""Withdrawals: money leaves available at once, a provider pays it exactly once, a final failure returns it."""

from __future__ import annotations

import csv
import threading
from datetime import timedelta
from decimal import Decimal

import dramatiq
import pytest
from django.db import connections
from django.utils import timezone

from payouts.ledger_invariants import ledger_problems
from payouts.models import SimulatedBankTransfer, Withdrawal
from payouts.providers import BatchFileProvider, PayoutRequest, SimulatedProvider
from payouts.services import withdrawal_create, withdrawal_pay, withdrawals_resume
from tests.factories import WorkerFactory
from tests.payouts.util import available, earn

pytestmark = pytest.mark.django_db


@pytest.fixture
def earner(worker):
    earn(worker, "20")
    return worker


def _due_now(withdrawal: Withdrawal) -> None:
    Withdrawal.objects.filter(pk=withdrawal.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_a_withdrawal_leaves_available_at_once_and_is_listed(api, earner):
    client = api(earner)
    response = client.post("/api/v1/me/withdrawals/", {"amount": "12.50"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "amount", "status", "created_at"}
    assert body["amount"] == "12.50" and body["status"] == "requested"
    assert available(earner) == Decimal("7.50")
    listed = client.get("/api/v1/me/withdrawals/").json()
    assert [w["id"] for w in listed["results"]] == [body["id"]] and listed["next"] is None
    assert listed["results"][0]["status"] == "requested"
    assert ledger_problems() == []


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        ("20.01", 402, "insufficient_funds"),
        ("0.001", 400, "invalid_amount"),
        ("0", 400, "invalid_amount"),
        ("-5", 400, "invalid_amount"),
        (1.5, 400, "invalid_amount"),
        ("ten", 400, "invalid_amount"),
        (None, 400, "invalid_amount"),
    ],
)
def test_withdrawal_refusals(api, earner, amount, status, code):
    response = api(earner).post("/api/v1/me/withdrawals/", {"amount": amount}, format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert available(earner) == Decimal("20")
    assert not Withdrawal.objects.exists()


def test_only_workers_withdraw(api, requester):
    assert api(requester).post("/api/v1/me/withdrawals/", {"amount": "1"}, format="json").status_code == 403
    assert api(None).get("/api/v1/me/withdrawals/").status_code == 401


def test_a_retried_request_with_the_same_idempotency_key_withdraws_once(api, earner):
    client = api(earner)
    first = client.post("/api/v1/me/withdrawals/", {"amount": "5"}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = client.post("/api/v1/me/withdrawals/", {"amount": "5"}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert available(earner) == Decimal("15")
    other = client.post("/api/v1/me/withdrawals/", {"amount": "6"}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Withdrawal.objects.count() == 1


def test_the_simulated_provider_pays_and_the_ledger_records_it(earner):
    withdrawal = withdrawal_create(worker=earner, amount=Decimal("8"))
    done = withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert done is not None and done.status == "paid" and done.attempts == 1
    transfer = SimulatedBankTransfer.objects.get()
    assert transfer.amount == Decimal("8") and done.provider_reference == transfer.reference
    assert withdrawal_pay(withdrawal_id=withdrawal.pk) is None  # nothing left to do
    assert SimulatedBankTransfer.objects.count() == 1
    assert available(earner) == Decimal("12")
    assert ledger_problems() == []


def test_a_payment_the_provider_made_before_a_crash_is_found_not_made_again(earner):
    withdrawal = withdrawal_create(worker=earner, amount=Decimal("3"))
    # The provider paid, then the worker process died before recording it.
    SimulatedProvider().pay(
        PayoutRequest(
            idempotency_key=withdrawal.idempotency_key,
            withdrawal_id=withdrawal.pk,
            amount=withdrawal.amount,
            currency="USD",
            payee_id=earner.pk,
            payee_username=earner.username,
            payee_email="",
            requested_at=withdrawal.created_at,
        )
    )
    done = withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert done is not None and done.status == "paid"
    transfer = SimulatedBankTransfer.objects.get()
    assert transfer.replays == 1 and transfer.reference == done.provider_reference
    assert ledger_problems() == []


def test_a_refused_payout_is_retried_with_backoff_then_paid(settings, earner):
    settings.SIMULATED_PAYOUT_FAILURE_RATE = 1.0
    settings.PAYOUT_RETRY_BACKOFF = 10
    withdrawal = withdrawal_create(worker=earner, amount=Decimal("4"))
    before = timezone.now()
    first = withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert first is not None and first.status == "processing"
    assert "declined" in first.failure_reason and "trying again" in first.failure_reason
    assert first.next_attempt_at >= before + timedelta(seconds=10)
    assert withdrawal_pay(withdrawal_id=withdrawal.pk) is None  # not due yet: a duplicate message is a no-op
    _due_now(withdrawal)
    second = withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert second is not None and second.attempts == 2
    assert second.next_attempt_at >= timezone.now() + timedelta(seconds=19)  # doubled
    settings.SIMULATED_PAYOUT_FAILURE_RATE = 0.0
    _due_now(withdrawal)
    paid = withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert paid is not None and paid.status == "paid" and paid.failure_reason == ""
    assert available(earner) == Decimal("16")
    assert ledger_problems() == []


def test_a_payout_that_finally_fails_returns_the_money_with_the_reason(api, settings, earner):
    settings.SIMULATED_PAYOUT_FAILURE_RATE = 1.0
    settings.PAYOUT_MAX_ATTEMPTS = 2
    withdrawal = withdrawal_create(worker=earner, amount=Decimal("6"))
    assert available(earner) == Decimal("14")
    withdrawal_pay(withdrawal_id=withdrawal.pk)
    _due_now(withdrawal)
    failed = withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert failed is not None and failed.status == "failed" and failed.finished_at is not None
    assert available(earner) == Decimal("20")
    assert not SimulatedBankTransfer.objects.exists()
    listed = api(earner).get("/api/v1/me/withdrawals/").json()["results"][0]
    assert listed["status"] == "failed" and "declined" in listed["failure_reason"]
    _due_now(withdrawal)
    assert withdrawal_pay(withdrawal_id=withdrawal.pk) is None  # failed is final
    assert ledger_problems() == []


def test_an_unclear_provider_error_is_never_taken_for_a_refusal(settings, earner, monkeypatch):
    settings.PAYOUT_MAX_ATTEMPTS = 1

    def broken(self, request):
        raise TimeoutError("read timed out")

    monkeypatch.setattr(SimulatedProvider, "pay", broken)
    withdrawal = withdrawal_create(worker=earner, amount=Decimal("2"))
    for _ in range(3):
        _due_now(withdrawal)
        result = withdrawal_pay(withdrawal_id=withdrawal.pk)
        assert result is not None and result.status == "processing"
    assert "no clear answer" in result.failure_reason
    assert available(earner) == Decimal("18"), "money whose payout may have happened is not handed back"
    assert ledger_problems() == []


def test_only_one_process_pays_a_withdrawal_at_a_time(earner):
    withdrawal = withdrawal_create(worker=earner, amount=Decimal("1"))
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [0x5041, withdrawal.pk])
            held.set()
            release.wait(10)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [0x5041, withdrawal.pk])
        connections["default"].close()

    other = threading.Thread(target=hold_the_lock)
    other.start()
    held.wait(10)
    try:
        assert withdrawal_pay(withdrawal_id=withdrawal.pk) is None
    finally:
        release.set()
        other.join()
    assert withdrawal_pay(withdrawal_id=withdrawal.pk).status == "paid"


def test_resume_sends_what_is_due_again(earner):
    broker = dramatiq.get_broker()
    broker.flush_all()
    stuck = withdrawal_create(worker=earner, amount=Decimal("1"))
    later = withdrawal_create(worker=earner, amount=Decimal("1"))
    Withdrawal.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    _due_now(stuck)
    assert withdrawals_resume() == 1
    sent = [dramatiq.Message.decode(raw).args for raw in broker.queues["default"].queue]
    assert sent == [(stuck.pk,)]
    broker.flush_all()


def test_the_batch_file_provider_writes_each_payout_once(settings, tmp_path, earner):
    settings.PAYOUT_PROVIDER = "batch_file"
    settings.PAYOUT_BATCH_DIR = tmp_path
    withdrawal = withdrawal_create(worker=earner, amount=Decimal("7.25"))
    assert withdrawal.provider == "batch_file"
    done = withdrawal_pay(withdrawal_id=withdrawal.pk)
    assert done is not None and done.status == "paid"
    files = list(tmp_path.glob("payouts-*.csv"))
    assert len(files) == 1 and done.provider_reference.startswith(files[0].name)
    request = PayoutRequest(
        idempotency_key=withdrawal.idempotency_key,
        withdrawal_id=withdrawal.pk,
        amount=withdrawal.amount,
        currency="USD",
        payee_id=earner.pk,
        payee_username=earner.username,
        payee_email="",
        requested_at=withdrawal.created_at,
    )
    with files[0].open("a") as f:
        f.write("fl-wd-cut-short,12")  # a line a crash left unfinished
    assert BatchFileProvider().pay(request).reference == done.provider_reference  # a retry writes nothing
    rows = list(csv.DictReader(files[0].open()))
    paid_rows = [r for r in rows if r["idempotency_key"] == withdrawal.idempotency_key]
    assert len(paid_rows) == 1 and paid_rows[0]["amount"] == "7.25"
    assert paid_rows[0]["payee_username"] == earner.username
    second = withdrawal_create(worker=earner, amount=Decimal("1"))
    withdrawal_pay(withdrawal_id=second.pk)
    rows = list(csv.reader(files[0].open()))
    assert rows[-1][0] == second.idempotency_key and rows[-2] == ["fl-wd-cut-short", "12"]
    assert ledger_problems() == []


def test_two_workers_withdrawing_at_once_each_pay_their_own(earner):
    other = WorkerFactory()
    earn(other, "5")
    a = withdrawal_create(worker=earner, amount=Decimal("20"))
    b = withdrawal_create(worker=other, amount=Decimal("5"))
    for w in (a, b):
        withdrawal_pay(withdrawal_id=w.pk)
    assert (available(earner), available(other)) == (Decimal(0), Decimal(0))
    assert SimulatedBankTransfer.objects.count() == 2
    assert ledger_problems() == []
