"""Writes for fair work: pool pay against the floor, top-ups, decisions and appeals, blocks, ratings, care
settings and erasing an account. Every decision and every decision on an appeal leaves an audit-log row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import check_password
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, IntegerField, OuterRef, Q, Sum, Value
from django.db.models.functions import Least
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from fairlabel.errors import ServiceError
from fairlabel.money import money_str
from fairlabel.numbers import parse_id
from fairness import pay
from fairness.models import (
    RATING_MIN_ANSWERS,
    Appeal,
    AppealStatus,
    AuditAction,
    AuditLog,
    ContentOptIn,
    Decision,
    DecisionKind,
    PoolPay,
    PoolTopUp,
    RequesterRating,
    RequesterStats,
    WorkerCarePreferences,
)
from payouts.selectors import money_held_by, withdrawal_in_flight
from payouts.services import (
    answer_reinstate_pay,
    pool_reservation_cover_from_requester,
    pool_reservation_settle,
    worker_top_up_pay,
)
from quality import services as quality_services
from quality.models import Restriction
from tasks.models import (
    Answer,
    AnswerStatus,
    Assignment,
    AssignmentStatus,
    ContentWarning,
    Pool,
    PoolStatus,
)
from tasks.services import answer_place_retake

MESSAGE_MAX = 5000


def audit(
    *,
    action: AuditAction,
    summary: str,
    actor: User | None = None,
    worker_id: int | None = None,
    pool_id: int | None = None,
    decision: Decision | None = None,
    appeal: Appeal | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    return AuditLog.objects.create(
        action=action,
        summary=summary,
        actor=actor,
        worker_id=worker_id,
        pool_id=pool_id,
        decision=decision,
        appeal=appeal,
        data=data or {},
    )


def _text(value: str | None, *, field: str, required: bool = True, limit: int = MESSAGE_MAX) -> str:
    if value is not None and not isinstance(value, str):  # e.g. a JSON list sent as a comment: 400, not 500
        raise ServiceError(
            code="invalid_request",
            message=f"The {field} must be text.",
            details={"fields": {field: ["not text"]}},
        )
    text = (value or "").strip()
    if required and not text:
        raise ServiceError(
            code=f"{field}_required",
            message=f"Write a {field}: it is what the other person reads.",
            details={"fields": {field: ["required"]}},
        )
    if len(text) > limit:
        raise ServiceError(
            code=f"{field}_too_long",
            message=f"Keep the {field} under {limit} characters.",
            details={"fields": {field: ["too long"]}},
        )
    return text


# ------------------------------------------------------------------------------------------ pay and floor


def pool_pay_measure(*, pool: Pool, now: datetime | None = None) -> PoolPay:
    """Measure the pool's pay over its recent answers and cache it; tell the audit log when it crosses the floor.

    Runs in the periodic job and wherever the reward changes, never on the claim path.
    """
    now = now or timezone.now()
    durations = list(
        Answer.objects.filter(pool_id=pool.pk)
        .order_by("-submitted_at")
        .values_list("duration_ms", flat=True)[: pay.MEDIAN_WINDOW]
    )
    median_ms = pay.median(durations)
    below = pay.is_below_floor(reward=pool.reward, median_ms=median_ms, answers=len(durations))
    record, created = PoolPay.objects.get_or_create(pool_id=pool.pk, defaults={"measured_at": now})
    was_below = record.below_floor and not created
    record.answers = len(durations)
    record.median_ms = median_ms
    record.effective_hourly_pay = (
        pay.hourly_pay(reward=pool.reward, median_ms=median_ms) if median_ms is not None else None
    )
    record.floor_reward = pay.floor_reward(median_ms=median_ms) if median_ms is not None else None
    record.below_floor = below
    record.measured_at = now
    if below and not was_below:
        record.below_floor_since = now
        audit(
            action=AuditAction.POOL_BELOW_FLOOR,
            pool_id=pool.pk,
            summary=(
                f"Pool {pool.pk} pays {money_str(record.effective_hourly_pay or Decimal(0))}/h at a median of "
                f"{(median_ms or 0) / 1000:.1f} s, below the floor of {money_str(pay.floor())}/h: hidden from the feed "
                f"until the reward reaches {money_str(record.floor_reward or Decimal(0))}."
            ),
            data=_pay_figures(record, pool),
        )
    elif was_below and not below:
        record.below_floor_since = None
        audit(
            action=AuditAction.POOL_ABOVE_FLOOR,
            pool_id=pool.pk,
            summary=f"Pool {pool.pk} is back above the floor and back on the feed.",
            data=_pay_figures(record, pool),
        )
    record.save()
    return record


def _pay_figures(record: PoolPay, pool: Pool) -> dict[str, Any]:
    return {
        "reward": money_str(pool.reward),
        "median_seconds": round((record.median_ms or 0) / 1000, 3),
        "answers_measured": record.answers,
        "effective_hourly_pay": money_str(record.effective_hourly_pay)
        if record.effective_hourly_pay is not None
        else None,
        "floor": money_str(pay.floor()),
        "floor_reward": money_str(record.floor_reward) if record.floor_reward is not None else None,
    }


def pools_pay_refresh(*, limit: int = 500) -> int:
    """The periodic job: re-measure open pools that have had answers since their last measurement."""
    newer = Answer.objects.filter(pool_id=OuterRef("pk"), submitted_at__gt=OuterRef("pay__measured_at"))
    pools = (
        Pool.objects.filter(status=PoolStatus.OPEN)
        .filter(Q(pay__isnull=True) | Exists(newer))
        .only("id", "reward")
        .order_by("id")[:limit]
    )
    count = 0
    for pool in pools:
        with transaction.atomic():
            pool_pay_measure(pool=pool)
        count += 1
    return count


@dataclass(frozen=True)
class TopUpLine:
    worker_id: int
    answers: int
    capped_ms: int
    rewards: Decimal
    owed: Decimal
    paid: Decimal


def pool_floor_top_up(*, pool: Pool) -> PoolTopUp | None:
    """At close, bring every worker whose answers paid under the floor up to it, from the pool's reservation.

    Runs inside pool_close's transaction (the pool row locked), before what is left of the reservation goes back
    to the requester. An answer "paid under the floor" is one whose reward is below the reward that clears the
    floor at the pool's median measured now: answers made after the requester raised the reward far enough are
    not. For each worker: owed = floor x (their answers' seconds, each capped at 3x the median) / 3600 - the
    rewards of those answers. Rejected answers are not counted. A pool with fewer answers than the
    measurement needs was never measured, so owes nothing. If the reservation holds less than the total, the
    rest comes from the requester's balance; only if that is short too does each worker get the same share of
    what they are owed, and the PoolTopUp row says so. No platform fee is taken on
    a top-up. Safe to run twice: the PoolTopUp row and per-worker idempotency keys stop a second payment.
    """
    existing = PoolTopUp.objects.filter(pool=pool).first()
    if existing is not None:
        return existing
    measured = pool_pay_measure(pool=pool)
    if measured.median_ms is None or measured.answers < pay.min_answers() or measured.floor_reward is None:
        return None
    cap_ms = measured.median_ms * pay.TOP_UP_TIME_CAP
    rows = (
        Answer.objects.filter(pool=pool, reward__lt=measured.floor_reward)
        .exclude(status=AnswerStatus.REJECTED)
        .values("worker_id")
        .annotate(
            capped_ms=Sum(Least(F("duration_ms"), Value(cap_ms), output_field=IntegerField())),
            rewards=Sum("reward"),
            n=Sum(Value(1)),
        )
        .order_by("worker_id")
    )
    owed_lines = []
    for row in rows:
        owed = pay.top_up_owed(capped_ms=row["capped_ms"] or 0, rewards=row["rewards"] or Decimal(0))
        if owed > 0:
            owed_lines.append((row["worker_id"], row["n"], row["capped_ms"], row["rewards"], owed))
    if not owed_lines:
        return None
    reservation = pool_reservation_settle(pool=pool)
    total_owed = sum((line[4] for line in owed_lines), Decimal(0))
    available = reservation.balance
    if available < total_owed:
        # What the reservation cannot cover comes from the requester's balance, as far as it goes (a completed
        # pool has spent its reservation).
        available += pool_reservation_cover_from_requester(
            pool=pool, reservation=reservation, needed=total_owed - available
        )
    paid_total = Decimal(0)
    lines: list[TopUpLine] = []
    for worker_id, n, capped_ms, rewards, owed in owed_lines:
        amount = pay.pro_rata(owed=owed, available=available, total_owed=total_owed)
        if amount > 0:
            worker_top_up_pay(pool=pool, reservation=reservation, worker_id=worker_id, amount=amount)
            paid_total += amount
        lines.append(TopUpLine(worker_id, n, capped_ms, rewards, owed, amount))
        audit(
            action=AuditAction.FLOOR_TOP_UP,
            worker_id=worker_id,
            pool_id=pool.pk,
            summary=(
                f"Top-up of {money_str(amount)} (owed {money_str(owed)}) for {n} answers in pool {pool.pk} "
                f"paid under the floor of {money_str(pay.floor())}/h."
            ),
            data={
                "answers": n,
                "seconds_counted": round(capped_ms / 1000, 3),
                "rewards": money_str(rewards),
                "owed": money_str(owed),
                "paid": money_str(amount),
                "median_seconds": round(measured.median_ms / 1000, 3),
            },
        )
    return PoolTopUp.objects.create(
        pool=pool, owed=total_owed, paid=paid_total, workers=len(lines), median_ms=measured.median_ms
    )


# ---------------------------------------------------------------------------------------------- decisions


def decision_record(
    *,
    worker_id: int,
    kind: DecisionKind,
    reason: str,
    figures: dict[str, Any] | None = None,
    pool_id: int | None = None,
    created_by: User | None = None,
    answer_id: int | None = None,
    restriction_id: int | None = None,
) -> Decision:
    """Record a decision against a worker, inside the caller's transaction (a rejection, a restriction).

    Called from the services that make the decision, so the record exists exactly when the decision does.
    Recording the same answer's or restriction's decision again returns the first one.
    """
    if kind == DecisionKind.BLOCK:
        raise ValueError("a block is made by a person through block_create, never recorded by a rule")
    existing = None
    if answer_id is not None:
        existing = Decision.objects.filter(answer_id=answer_id).first()
    elif restriction_id is not None:
        existing = Decision.objects.filter(restriction_id=restriction_id).first()
    if existing is not None:
        return existing
    decision = Decision.objects.create(
        worker_id=worker_id,
        kind=kind,
        reason=reason.strip() or "No reason was given.",
        figures=figures or {},
        pool_id=pool_id,
        created_by=created_by,
        answer_id=answer_id,
        restriction_id=restriction_id,
    )
    audit(
        action=AuditAction.DECISION_MADE,
        actor=created_by,
        worker_id=worker_id,
        pool_id=pool_id,
        decision=decision,
        summary=f"{decision.get_kind_display()}: {decision.reason}",
        data={"figures": decision.figures, "by": "rule" if created_by is None else "person"},
    )
    return decision


def decision_record_rejection(*, answer: Answer, reason: str, requester: User) -> Decision:
    """The decision behind a rejected answer, with the figures the worker needs to judge it."""
    return decision_record(
        worker_id=answer.worker_id,
        kind=DecisionKind.REJECTION,
        reason=reason,
        pool_id=answer.pool_id,
        created_by=requester,
        answer_id=answer.pk,
        figures={
            "task_id": answer.task_id,
            "label": answer.label,
            "reward": money_str(answer.reward),
            "submitted_at": answer.submitted_at.isoformat(),
            "duration_seconds": round(answer.duration_ms / 1000, 3),
        },
    )


def _require_staff(staff: User | None) -> User:
    if staff is None or not isinstance(staff, User) or not staff.is_staff:
        raise ServiceError(
            code="permission_denied",
            message="Only a member of staff can do this, and they must be named.",
            status_code=403,
        )
    return staff


@transaction.atomic(durable=True)
def block_create(
    *, staff: User | None, worker: User, reason: str, figures: dict[str, Any] | None = None
) -> Decision:
    """Block a worker from the whole platform. Only a named member of staff can: never a rule on its own."""
    staff = _require_staff(staff)
    reason = _text(reason, field="reason")
    if worker.role != Role.WORKER:
        raise ServiceError(code="invalid_request", message="Only workers can be blocked.")
    if worker.pk == staff.pk:
        raise ServiceError(code="invalid_request", message="You cannot block yourself.")
    User.objects.select_for_update().filter(pk=worker.pk).first()
    if Decision.objects.filter(worker=worker, kind=DecisionKind.BLOCK, reversed_at__isnull=True).exists():
        raise ServiceError(code="already_blocked", message="This worker is already blocked.", status_code=409)
    decision = Decision.objects.create(
        worker=worker, kind=DecisionKind.BLOCK, reason=reason, figures=figures or {}, created_by=staff
    )
    # The task in hand goes back to its pool: a blocked worker gets no tasks, not even the current one.
    _give_back_active_assignment(worker=worker)
    audit(
        action=AuditAction.DECISION_MADE,
        actor=staff,
        worker_id=worker.pk,
        decision=decision,
        summary=f"Platform-wide block by {staff.username}: {reason}",
        data={"figures": decision.figures, "by": "person"},
    )
    return decision


@transaction.atomic(durable=True)
def block_lift(*, staff: User | None, decision_id: int, note: str) -> Decision:
    staff = _require_staff(staff)
    note = _text(note, field="note")
    decision = (
        Decision.objects.select_for_update()
        .filter(pk=decision_id, kind=DecisionKind.BLOCK, reversed_at__isnull=True)
        .first()
    )
    if decision is None:
        raise ServiceError(code="not_found", message="No standing block with that id.", status_code=404)
    decision.reversed_at = timezone.now()
    decision.save(update_fields=["reversed_at"])
    audit(
        action=AuditAction.DECISION_LIFTED,
        actor=staff,
        worker_id=decision.worker_id,
        decision=decision,
        summary=f"Block lifted by {staff.username}: {note}",
    )
    return decision


def _give_back_active_assignment(*, worker: User) -> None:
    from tasks import claims

    for assignment in Assignment.objects.select_for_update().filter(
        worker=worker, status=AssignmentStatus.ACTIVE
    ):
        claims.expire(assignment=assignment)


def _decision_for_worker(*, worker: User, decision_id: object) -> Decision:
    pk = parse_id(decision_id)
    decision = Decision.objects.select_for_update().filter(pk=pk, worker=worker).first() if pk else None
    if decision is None:
        raise ServiceError(code="not_found", message="No such decision about you.", status_code=404)
    return decision


@transaction.atomic(durable=True)
def appeal_file(*, worker: User, decision_id: object, message: str) -> Appeal:
    """A worker appeals a decision once, with a message; a second appeal is refused (409)."""
    message = _text(message, field="message")
    decision = _decision_for_worker(worker=worker, decision_id=decision_id)
    if Appeal.objects.filter(decision=decision).exists():
        raise ServiceError(
            code="already_appealed", message="You have already appealed this decision.", status_code=409
        )
    if decision.reversed_at is not None:
        raise ServiceError(
            code="decision_reversed", message="This decision was already reversed.", status_code=409
        )
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(decision=decision, message=message)
    except IntegrityError:  # a concurrent appeal won the one-to-one
        raise ServiceError(
            code="already_appealed", message="You have already appealed this decision.", status_code=409
        ) from None
    audit(
        action=AuditAction.APPEAL_FILED,
        actor=worker,
        worker_id=worker.pk,
        pool_id=decision.pool_id,
        decision=decision,
        appeal=appeal,
        summary=f"Appeal filed against {decision.get_kind_display().lower()} #{decision.pk}.",
    )
    return appeal


def appeal_may_decide(*, user: User, decision: Decision) -> bool:
    """Rejections are the requester's to reconsider; restrictions and blocks are staff's. Staff may decide any."""
    if user.is_staff:
        return True
    return (
        decision.kind == DecisionKind.REJECTION
        and decision.pool_id is not None
        and Pool.objects.filter(pk=decision.pool_id, requester=user).exists()
    )


@transaction.atomic(durable=True)
def appeal_decide(*, decider: User, appeal_id: int, uphold: bool, response: str) -> Appeal:
    """Decide an appeal with a written answer. Upholding reverses the decision, money included."""
    response = _text(response, field="response")
    appeal = Appeal.objects.select_for_update().select_related("decision").filter(pk=appeal_id).first()
    if appeal is None or not appeal_may_decide(user=decider, decision=appeal.decision):
        raise ServiceError(code="not_found", message="No such appeal in your queue.", status_code=404)
    if appeal.status != AppealStatus.PENDING:
        raise ServiceError(
            code="already_decided", message=f"This appeal was already {appeal.status}.", status_code=409
        )
    decision = Decision.objects.select_for_update().get(pk=appeal.decision_id)
    now = timezone.now()
    data: dict[str, Any] = {}
    if uphold and decision.reversed_at is None:
        data = _reverse(decision=decision, actor=decider, response=response)
        decision.reversed_at = now
        decision.save(update_fields=["reversed_at"])
    appeal.status = AppealStatus.UPHELD if uphold else AppealStatus.DENIED
    appeal.decided_by, appeal.decided_at, appeal.response = decider, now, response
    appeal.save(update_fields=["status", "decided_by", "decided_at", "response"])
    audit(
        action=AuditAction.APPEAL_UPHELD if uphold else AuditAction.APPEAL_DENIED,
        actor=decider,
        worker_id=decision.worker_id,
        pool_id=decision.pool_id,
        decision=decision,
        appeal=appeal,
        summary=f"Appeal {'upheld' if uphold else 'denied'} by {decider.username}: {response}",
        data=data,
    )
    return appeal


def _reverse(*, decision: Decision, actor: User, response: str) -> dict[str, Any]:
    if decision.kind == DecisionKind.REJECTION:
        assert decision.answer_id is not None
        return answer_reinstate(answer_id=decision.answer_id)
    if decision.kind == DecisionKind.RESTRICTION:
        return _restriction_lift(decision=decision, actor=actor, response=response)
    return {"unblocked": True}


def _restriction_lift(*, decision: Decision, actor: User, response: str) -> dict[str, Any]:
    """Lift quality's restriction through quality's own service (staff only: appeal_may_decide saw to it)."""
    if decision.restriction_id is None:
        return {"restriction_lifted": False}
    restriction = quality_services.restriction_lift(
        restriction_id=decision.restriction_id, reason=f"Appeal upheld: {response}"[:2000], staff=actor
    )
    return {"restriction_lifted": True, "restriction_id": restriction.pk}


def decision_record_restriction(*, restriction: Any) -> Decision:
    """The decision behind one of quality's restrictions (in the transaction that creates it, and by the sync)."""
    return decision_record(
        worker_id=restriction.worker_id,
        kind=DecisionKind.RESTRICTION,
        reason=restriction.reason,
        figures=restriction.figures,
        pool_id=restriction.pool_id,
        created_by=restriction.created_by,
        restriction_id=restriction.pk,
    )


def decision_reverse_for_restriction(*, restriction_id: int, at: datetime | None = None) -> None:
    """Staff lifted a restriction: its decision no longer stands (in the transaction of the lift)."""
    Decision.objects.filter(restriction_id=restriction_id, reversed_at__isnull=True).update(
        reversed_at=at or timezone.now()
    )


def decisions_sync_restrictions(*, limit: int = 1000) -> int:
    """The periodic safety net: every restriction has its decision, and a lifted one's decision is reversed.

    The use cases that restrict record the decision in the same transaction; this catches rows made any other
    way (the admin site, a shell).
    """
    recorded = Decision.objects.filter(restriction_id=OuterRef("pk"))
    changed = 0
    for restriction in Restriction.objects.filter(~Exists(recorded)).order_by("id")[:limit]:
        with transaction.atomic():
            decision_record_restriction(restriction=restriction)
        changed += 1
    standing = Decision.objects.filter(
        kind=DecisionKind.RESTRICTION, reversed_at__isnull=True, restriction_id__isnull=False
    ).values("restriction_id")
    lifted = Restriction.objects.filter(pk__in=standing, lifted_at__isnull=False).values_list(
        "pk", "lifted_at"
    )[:limit]
    for restriction_id, lifted_at in lifted:
        changed += Decision.objects.filter(restriction_id=restriction_id, reversed_at__isnull=True).update(
            reversed_at=lifted_at
        )
    return changed


def answer_reinstate(*, answer_id: int) -> dict[str, Any]:
    """Accept a rejected answer and pay it, reversing the rejection's posting. Inside the caller's transaction.

    Where the money comes from: the rejection gave the answer's place and money back to the pool. If that place
    is still free in a running pool, the answer takes it back and is paid from the reservation; if another worker
    has filled it, or the pool has stopped, the requester's balance pays (402 if it cannot).
    """
    answer = Answer.objects.select_for_update(of=("self",)).get(pk=answer_id)
    if answer.status != AnswerStatus.REJECTED:
        raise ServiceError(
            code="not_rejected", message=f"This answer is {answer.status}, not rejected.", status_code=409
        )
    pool = Pool.objects.select_for_update(no_key=True).get(pk=answer.pool_id)
    running = pool.status in (PoolStatus.OPEN, PoolStatus.PAUSED)
    took_place = running and answer_place_retake(answer=answer)
    reward, fee = answer_reinstate_pay(answer=answer, pool=pool, from_reservation=took_place)
    Answer.objects.filter(pk=answer.pk).update(status=AnswerStatus.ACCEPTED, reviewed_at=timezone.now())
    return {
        "answer_id": answer.pk,
        "paid_to_worker": money_str(reward),
        "fee": money_str(fee),
        "paid_from": "pool reservation" if took_place else "requester balance",
    }


# ----------------------------------------------------------------------------------------------- ratings


def rating_save(
    *,
    worker: User,
    requester_id: int,
    pay_score: int,
    clarity: int,
    fairness: int,
    speed: int,
    comment: str = "",
) -> RequesterRating:
    """Rate a requester (or change one's rating) after at least 10 answers in their pools."""
    from fairness.selectors import answers_for_requester_count

    requester = User.objects.filter(pk=requester_id, role=Role.REQUESTER).first()
    if requester is None:
        raise ServiceError(code="not_found", message="No such requester.", status_code=404)
    scores = {"pay": pay_score, "clarity": clarity, "fairness": fairness, "speed": speed}
    for name, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ServiceError(
                code="invalid_request",
                message=f"{name} is a score from 1 to 5.",
                details={"fields": {name: ["1-5"]}},
            )
    comment = _text(comment, field="comment", required=False, limit=2000)
    answered = answers_for_requester_count(worker=worker, requester_id=requester.pk)
    if answered < RATING_MIN_ANSWERS:
        raise ServiceError(
            code="not_enough_answers",
            message=(
                f"You can rate a requester after {RATING_MIN_ANSWERS} answers in their pools; "
                f"you have {answered}."
            ),
            status_code=403,
        )
    rating, _ = RequesterRating.objects.update_or_create(
        worker=worker, requester=requester, defaults={**scores, "comment": comment}
    )
    return rating


# ------------------------------------------------------------------------------------------- care settings


def care_preferences_save(
    *, worker: User, categories: Iterable[str], daily_cap: int
) -> WorkerCarePreferences:
    wanted = set(categories)
    unknown = wanted - set(ContentWarning.values)
    if unknown:
        raise ServiceError(
            code="invalid_request", message=f"Unknown categories: {', '.join(sorted(unknown))}."
        )
    if isinstance(daily_cap, bool) or not isinstance(daily_cap, int) or not 0 <= daily_cap <= 1000:
        raise ServiceError(
            code="invalid_request",
            message="The daily cap is a whole number from 0 to 1000.",
            details={"fields": {"daily_cap": ["0-1000"]}},
        )
    with transaction.atomic():
        prefs, _ = WorkerCarePreferences.objects.update_or_create(
            worker=worker, defaults={"daily_cap": daily_cap}
        )
        ContentOptIn.objects.filter(worker=worker).exclude(category__in=wanted).delete()
        for category in sorted(wanted):
            ContentOptIn.objects.get_or_create(worker=worker, category=category)
    return prefs


# -------------------------------------------------------------------------------------- acceptance speed


def requesters_stats_refresh(*, sample: int = 200) -> int:
    """The periodic job: each requester's median time from submission to review over recent reviews."""
    now = timezone.now()
    count = 0
    for requester_id in User.objects.filter(role=Role.REQUESTER).values_list("pk", flat=True).iterator():
        rows = list(
            Answer.objects.filter(pool__requester_id=requester_id, reviewed_at__isnull=False)
            .order_by("-reviewed_at")
            .values_list("submitted_at", "reviewed_at", "status")[:sample]
        )
        seconds = [
            max(0, int((reviewed - submitted).total_seconds()))
            for submitted, reviewed, _ in rows
            if reviewed is not None
        ]
        rejected = sum(1 for *_, status in rows if status == AnswerStatus.REJECTED)
        RequesterStats.objects.update_or_create(
            requester_id=requester_id,
            defaults={
                "reviewed": len(rows),
                "median_review_seconds": pay.median(seconds) if seconds else None,
                "rejected_share": rejected / len(rows) if rows else None,
                "updated_at": now,
            },
        )
        count += 1
    return count


# --------------------------------------------------------------------------------------- erasing an account

ERASED_TEXT = "[erased at the author's request]"


@transaction.atomic(durable=True)
def account_erase(*, user: User, password: str) -> User:
    """Remove a person's personal data, keeping the ledger and the work whole under a pseudonym.

    The user row stays (ledger accounts, answers and pools refer to it), but its username becomes
    "deleted-<public id prefix>", the e-mail and names are cleared, the password and token stop working, and
    the free text the person wrote (appeal messages, rating comments) is cleared. Refused while money is still
    theirs to take out or pools of theirs are running, so nothing is lost by accident.
    """
    if not check_password(password or "", user.password):
        raise ServiceError(code="wrong_password", message="That is not your password.", status_code=403)
    user = User.objects.select_for_update().get(pk=user.pk)
    held = money_held_by(user=user)
    if held > 0:
        raise ServiceError(
            code="balance_not_empty",
            message=f"Your account still holds {money_str(held)}: withdraw it first, then delete the account.",
            status_code=409,
            details={"balance": money_str(held)},
        )
    if Pool.objects.filter(requester=user, status__in=[PoolStatus.OPEN, PoolStatus.PAUSED]).exists():
        raise ServiceError(
            code="pools_running",
            message="Close your running pools first, then delete the account.",
            status_code=409,
        )
    if withdrawal_in_flight(worker=user):
        raise ServiceError(
            code="withdrawal_in_flight",
            message="A withdrawal of yours is still being paid; delete the account once it is done.",
            status_code=409,
        )
    _give_back_active_assignment(worker=user)
    user.username = f"deleted-{user.public_id.hex[:12]}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["username", "email", "first_name", "last_name", "is_active", "password"])
    Token.objects.filter(user=user).delete()
    Appeal.objects.filter(decision__worker=user).exclude(message=ERASED_TEXT).update(message=ERASED_TEXT)
    RequesterRating.objects.filter(worker=user).exclude(comment="").update(comment="")
    WorkerCarePreferences.objects.filter(worker=user).delete()
    ContentOptIn.objects.filter(worker=user).delete()
    audit(
        action=AuditAction.ACCOUNT_ERASED,
        worker_id=user.pk,
        summary=f"Personal data of {user.username} erased at their request.",
    )
    return user
