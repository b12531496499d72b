"""Decisions about a worker that another app makes and fair work records: rejections and restrictions."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from fairness.services import (
    decision_record_rejection,
    decision_record_restriction,
    decision_reverse_for_restriction,
)
from payouts import services as payouts_services
from quality import services as quality_services
from quality.models import Restriction
from tasks.models import Answer, Pool


@transaction.atomic(durable=True)
def answer_reject(*, requester: User, answer_id: int, reason: str) -> Answer:
    """Refuse an answer (its money and place go back to the pool); the worker sees the rejection as a decision
    with its reason and figures, and may appeal it."""
    answer = payouts_services.answer_reject(requester=requester, answer_id=answer_id, reason=reason)
    decision_record_rejection(answer=answer, reason=answer.reject_reason, requester=requester)
    return answer


@transaction.atomic(durable=True)
def restriction_impose(*, worker: User, pool: Pool | None, reason: str, staff: User) -> Restriction:
    """Staff keep a worker out of one pool (or all), saying why; the worker sees it as a decision."""
    restriction = quality_services.restriction_impose(worker=worker, pool=pool, reason=reason, staff=staff)
    decision_record_restriction(restriction=restriction)
    return restriction


@transaction.atomic(durable=True)
def restriction_lift(*, restriction_id: int, reason: str, staff: User) -> Restriction:
    """Staff lift a restriction, saying why; its decision no longer stands."""
    restriction = quality_services.restriction_lift(restriction_id=restriction_id, reason=reason, staff=staff)
    decision_reverse_for_restriction(restriction_id=restriction.pk, at=restriction.lifted_at)
    return restriction
