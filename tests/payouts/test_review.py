"""Review mode: answers wait as pending money; the requester accepts or rejects; the window ends in acceptance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payouts.ledger_invariants import ledger_problems
from payouts.selectors import balance_for_user
from payouts.services import answers_auto_accept_expired
from tasks.models import Answer, Pool, Task
from tests.factories import RequesterFactory, WorkerFactory, open_pool
from tests.payouts.util import available, pending, submit
from workflows.pools import pool_close

pytestmark = pytest.mark.django_db


def _submit_over_api(api, worker):
    client = api(worker)
    assignment = client.post("/api/v1/assignments/next/", {}, format="json").json()
    return client.post(f"/api/v1/assignments/{assignment['id']}/submit/", {"label": "OK"}, format="json")


def test_a_review_answer_is_pending_money_until_the_requester_accepts(api, worker):
    pool = open_pool(acceptance="review", reward="0.10")
    response = _submit_over_api(api, worker)
    assert response.status_code == 200
    assert response.json() == {
        "status": "pending",
        "reward": "0.10",
        "balance": {"available": "0.00", "reserved": "0.10"},
    }
    answer = Answer.objects.get(worker=worker)
    accepted = api(pool.requester).post(f"/api/v1/answers/{answer.pk}/accept/", format="json")
    assert accepted.status_code == 200
    assert accepted.json() == {"id": answer.pk, "status": "accepted", "reject_reason": ""}
    assert (available(worker), pending(worker)) == (Decimal("0.10"), Decimal(0))
    again = api(pool.requester).post(f"/api/v1/answers/{answer.pk}/accept/", format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_reviewed"
    assert available(worker) == Decimal("0.10")
    assert ledger_problems() == []


def test_a_rejection_needs_a_reason_and_gives_back_money_and_place(api, worker):
    pool = open_pool(acceptance="review", tasks=1, reward="0.10")
    reserved_at_open = balance_for_user(user=pool.requester).reserved
    assert reserved_at_open == Decimal("0.11")  # reward + 10% fee
    _submit_over_api(api, worker)
    answer = Answer.objects.get(worker=worker)
    client = api(pool.requester)
    for reason in ("", "   "):
        refused = client.post(f"/api/v1/answers/{answer.pk}/reject/", {"reason": reason}, format="json")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "reason_required"
    missing = client.post(f"/api/v1/answers/{answer.pk}/reject/", {}, format="json")
    assert missing.status_code == 400
    rejected = client.post(
        f"/api/v1/answers/{answer.pk}/reject/", {"reason": "The photo shows a cat, not a dog."}, format="json"
    )
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert (available(worker), pending(worker)) == (Decimal(0), Decimal(0))
    assert balance_for_user(user=pool.requester).reserved == reserved_at_open
    task = Task.objects.get(pool=pool)
    assert (task.remaining, task.answers_count) == (1, 0)
    # The place went back: someone else answers the task and is paid from the returned reservation.
    other = WorkerFactory()
    submit(pool=pool, worker=other)
    assert pending(other) == Decimal("0.10")
    assert ledger_problems() == []


def test_accept_all_is_one_click(api):
    pool = open_pool(acceptance="review", tasks=3, reward="0.05")
    workers = WorkerFactory.create_batch(3)
    for w in workers:
        submit(pool=pool, worker=w)
    response = api(pool.requester).post(f"/api/v1/pools/{pool.pk}/answers/accept/", format="json")
    assert response.status_code == 200 and response.json() == {"accepted": 3}
    assert [available(w) for w in workers] == [Decimal("0.05")] * 3
    assert api(pool.requester).post(f"/api/v1/pools/{pool.pk}/answers/accept/", format="json").json() == {
        "accepted": 0
    }
    assert ledger_problems() == []


def test_what_is_still_pending_when_the_window_ends_is_accepted(api, worker):
    pool = open_pool(acceptance="review", review_hours=2, tasks=2, reward="0.10")
    first = submit(pool=pool, worker=worker)
    assert answers_auto_accept_expired() == 0
    assert answers_auto_accept_expired(now=timezone.now() + timedelta(hours=1)) == 0
    assert answers_auto_accept_expired(now=timezone.now() + timedelta(hours=2, seconds=1)) == 1
    first.refresh_from_db()
    assert first.status == "accepted" and first.reviewed_at is not None
    assert (available(worker), pending(worker)) == (Decimal("0.10"), Decimal(0))
    assert answers_auto_accept_expired(now=timezone.now() + timedelta(hours=3)) == 0  # idempotent
    # Past the window, a rejection is refused: the answer is the worker's.
    second = submit(pool=pool, worker=WorkerFactory())
    Answer.objects.filter(pk=second.pk).update(submitted_at=timezone.now() - timedelta(hours=2, seconds=1))
    late = api(pool.requester).post(f"/api/v1/answers/{second.pk}/reject/", {"reason": "late"}, format="json")
    assert late.status_code == 409 and late.json()["error"]["code"] == "review_window_closed"
    assert ledger_problems() == []


def test_only_the_pools_requester_reviews(api, worker):
    pool = open_pool(acceptance="review")
    answer = submit(pool=pool, worker=worker)
    stranger = RequesterFactory()
    assert api(stranger).post(f"/api/v1/answers/{answer.pk}/accept/", format="json").status_code == 404
    assert (
        api(stranger).post(f"/api/v1/answers/{answer.pk}/reject/", {"reason": "x"}, format="json").status_code
        == 404
    )
    assert api(stranger).post(f"/api/v1/pools/{pool.pk}/answers/accept/", format="json").status_code == 404
    assert api(worker).post(f"/api/v1/answers/{answer.pk}/accept/", format="json").status_code == 403
    assert api(pool.requester).post("/api/v1/answers/nope/accept/", format="json").status_code == 404
    assert pending(worker) == Decimal("0.10")


def test_rejecting_after_the_pool_closed_refunds_the_requester(worker):
    pool = open_pool(acceptance="review", tasks=2, reward="0.10", fund_amount="1")
    answer = submit(pool=pool, worker=worker)
    pool_close(pool=pool)
    before = available(pool.requester)
    from workflows.reviews import answer_reject

    answer_reject(requester=pool.requester, answer_id=answer.pk, reason="Wrong label")
    assert available(pool.requester) == before + Decimal("0.11")
    assert balance_for_user(user=pool.requester).reserved == Decimal(0)
    assert ledger_problems() == []


def test_rejecting_a_golden_answer_frees_a_golden_place(worker):
    pool = open_pool(acceptance="review", tasks=1, golden=2, golden_rate=0.5)
    slots = Pool.objects.get(pk=pool.pk).golden_slots_left
    answers = [submit(pool=pool, worker=worker), submit(pool=pool, worker=worker)]
    golden = next(a for a in answers if a.is_golden)
    from workflows.reviews import answer_reject

    answer_reject(requester=pool.requester, answer_id=golden.pk, reason="Careless")
    assert Pool.objects.get(pk=pool.pk).golden_slots_left == slots
    assert Task.objects.get(pk=golden.task_id).answers_count == 0
    assert ledger_problems() == []


def test_instant_pools_pay_at_once_and_take_the_fee_from_the_requester(worker):
    pool = open_pool(tasks=1, reward="0.10", fund_amount="1")
    assert available(pool.requester) == Decimal("0.89")  # 1 - (0.10 + 0.01 fee)
    answer = submit(pool=pool, worker=worker)
    assert answer.status == "accepted"
    assert available(worker) == Decimal("0.10")  # the whole reward: the fee is never the worker's
    assert ledger_problems() == []
