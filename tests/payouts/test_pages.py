"""The money pages as people see them: a worker's earnings and cash-out, a requester's billing and review."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from payouts.models import Withdrawal
from payouts.services import withdrawal_pay
from tasks.models import Answer
from tests.factories import WorkerFactory, open_pool
from tests.payouts.util import available, pending, submit

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.payouts.urls")]


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_earnings_show_each_credit_with_what_the_requester_paid(worker):
    pool = open_pool(tasks=2, reward="0.10", name="Street signs")
    submit(pool=pool, worker=worker)
    review = open_pool(tasks=1, reward="0.20", acceptance="review", name="Cats")
    submit(pool=review, worker=worker)
    page = text(browser(worker).get("/earnings/"))
    assert 'id="earnings-available">0.10 USD' in page
    assert 'id="earnings-pending">0.20 USD' in page
    assert "Street signs" in page and "Cats" in page
    # Requester paid 0.10 + 0.01 fee; the worker received all of the 0.10.
    assert '<td class="money">0.11</td> <td class="money">0.10</td>' in page
    assert '<td class="money">0.22</td> <td class="money">0.20</td>' in page
    assert "Pending review" in page
    assert ">Cash out</button>" in page


def test_a_worker_sees_why_an_answer_was_rejected(worker):
    pool = open_pool(tasks=1, acceptance="review")
    answer = submit(pool=pool, worker=worker)
    from workflows.reviews import answer_reject

    answer_reject(requester=pool.requester, answer_id=answer.pk, reason="Two labels were swapped")
    page = text(browser(worker).get("/earnings/"))
    assert "Rejected" in page and "Two labels were swapped" in page


def test_cash_out_button_withdraws_once_and_shows_the_status(worker):
    pool = open_pool(tasks=1, reward="2.5")
    submit(pool=pool, worker=worker)
    client = browser(worker)
    page = client.get("/earnings/").content.decode()
    key = re.search(r'name="request_key" value="([0-9a-f]+)"', page).group(1)
    assert 'value="2.50"' in page  # the cash-out amount is filled in
    for _ in range(2):  # a double click
        response = client.post("/earnings/withdraw/", {"amount": "2.50", "request_key": key})
        assert response.status_code == 302
    assert Withdrawal.objects.count() == 1 and available(worker) == Decimal(0)
    page = text(client.get("/earnings/"))
    assert "Requested" in page and "2.50 USD" in page
    withdrawal_pay(withdrawal_id=Withdrawal.objects.get().pk)
    fragment = client.get("/earnings/?part=withdrawals", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "Paid" in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    refused = client.post("/earnings/withdraw/", {"amount": "1.00", "request_key": "other"}, follow=True)
    assert "You can withdraw up to 0.00" in refused.content.decode()


def test_a_failed_cash_out_shows_its_reason_and_the_money_is_back(settings, worker):
    settings.SIMULATED_PAYOUT_FAILURE_RATE = 1.0
    settings.PAYOUT_MAX_ATTEMPTS = 1
    submit(pool=open_pool(tasks=1, reward="3"), worker=worker)
    client = browser(worker)
    client.post("/earnings/withdraw/", {"amount": "3", "request_key": "k1"})
    withdrawal_pay(withdrawal_id=Withdrawal.objects.get().pk)
    page = text(client.get("/earnings/"))
    assert "Failed: money returned" in page and "declined" in page
    assert 'id="earnings-available">3.00 USD' in page


def test_billing_shows_deposits_reservations_spend_and_fees():
    pool = open_pool(tasks=4, reward="0.50", fund_amount="10", name="Receipts")
    for w in WorkerFactory.create_batch(2):
        submit(pool=pool, worker=w)
    page = text(browser(pool.requester).get("/billing/"))
    assert 'id="billing-deposited">10.00 USD' in page
    assert 'id="billing-available">7.80 USD' in page  # 10 - 4 * 0.55
    assert 'id="billing-reserved">1.10 USD' in page  # two answers still to buy
    assert 'id="billing-rewards">1.00' in page and 'id="billing-fees">0.10' in page
    assert 'id="billing-spent">1.10 USD' in page
    assert "Receipts" in page and "Deposit" in page and "Reserved for a pool" in page


def test_review_pages_accept_reject_and_accept_all():
    pool = open_pool(tasks=3, acceptance="review", name="Birds")
    workers = WorkerFactory.create_batch(3)
    answers = [submit(pool=pool, worker=w) for w in workers]
    client = browser(pool.requester)
    listing = text(client.get("/review/"))
    assert "Birds" in listing and "<td>3</td>" in listing
    page = text(client.get(f"/review/{pool.pk}/"))
    assert "Accept all 3" in page and workers[0].username not in page  # workers appear under pseudonyms
    row = client.post(f"/review/answers/{answers[0].pk}/reject/", {"reason": ""}, HTTP_HX_REQUEST="true")
    assert "needs a reason" in row.content.decode()
    row = client.post(
        f"/review/answers/{answers[0].pk}/reject/", {"reason": "Not a bird"}, HTTP_HX_REQUEST="true"
    )
    assert "Rejected" in row.content.decode() and "<html" not in row.content.decode()
    done = client.post(f"/review/answers/{answers[1].pk}/accept/", follow=True)
    assert "Accepted: the worker is paid." in done.content.decode()
    client.post(f"/review/{pool.pk}/accept-all/")
    assert [Answer.objects.get(pk=a.pk).status for a in answers] == ["rejected", "accepted", "accepted"]
    assert [available(w) for w in workers] == [Decimal(0), Decimal("0.10"), Decimal("0.10")]
    assert pending(workers[0]) == Decimal(0)


def test_pages_are_for_their_role(worker, requester):
    assert browser(worker).get("/billing/").status_code == 403
    assert browser(worker).get("/review/").status_code == 403
    assert browser(requester).get("/earnings/").status_code == 403
    assert Client().get("/earnings/").status_code == 302
    pool = open_pool(acceptance="review")
    assert browser(requester).get(f"/review/{pool.pk}/").status_code == 404
