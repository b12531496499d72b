"""Reads for fair work: which pools a worker may see (blocks, the floor, content warnings and the daily cap),
the feed's fairness figures, decisions and appeals, ratings, and the worker's own data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from accounts.models import User
from fairlabel.numbers import parse_id
from fairness import pay
from fairness.models import (
    RATING_MIN_ANSWERS,
    Appeal,
    AppealStatus,
    AuditLog,
    ContentOptIn,
    Decision,
    DecisionKind,
    PoolPay,
    RequesterRating,
    RequesterStats,
    WorkerCarePreferences,
)
from tasks.models import Answer, AnswerStatus, Assignment, Pool

DEFAULT_DAILY_CAP = 50


def today_start(now: datetime | None = None) -> datetime:
    """Midnight UTC: the daily cap on warned tasks starts again then."""
    now = now or timezone.now()
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def pool_fair_for_worker_sql(*, now: datetime) -> tuple[str, dict[str, Any]]:
    """Which open pools a worker may claim from now, as an SQL condition on the pool `p` for `%(worker)s`.

    Out: everything if the worker is blocked; pools measured below the pay floor; pools with a content warning
    the worker has not opted into; and every warned pool once the worker has had their daily cap of warned tasks
    today. Each condition is an uncorrelated or per-pool indexed subquery: no cost grows with a pool's answers.
    SQL rather than a queryset because it is part of every claim's one pool query, where building the
    queryset cost ten times what PostgreSQL spent running it (docs/benchmarks.md, "Assignment").
    """
    sql = """
        NOT EXISTS (SELECT 1 FROM fairness_decision d
                    WHERE d.worker_id = %(worker)s AND d.kind = %(fair_block)s AND d.reversed_at IS NULL)
        AND NOT EXISTS (SELECT 1 FROM fairness_poolpay pp WHERE pp.pool_id = p.id AND pp.below_floor)
        AND (p.content_warning IS NULL OR (
            EXISTS (SELECT 1 FROM fairness_contentoptin o
                    WHERE o.worker_id = %(worker)s AND o.category = p.content_warning)
            AND (SELECT COUNT(*) FROM tasks_assignment wa JOIN tasks_pool wp ON wp.id = wa.pool_id
                 WHERE wa.worker_id = %(worker)s AND wa.created_at >= %(fair_today)s
                   AND wp.content_warning IS NOT NULL)
                < COALESCE((SELECT c.daily_cap FROM fairness_workercarepreferences c
                            WHERE c.worker_id = %(worker)s), %(fair_default_cap)s)
        ))
    """
    return sql, {
        "fair_block": DecisionKind.BLOCK.value,
        "fair_today": connection.ops.adapt_datetimefield_value(today_start(now)),
        "fair_default_cap": DEFAULT_DAILY_CAP,
    }


@dataclass(frozen=True)
class CareStatus:
    categories: list[str]
    daily_cap: int
    warned_today: int

    @property
    def left_today(self) -> int:
        return max(0, self.daily_cap - self.warned_today)


def care_status(*, worker: User) -> CareStatus:
    prefs = WorkerCarePreferences.objects.filter(worker=worker).first()
    return CareStatus(
        categories=sorted(ContentOptIn.objects.filter(worker=worker).values_list("category", flat=True)),
        daily_cap=prefs.daily_cap if prefs is not None else DEFAULT_DAILY_CAP,
        warned_today=Assignment.objects.filter(
            worker=worker, created_at__gte=today_start(), pool__content_warning__isnull=False
        ).count(),
    )


# --------------------------------------------------------------------------------------------------- feed


@dataclass(frozen=True)
class RatingSummary:
    count: int
    pay: float
    clarity: float
    fairness: float
    speed: float

    @property
    def overall(self) -> float:
        return round((self.pay + self.clarity + self.fairness + self.speed) / 4, 1)


@dataclass(frozen=True)
class PoolFairness:
    effective_hourly_pay: Decimal | None
    below_floor: bool
    floor_reward: Decimal | None
    answers_measured: int
    median_seconds: float | None
    rating: RatingSummary | None
    median_review_seconds: int | None

    @property
    def pay_class(self) -> str:
        """How the pay compares with the floor: good (≥ 1.5x), ok (≥ floor), low (below), or unknown."""
        if self.effective_hourly_pay is None:
            return "unknown"
        if self.effective_hourly_pay < pay.floor():
            return "low"
        return "good" if self.effective_hourly_pay >= pay.floor() * Decimal("1.5") else "ok"


def ratings_for_requesters(*, requester_ids: list[int]) -> dict[int, RatingSummary]:
    rows = (
        RequesterRating.objects.filter(requester_id__in=requester_ids)
        .values("requester_id")
        .annotate(
            n=Count("id"),
            pay=Avg("pay"),
            clarity=Avg("clarity"),
            fairness=Avg("fairness"),
            speed=Avg("speed"),
        )
    )
    return {
        row["requester_id"]: RatingSummary(
            count=row["n"],
            pay=round(float(row["pay"]), 1),
            clarity=round(float(row["clarity"]), 1),
            fairness=round(float(row["fairness"]), 1),
            speed=round(float(row["speed"]), 1),
        )
        for row in rows
    }


def fairness_for_pools(*, pools: list[Pool]) -> dict[int, PoolFairness]:
    """The feed's fairness figures for these pools: three queries whatever the number of pools."""
    ids = [p.pk for p in pools]
    requester_ids = sorted({p.requester_id for p in pools})
    measured = {row.pool_id: row for row in PoolPay.objects.filter(pool_id__in=ids)}
    ratings = ratings_for_requesters(requester_ids=requester_ids)
    review = dict(
        RequesterStats.objects.filter(requester_id__in=requester_ids).values_list(
            "requester_id", "median_review_seconds"
        )
    )
    result = {}
    for pool in pools:
        row = measured.get(pool.pk)
        median_ms = row.median_ms if row is not None else None
        result[pool.pk] = PoolFairness(
            # Recomputed from the current reward so a raise shows at once, before the next measurement.
            effective_hourly_pay=pay.hourly_pay(reward=pool.reward, median_ms=median_ms)
            if median_ms
            else None,
            below_floor=bool(row and row.below_floor),
            floor_reward=row.floor_reward if row is not None else None,
            answers_measured=row.answers if row is not None else 0,
            median_seconds=round(median_ms / 1000, 1) if median_ms else None,
            rating=ratings.get(pool.requester_id),
            median_review_seconds=review.get(pool.requester_id),
        )
    return result


def pool_fairness(*, pool: Pool) -> PoolFairness:
    return fairness_for_pools(pools=[pool])[pool.pk]


# ---------------------------------------------------------------------------------------------- decisions


def decisions_for_worker(*, worker: User) -> QuerySet[Decision]:
    return (
        Decision.objects.filter(worker=worker)
        .select_related("pool", "appeal", "answer")
        .order_by("-created_at", "-id")
    )


def appeals_queue_for(*, user: User, status: str = AppealStatus.PENDING) -> QuerySet[Appeal]:
    """The appeals this person decides: a requester their pools' rejections; staff restrictions and blocks first,
    then rejection appeals, which staff may also decide as the platform's arbiter."""
    appeals = Appeal.objects.filter(status=status).select_related(
        "decision", "decision__pool", "decision__worker", "decision__answer__task"
    )
    if user.is_staff:
        rejections_last = Case(When(decision__kind=DecisionKind.REJECTION, then=Value(1)), default=Value(0))
        return appeals.order_by(rejections_last, "created_at", "id")
    appeals = appeals.filter(decision__kind=DecisionKind.REJECTION, decision__pool__requester=user)
    return appeals.order_by("created_at", "id")


@dataclass(frozen=True)
class WorkerRecord:
    """What the person deciding an appeal sees beside it: the worker's record, under a pseudonym."""

    pseudonym: str
    joined: datetime
    answers: int
    answers_here: int
    rejected: int
    golden_answered: int
    golden_correct: int
    decisions: int
    appeals_upheld: int
    appeals_denied: int

    @property
    def golden_accuracy(self) -> float | None:
        return round(self.golden_correct / self.golden_answered, 3) if self.golden_answered else None


def worker_record(*, worker: User, requester: User | None = None) -> WorkerRecord:
    answers = Answer.objects.filter(worker=worker)
    counts = answers.aggregate(
        total=Count("id"),
        rejected=Count("id", filter=Q(status=AnswerStatus.REJECTED)),
        golden=Count("id", filter=Q(is_golden=True)),
        golden_correct=Count("id", filter=Q(is_golden=True, correct=True)),
    )
    here = answers.filter(pool__requester=requester).count() if requester is not None else counts["total"]
    appeals = Appeal.objects.filter(decision__worker=worker).values("status").annotate(n=Count("id"))
    by_status = {row["status"]: row["n"] for row in appeals}
    return WorkerRecord(
        pseudonym=worker.pseudonym,
        joined=worker.date_joined,
        answers=counts["total"],
        answers_here=here,
        rejected=counts["rejected"],
        golden_answered=counts["golden"],
        golden_correct=counts["golden_correct"],
        decisions=Decision.objects.filter(worker=worker).count(),
        appeals_upheld=by_status.get(AppealStatus.UPHELD, 0),
        appeals_denied=by_status.get(AppealStatus.DENIED, 0),
    )


def audit_search(*, query: str = "", action: str = "", limit: int = 200) -> QuerySet[AuditLog]:
    """Staff's search: by worker or actor name or pseudonym, pool id, decision id or words in the summary."""
    rows = AuditLog.objects.select_related("actor", "worker", "decision", "appeal").order_by(
        "-created_at", "-id"
    )
    if action:
        rows = rows.filter(action=action)
    query = query.strip()
    if query:
        match = (
            Q(summary__icontains=query) | Q(worker__username__iexact=query) | Q(actor__username__iexact=query)
        )
        prefix = query[2:].lower() if query.lower().startswith("w-") else ""
        if 0 < len(prefix) <= 32 and all(c in "0123456789abcdef" for c in prefix):
            # A pseudonym is the public id's hex prefix: a range of ids, which both databases can compare.
            low, high = uuid.UUID(prefix.ljust(32, "0")), uuid.UUID(prefix.ljust(32, "f"))
            match |= Q(worker__public_id__gte=low, worker__public_id__lte=high)
        number = parse_id(query.lstrip("#"))
        if number is not None:
            match |= Q(pool_id=number) | Q(decision_id=number) | Q(appeal_id=number)
        rows = rows.filter(match)
    return rows[:limit]


# ------------------------------------------------------------------------------------------------ ratings


def answers_for_requester_count(*, worker: User, requester_id: int) -> int:
    return Answer.objects.filter(worker=worker, pool__requester_id=requester_id).count()


SCORE_LABELS = [
    ("pay", "Pay"),
    ("clarity", "Clarity of instructions"),
    ("fairness", "Fairness of review"),
    ("speed", "Speed of acceptance"),
]


@dataclass(frozen=True)
class Rateable:
    requester: User
    answers: int
    rating: RequesterRating | None

    @property
    def score_rows(self) -> list[tuple[str, str, int | None]]:
        """(field, label, the worker's current score or None) for the rating form."""
        return [
            (name, label, getattr(self.rating, name) if self.rating is not None else None)
            for name, label in SCORE_LABELS
        ]


def requesters_rateable_by(*, worker: User) -> list[Rateable]:
    """Requesters whose pools this worker answered, with the count and the worker's current rating, if any."""
    rows = (
        Answer.objects.filter(worker=worker)
        .values("pool__requester_id")
        .annotate(n=Count("id"))
        .filter(n__gte=RATING_MIN_ANSWERS)
        .order_by("-n")
    )
    counts = {row["pool__requester_id"]: row["n"] for row in rows}
    requesters = User.objects.in_bulk(list(counts))
    mine = {
        r.requester_id: r
        for r in RequesterRating.objects.filter(worker=worker, requester_id__in=list(counts))
    }
    return [Rateable(requesters[rid], n, mine.get(rid)) for rid, n in counts.items() if rid in requesters]


def rating_comments_for_requester(*, requester: User, limit: int = 50) -> list[str]:
    """Unsigned and undated, newest first: the requester learns what was said, not who said it or when."""
    return list(
        RequesterRating.objects.filter(requester=requester)
        .exclude(comment="")
        .order_by("-updated_at")
        .values_list("comment", flat=True)[:limit]
    )


# --------------------------------------------------------------------------------------- explained quality


@dataclass(frozen=True)
class MissedGolden:
    pool_name: str
    task_data: dict[str, Any]
    your_label: str
    expected: str
    submitted_at: datetime


def golden_missed_for_worker(*, worker: User, limit: int = 200) -> list[MissedGolden]:
    """Golden items the worker got wrong, with the expected answer, only once the pool has closed.

    While a pool runs its golden items stay secret, or they would stop measuring anything.
    """
    rows = (
        Answer.objects.filter(worker=worker, is_golden=True, correct=False, pool__closed_at__isnull=False)
        .select_related("pool", "task")
        .order_by("-submitted_at")[:limit]
    )
    return [
        MissedGolden(
            pool_name=row.pool.name,
            task_data=row.task.data,
            your_label=row.label,
            expected=row.task.golden_label or "",
            submitted_at=row.submitted_at,
        )
        for row in rows
    ]


def decisions_standing(*, kind: str, limit: int = 500) -> QuerySet[Decision]:
    return (
        Decision.objects.filter(kind=kind, reversed_at__isnull=True)
        .select_related("worker", "created_by")
        .order_by("-created_at")[:limit]
    )
