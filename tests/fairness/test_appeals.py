"""Decisions against workers carry reasons and figures; one appeal each; upholding reverses, money included."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from django.db import DatabaseError, IntegrityError, transaction

from fairlabel.errors import ServiceError
from fairness.models import Appeal, AuditAction, AuditLog, Decision, DecisionKind
from fairness.selectors import appeals_queue_for, audit_search, worker_record
from fairness.services import appeal_decide, appeal_file, block_create, block_lift, decision_record
from payouts.ledger_invariants import ledger_problems
from payouts.selectors import balance_for_user
from tasks.models import Answer, AnswerStatus, Task
from tests.factories import RequesterFactory, StaffFactory, WorkerFactory, open_pool
from tests.fairness.util import answer
from workflows.assignments import assignment_next
from workflows.feed import pools_open_for_worker
from workflows.pools import pool_close
from workflows.reviews import answer_reject

pytestmark = pytest.mark.django_db


def rejected_answer(*, tasks: int = 3, reason: str = "Label does not match the photo."):
    pool = open_pool(tasks=tasks, reward="0.05", acceptance="review")
    worker = WorkerFactory()
    given = answer(pool=pool, worker=worker, seconds=12)
    assert given.status == AnswerStatus.PENDING
    answer_reject(requester=pool.requester, answer_id=given.pk, reason=reason)
    return pool, worker, given


def test_a_rejection_becomes_a_decision_with_reason_and_figures():
    pool, worker, given = rejected_answer()
    decision = Decision.objects.get(worker=worker)
    assert decision.kind == DecisionKind.REJECTION and decision.pool == pool and decision.answer == given
    assert decision.reason == "Label does not match the photo."
    assert decision.figures["reward"] == "0.05" and decision.figures["duration_seconds"] == 12.0
    assert decision.created_by == pool.requester
    assert AuditLog.objects.filter(action=AuditAction.DECISION_MADE, decision=decision).exists()


def test_one_appeal_per_decision():
    _, worker, _ = rejected_answer()
    decision = Decision.objects.get(worker=worker)
    appeal_file(worker=worker, decision_id=decision.pk, message="The photo shows a lamp; I said lamp.")
    with pytest.raises(ServiceError) as again:
        appeal_file(worker=worker, decision_id=decision.pk, message="Please!")
    assert again.value.status_code == 409
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database agrees
        Appeal.objects.create(decision=decision, message="sneaky")
    with pytest.raises(ServiceError) as other:
        appeal_file(worker=WorkerFactory(), decision_id=decision.pk, message="not mine")
    assert other.value.status_code == 404


def test_requester_upholds_a_rejection_appeal_and_the_worker_is_paid_from_the_reservation():
    pool, worker, given = rejected_answer()
    assert balance_for_user(user=worker).reserved == Decimal(0)  # nothing pending: it was taken back
    decision = Decision.objects.get(worker=worker)
    appeal = appeal_file(worker=worker, decision_id=decision.pk, message="It matches.")
    assert list(appeals_queue_for(user=pool.requester)) == [appeal]
    assert list(appeals_queue_for(user=RequesterFactory())) == []  # only that pool's requester
    assert list(appeals_queue_for(user=StaffFactory())) == [
        appeal
    ]  # staff arbitrate too, after their own queue
    with pytest.raises(ServiceError):  # a decision needs a written answer
        appeal_decide(decider=pool.requester, appeal_id=appeal.pk, uphold=True, response="  ")
    with pytest.raises(ServiceError) as stranger:
        appeal_decide(decider=RequesterFactory(), appeal_id=appeal.pk, uphold=True, response="ok")
    assert stranger.value.status_code == 404
    reserved_before = balance_for_user(user=pool.requester).reserved
    appeal_decide(decider=pool.requester, appeal_id=appeal.pk, uphold=True, response="You are right, sorry.")
    assert balance_for_user(user=worker).available == Decimal("0.05")
    given.refresh_from_db()
    assert given.status == AnswerStatus.ACCEPTED
    # The answer took its place back, so the money came out of the pool's reservation (reward + fee).
    assert reserved_before - balance_for_user(user=pool.requester).reserved == Decimal("0.055")
    task = Task.objects.get(pk=given.task_id)
    assert task.remaining == 0 and task.answers_count == 1
    decision.refresh_from_db()
    assert decision.reversed_at is not None
    appeal.refresh_from_db()
    assert appeal.status == "upheld" and appeal.response == "You are right, sorry."
    assert ledger_problems() == []


def test_upholding_after_the_pool_closed_pays_from_the_requesters_balance():
    pool, worker, _ = rejected_answer()
    pool_close(pool=pool)
    available_before = balance_for_user(user=pool.requester).available
    decision = Decision.objects.get(worker=worker)
    appeal = appeal_file(worker=worker, decision_id=decision.pk, message="It matches.")
    appeal_decide(decider=pool.requester, appeal_id=appeal.pk, uphold=True, response="Fair enough.")
    assert balance_for_user(user=worker).available == Decimal("0.05")
    assert available_before - balance_for_user(user=pool.requester).available == Decimal("0.055")
    assert ledger_problems() == []


def test_a_denied_appeal_leaves_the_decision_and_money_alone():
    pool, worker, _ = rejected_answer()
    decision = Decision.objects.get(worker=worker)
    appeal = appeal_file(worker=worker, decision_id=decision.pk, message="It matches.")
    appeal_decide(decider=pool.requester, appeal_id=appeal.pk, uphold=False, response="It is a chair.")
    assert balance_for_user(user=worker).available == Decimal(0)
    decision.refresh_from_db()
    assert decision.reversed_at is None
    with pytest.raises(ServiceError) as twice:
        appeal_decide(decider=pool.requester, appeal_id=appeal.pk, uphold=True, response="changed my mind")
    assert twice.value.status_code == 409
    assert Answer.objects.get(worker=worker).status == AnswerStatus.REJECTED


def test_only_a_named_staff_member_can_block_and_the_database_refuses_a_ruleless_block():
    worker = WorkerFactory()
    with pytest.raises(ServiceError) as nobody:
        block_create(staff=None, worker=worker, reason="spam")
    assert nobody.value.status_code == 403
    with pytest.raises(ServiceError):
        block_create(staff=RequesterFactory(), worker=worker, reason="spam")
    with pytest.raises(ValueError):
        decision_record(worker_id=worker.pk, kind=DecisionKind.BLOCK, reason="rule says so")
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(worker=worker, kind=DecisionKind.BLOCK, reason="rule says so")


def test_a_blocked_worker_gets_no_tasks_until_an_appeal_is_upheld():
    pool = open_pool(tasks=5, reward="0.01")
    worker, staff = WorkerFactory(), StaffFactory()
    held = assignment_next(worker=worker)
    assert held is not None
    decision = block_create(staff=staff, worker=worker, reason="Copied answers between accounts.")
    assert pools_open_for_worker(worker=worker) == []
    assert assignment_next(worker=worker) is None
    assert Task.objects.get(pk=held.task_id).remaining == 1  # the task in hand went back to the pool
    appeal = appeal_file(worker=worker, decision_id=decision.pk, message="That was my sister, not me.")
    assert list(appeals_queue_for(user=staff)) == [appeal]
    assert list(appeals_queue_for(user=pool.requester)) == []
    appeal_decide(decider=staff, appeal_id=appeal.pk, uphold=True, response="Checked: different devices.")
    assert pools_open_for_worker(worker=worker) == [pool]


def test_staff_can_lift_a_block_and_the_audit_log_is_searchable_and_append_only():
    worker, staff = WorkerFactory(username="mallory"), StaffFactory(username="sam")
    decision = block_create(staff=staff, worker=worker, reason="Bot-like speed on 4 pools.")
    block_lift(staff=staff, decision_id=decision.pk, note="Verified human.")
    assert pools_open_for_worker(worker=worker) == []  # no pools open, but no block either
    assert {row.action for row in audit_search(query="mallory")} == {"decision_made", "decision_lifted"}
    assert [row.action for row in audit_search(query="bot-like")] == ["decision_made"]
    assert len(audit_search(query=worker.pseudonym)) == 2
    row = AuditLog.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).update(summary="nothing happened")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).delete()


def test_worker_record_beside_an_appeal():
    pool, worker, _ = rejected_answer()
    record = worker_record(worker=worker, requester=pool.requester)
    assert record.answers == 1 and record.rejected == 1 and record.answers_here == 1
    assert record.pseudonym == worker.pseudonym


def test_a_quality_restriction_is_a_decision_and_an_upheld_appeal_lifts_it():
    from fairness.services import decision_record_restriction
    from quality.models import Restriction
    from quality.services import restriction_check_after_golden
    from tasks.models import WorkerPoolStats
    from workflows.reviews import restriction_impose

    pool = open_pool(tasks=5, reward="0.01", min_golden=5, min_skill=0.7)
    worker, staff = WorkerFactory(), StaffFactory()
    WorkerPoolStats.objects.create(worker=worker, pool=pool, golden_answered=6, golden_correct=2)
    restriction = restriction_check_after_golden(worker=worker, pool=pool)
    assert restriction is not None
    decision = decision_record_restriction(restriction=restriction)  # as the submit that restricted does
    assert decision.kind == DecisionKind.RESTRICTION and decision.created_by is None  # made by the rule
    assert decision.figures["golden_answered"] == 6 and decision.figures["golden_correct"] == 2
    assert "2 of 6" in decision.reason
    appeal = appeal_file(worker=worker, decision_id=decision.pk, message="Two golden items had typos.")
    assert list(appeals_queue_for(user=staff)) == [appeal]
    assert list(appeals_queue_for(user=pool.requester)) == []  # restrictions are staff's to decide
    with pytest.raises(ServiceError):
        appeal_decide(decider=pool.requester, appeal_id=appeal.pk, uphold=True, response="ok")
    appeal_decide(decider=staff, appeal_id=appeal.pk, uphold=True, response="Items 4 and 9 were wrong.")
    restriction.refresh_from_db()
    assert restriction.lifted_at is not None and restriction.lifted_by == staff
    assert "Items 4 and 9" in restriction.lift_reason
    decision.refresh_from_db()
    assert decision.reversed_at is not None
    # A restriction staff impose and then lift directly also shows as reversed.
    other = restriction_impose(worker=worker, pool=None, reason="Paused while we look into it.", staff=staff)
    imposed = Decision.objects.get(restriction_id=other.pk)
    assert imposed.created_by == staff and imposed.reversed_at is None
    from workflows.reviews import restriction_lift

    restriction_lift(restriction_id=other.pk, reason="Done looking.", staff=staff)
    imposed.refresh_from_db()
    assert imposed.reversed_at is not None
    assert Restriction.objects.count() == 2


def test_the_periodic_sync_records_restrictions_made_elsewhere_and_their_lifts():
    from django.utils import timezone

    from fairness.services import decisions_sync_restrictions
    from quality.models import Restriction

    pool = open_pool(tasks=2, reward="0.01")
    worker, staff = WorkerFactory(), StaffFactory()
    # Made outside quality's services (the admin site, a shell): no decision yet.
    restriction = Restriction.objects.create(
        worker=worker, pool=pool, kind="staff", reason="Spam answers.", created_by=staff
    )
    assert not Decision.objects.exists()
    assert decisions_sync_restrictions() == 1
    decision = Decision.objects.get(restriction_id=restriction.pk)
    assert decision.reason == "Spam answers." and decision.created_by == staff
    assert decisions_sync_restrictions() == 0  # safe to run again
    Restriction.objects.filter(pk=restriction.pk).update(
        lifted_at=timezone.now(), lifted_by=staff, lift_reason="Cleared."
    )
    assert decisions_sync_restrictions() == 1
    decision.refresh_from_db()
    assert decision.reversed_at is not None


def test_staff_may_decide_a_rejection_appeal_and_the_api_says_who_decides_what(api):
    _, worker, given = rejected_answer()
    decision = Decision.objects.get(worker=worker)
    appeal = appeal_file(worker=worker, decision_id=decision.pk, message="It matches.")
    staff = StaffFactory()
    response = api(staff).post(
        f"/api/v1/appeals/{appeal.pk}/decide/", {"uphold": True, "response": "It matches."}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "upheld"
    given.refresh_from_db()
    assert given.status == AnswerStatus.ACCEPTED
    assert balance_for_user(user=worker).available == Decimal("0.05")
    # A worker never decides appeals; the schema's descriptions name the same deciders as the rule.
    assert api(worker).get("/api/v1/appeals/").status_code == 403
    paths = yaml.safe_load(api(staff).get("/api/v1/schema/").content)["paths"]
    for path, method in (("/api/v1/appeals/", "get"), ("/api/v1/appeals/{appeal_id}/decide/", "post")):
        description = paths[path][method]["description"]
        assert "rejection" in description and "staff" in description, description
        assert "restrictions and blocks" in description, description
