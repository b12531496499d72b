"""A worker's loop: claim the next task, submit an answer (scored, paid and counted in one transaction)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from fairlabel.errors import ServiceError
from fairlabel.jobs import enqueue_on_commit
from fairness.services import decision_record_restriction
from payouts.services import answer_credit
from quality import services as quality_services
from quality.types import AnswerJudge
from tasks import claims
from tasks.models import Answer, Assignment
from tasks.services import SubmitOutcome, answer_record
from workflows.feed import pools_open_for_worker_with_counts


def assignment_next(*, worker: User, pool_id: int | None = None) -> Assignment | None:
    """The worker's current assignment, or a new one from the open pools they may work on, or None."""
    return _assignment_next(worker=worker, pool_id=pool_id, prefer_pool_id=None)


def _assignment_next(*, worker: User, pool_id: int | None, prefer_pool_id: int | None) -> Assignment | None:
    try:
        return _claim_next(worker=worker, pool_id=pool_id, prefer_pool_id=prefer_pool_id)
    except IntegrityError:
        # Two requests of the same worker claimed at once (a double click, two tabs): the unique indexes let
        # one of them commit; the other is given that assignment rather than an error.
        with transaction.atomic():
            held = claims.assignment_held(worker=worker, now=timezone.now())
        if held is None:
            raise
        return held


def _claim_next(*, worker: User, pool_id: int | None, prefer_pool_id: int | None) -> Assignment | None:
    # No transaction around these reads: each claim is atomic by itself (tasks.claims.claim_in_pool), and one
    # taken after a pool changed under the list is checked against the pool again inside the claim.
    now = timezone.now()
    held = claims.assignment_held(worker=worker, now=now)
    if held is not None:
        return held
    pools = pools_open_for_worker_with_counts(worker=worker, pool_id=pool_id, now=now)
    if prefer_pool_id is not None:
        pools.sort(key=lambda item: item[0].pk != prefer_pool_id)  # stable: the others keep their order
    for pool, counts in pools:
        assignment = claims.claim_in_pool(pool=pool, worker=worker, now=now, counts=counts)
        if assignment is not None:
            return assignment
    return None


@transaction.atomic(durable=True)
def _submit(*, worker: User, assignment_id: int, answer: object, judge: AnswerJudge) -> SubmitOutcome:
    outcome = answer_record(worker=worker, assignment_id=assignment_id, answer=answer, judge=judge)
    answer = outcome.answer
    if answer is None:
        return outcome
    # Skill rule after a golden answer (a restriction the worker sees as a decision, with its reason and
    # figures, and may appeal), dynamic overlap after a regular one, debounced aggregation.
    restriction = quality_services.answer_recorded(answer=answer)
    if restriction is not None:
        decision_record_restriction(restriction=restriction)
    # Never refused for want of money: the claim took a place the reservation paid for, and a close or a
    # completion cancels active assignments (waiting for submits in flight) before releasing it.
    answer_credit(answer=answer, pool=answer.pool)
    return outcome


# {"label": ...}, the form single-label clients were written against, keeps its own error code.
LABEL_JUDGE = AnswerJudge(error_code="invalid_label")
ANSWER_JUDGE = AnswerJudge(error_code="invalid_answer")


def assignment_submit(
    *, worker: User, assignment_id: int, answer: object, judge: AnswerJudge = ANSWER_JUDGE
) -> Answer:
    """Record the answer (checked by the pool's task type: nothing is written if it does not fit) and credit its
    reward in one transaction; 410 for an expired assignment."""
    outcome = _submit(worker=worker, assignment_id=assignment_id, answer=answer, judge=judge)
    if outcome.answer is None:
        raise ServiceError(
            code="expired",
            message="This assignment expired before it was submitted; the task went to someone else.",
            status_code=410,
        )
    if outcome.answer_completed_task:
        enqueue_on_commit("pool_check_completion", outcome.answer.pool_id)
    return outcome.answer


def assignment_submit_and_next(
    *,
    worker: User,
    assignment_id: int,
    answer: object,
    judge: AnswerJudge = ANSWER_JUDGE,
    pool_id: int | None = None,
) -> tuple[Answer, Assignment | None]:
    """Submit, then claim the next task, so the annotator needs no second request: from `pool_id` only when the
    worker chose that pool, else the same pool first, then any pool.

    Two transactions: the answer is committed and paid before the claim, whatever becomes of the claim.
    """
    recorded = assignment_submit(worker=worker, assignment_id=assignment_id, answer=answer, judge=judge)
    if pool_id is not None:
        return recorded, _assignment_next(worker=worker, pool_id=pool_id, prefer_pool_id=None)
    return recorded, _assignment_next(worker=worker, pool_id=None, prefer_pool_id=recorded.pool_id)
