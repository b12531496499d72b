"""Golden items scored at submit, the skill rule restricting a worker from a pool, staff lifting and imposing
restrictions, and the fast-answer flag. Through the real submit service and the API's claim, on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fairlabel.errors import ServiceError
from fairness.models import Decision
from payouts.selectors import balance_for_user
from quality.models import Restriction, RestrictionKind
from tasks.models import AnswerStatus, WorkerPoolStats
from tests.factories import StaffFactory, WorkerFactory, open_pool
from tests.quality.helpers import answer, golden_tasks, unseen_golden
from workflows.reviews import restriction_impose, restriction_lift

pytestmark = pytest.mark.django_db


def next_pool(api, worker) -> int | None:
    """The pool of the worker's next claim through the API (None: no task for them)."""
    response = api(worker).post("/api/v1/assignments/next/", {}, format="json")
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.content
    assignment = response.json()
    # Give the place back so the next call claims afresh.
    api(worker).post(f"/api/v1/assignments/{assignment['id']}/skip/")
    return assignment["pool"]["id"]


def test_golden_answers_are_scored_when_submitted():
    pool = open_pool(tasks=10, golden=["OK", "Bad"], golden_rate=0.2)
    worker = WorkerFactory()
    right, wrong = golden_tasks(pool)
    assert answer(worker, right, "OK").correct is True
    assert answer(worker, wrong, "OK").correct is False
    stats = WorkerPoolStats.objects.get(worker=worker, pool=pool)
    assert (stats.golden_answered, stats.golden_correct) == (2, 1)


def test_low_skill_after_min_golden_restricts_from_that_pool_only(api):
    pool = open_pool(tasks=10, golden=["OK"] * 6, golden_rate=0.2, min_skill=0.7, min_golden=5, priority=90)
    other = open_pool(tasks=3, golden_rate=0.2, priority=10)
    worker = WorkerFactory()
    golden = golden_tasks(pool)
    # Four wrong answers: skill (0 + 1) / (4 + 2) = 0.17, but fewer than min_golden: still being scored.
    for task in golden[:4]:
        answer(worker, task, "Bad")
    assert not Restriction.objects.exists()
    assert next_pool(api, worker) == pool.pk
    answer(worker, golden[4], "OK")  # 1 of 5: (1 + 1) / (5 + 2) = 0.29 < 0.7
    restriction = Restriction.objects.get()
    assert restriction.worker == worker and restriction.pool == pool
    assert restriction.kind == RestrictionKind.LOW_SKILL and restriction.created_by is None
    assert restriction.figures == {
        "golden_answered": 5,
        "golden_correct": 1,
        "skill": 0.2857,
        "min_skill": 0.7,
        "min_golden": 5,
        "counted_since": None,
    }
    assert "1 of 5 golden" in restriction.reason and "(1 + 1) / (5 + 2) = 0.29" in restriction.reason
    # The submit that restricted also recorded the decision the worker sees and may appeal.
    decision = Decision.objects.get(restriction_id=restriction.pk)
    assert decision.worker_id == worker.pk and decision.reason == restriction.reason
    # The very next claim skips the pool; the worker's other pool still serves them.
    assert next_pool(api, worker) == other.pk
    assert next_pool(api, WorkerFactory()) == pool.pk  # other workers are unaffected


def test_a_skilled_worker_is_never_restricted(api):
    pool = open_pool(tasks=10, golden=["OK"] * 6, golden_rate=0.2, min_skill=0.7, min_golden=5)
    worker = WorkerFactory()
    for i, task in enumerate(golden_tasks(pool)):
        answer(worker, task, "OK" if i != 2 else "Bad")  # 5 of 6: 6 / 8 = 0.75
    assert not Restriction.objects.exists()
    assert next_pool(api, worker) == pool.pk


def test_staff_lift_gives_a_fresh_start_and_impose_needs_a_reason(api):
    pool = open_pool(tasks=10, golden=["OK"] * 9, golden_rate=0.2, min_skill=0.7, min_golden=2)
    worker, staff = WorkerFactory(), StaffFactory()
    golden = golden_tasks(pool)
    answer(worker, golden[0], "Bad")
    answer(worker, golden[1], "Bad")  # 0 of 2: 0.25
    restriction = Restriction.objects.get()
    assert next_pool(api, worker) is None

    with pytest.raises(ServiceError) as refused:
        restriction_lift(restriction_id=restriction.pk, reason="   ", staff=staff)
    assert refused.value.error_code == "reason_required"
    with pytest.raises(ServiceError):
        restriction_lift(restriction_id=restriction.pk, reason="looks fine", staff=worker)
    restriction_lift(
        restriction_id=restriction.pk, reason="Golden item 1 had a wrong key; fixed.", staff=staff
    )
    restriction.refresh_from_db()
    assert restriction.lifted_by == staff and restriction.lift_figures == {
        "golden_answered": 2,
        "golden_correct": 0,
    }
    assert next_pool(api, worker) == pool.pk
    with pytest.raises(ServiceError) as twice:
        restriction_lift(restriction_id=restriction.pk, reason="again", staff=staff)
    assert twice.value.status_code == 409

    # Fresh start: one more wrong answer is 0 of 1 since the lift, below min_golden: no new restriction.
    answer(worker, unseen_golden(pool, worker), "Bad")
    assert Restriction.objects.filter(lifted_at__isnull=True).count() == 0
    answer(worker, unseen_golden(pool, worker), "OK")  # 1 of 2 since the lift: (1 + 1) / (2 + 2) = 0.5
    again = Restriction.objects.get(lifted_at__isnull=True)
    assert again.figures["golden_answered"] == 2 and again.figures["golden_correct"] == 1
    assert again.figures["counted_since"] == restriction.lifted_at.isoformat()
    assert "since your restriction was lifted" in again.reason

    restriction_lift(restriction_id=again.pk, reason="Second look: ambiguous items.", staff=staff)
    with pytest.raises(ServiceError) as no_reason:
        restriction_impose(worker=worker, pool=pool, reason="", staff=staff)
    assert no_reason.value.error_code == "reason_required"
    imposed = restriction_impose(worker=worker, pool=pool, reason="Copy-pasted answers.", staff=staff)
    assert imposed.kind == RestrictionKind.STAFF and imposed.created_by == staff
    assert next_pool(api, worker) is None
    with pytest.raises(ServiceError) as duplicate:
        restriction_impose(worker=worker, pool=pool, reason="again", staff=staff)
    assert duplicate.value.status_code == 409


def test_the_database_allows_one_active_restriction_per_worker_and_pool():
    from django.db import IntegrityError, transaction

    pool = open_pool(tasks=10, golden_rate=0.2)
    worker, staff = WorkerFactory(), StaffFactory()
    restriction_impose(worker=worker, pool=pool, reason="first", staff=staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        Restriction.objects.create(
            worker=worker, pool=pool, kind=RestrictionKind.STAFF, reason="x", created_by=staff
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # a lift without a reason
        Restriction.objects.filter(worker=worker).update(lifted_at="2026-01-01T00:00:00Z", lifted_by=staff)


def test_platform_wide_restriction_keeps_the_worker_out_of_every_pool(api):
    open_pool(tasks=10, golden_rate=0.2)
    worker = WorkerFactory()
    restriction_impose(worker=worker, pool=None, reason="Fraud under review.", staff=StaffFactory())
    assert next_pool(api, worker) is None


def test_fast_answers_are_flagged_but_accepted_and_paid():
    pool = open_pool(tasks=2, golden_rate=0.2, min_seconds=3.0)
    worker = WorkerFactory()
    fast, slow = (
        answer(worker, task, "OK", seconds=s)
        for task, s in zip(pool.tasks.order_by("id"), [1.0, 8.0], strict=True)
    )
    assert fast.flagged_fast is True and fast.status == AnswerStatus.ACCEPTED
    assert slow.flagged_fast is False
    assert balance_for_user(user=worker).available == Decimal("0.20")  # both paid
    unflagged_pool = open_pool(tasks=1, golden_rate=0.2)  # min_seconds not set: nothing is flagged
    assert answer(worker, unflagged_pool.tasks.get(), "OK", seconds=0.1).flagged_fast is False
