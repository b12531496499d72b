"""Reads for the requester dashboard and pool page: every figure for any number of pools in a fixed number
of grouped queries (never one query per pool), so the dashboard costs the same with 5 pools or 500.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Avg, Count, F, QuerySet
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.db.models.functions.datetime import TruncBase
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from fairlabel.money import money_str
from payouts.selectors import answers_cost, pool_reservations
from quality.selectors import skill_expression
from tasks.models import Answer, Pool, PoolStatus, Task, WorkerPoolStats
from tasks.selectors import pools_progress

DASHBOARD_LIMIT = 1000

_SKILL = skill_expression(correct=F("golden_correct"), answered=F("golden_answered"))


@dataclass(frozen=True)
class PoolStats:
    tasks: int = 0  # regular tasks
    golden: int = 0
    completed: int = 0
    answers: int = 0  # every answer, golden ones included
    answers_needed: int = 0  # regular answers still to come
    answers_last_hour: int = 0  # regular answers in the last hour
    budget: Decimal = Decimal(0)  # everything ever reserved for the pool
    spent: Decimal = Decimal(0)  # what left the reservation for answers, net of rejections
    reserved: Decimal = Decimal(0)  # what the reservation still holds
    mean_skill: float | None = None
    scored_workers: int = 0

    @property
    def percent(self) -> int:
        return int(100 * self.completed / self.tasks) if self.tasks else 0


def pool_stats(*, pool_ids: list[int], now: datetime | None = None) -> dict[int, PoolStats]:
    """Figures for many pools in five grouped queries (tasks, recent answers, ledger flows and balances,
    worker skill)."""
    if not pool_ids:
        return {}
    now = now or timezone.now()
    values: dict[int, dict[str, Any]] = {pk: {} for pk in pool_ids}
    for pool_id, progress in pools_progress(pool_ids=pool_ids).items():
        values[pool_id].update(
            tasks=progress.tasks,
            golden=progress.golden,
            completed=progress.completed,
            answers=progress.answers,
            answers_needed=progress.answers_needed,
        )
    for pool_id, count in (
        Answer.objects.filter(
            pool_id__in=pool_ids, submitted_at__gte=now - timedelta(hours=1), is_golden=False
        )
        .values("pool_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("pool_id", "n")
    ):
        values[pool_id]["answers_last_hour"] = count
    for pool_id, money in pool_reservations(pool_ids=pool_ids).items():
        values[pool_id].update(budget=money.reserved_in, reserved=money.held, spent=money.spent)
    for pool_id, skill, workers in (
        WorkerPoolStats.objects.filter(pool_id__in=pool_ids, golden_answered__gt=0)
        .values("pool_id")
        .annotate(skill=Avg(_SKILL), workers=Count("id"))
        .order_by()
        .values_list("pool_id", "skill", "workers")
    ):
        values[pool_id].update(mean_skill=skill, scored_workers=workers)
    return {pk: PoolStats(**v) for pk, v in values.items()}


def dashboard_pools(*, requester: User, status: str = "", search: str = "") -> QuerySet[Pool]:
    pools = Pool.objects.filter(requester=requester)
    if status in PoolStatus.values:
        pools = pools.filter(status=status)
    if search.strip():
        pools = pools.filter(name__icontains=search.strip())
    return pools.order_by("-created_at", "-id")


@dataclass(frozen=True)
class DashboardRow:
    pool: Pool
    stats: PoolStats
    url: str = ""  # the pool page; its sub-pages hang below it

    @property
    def spent(self) -> str:
        return money_str(self.stats.spent)

    @property
    def budget(self) -> str:
        return money_str(self.stats.budget)

    @property
    def window_minutes(self) -> float:
        """The last hour, or the time since the pool opened if that is shorter (a pool open for 5 minutes
        would otherwise show a twelfth of its pace)."""
        if self.pool.opened_at is None:
            return 60.0
        minutes = (timezone.now() - self.pool.opened_at).total_seconds() / 60
        return min(60.0, max(1.0, minutes))

    @property
    def per_minute(self) -> float:
        return self.stats.answers_last_hour / self.window_minutes

    @property
    def rate(self) -> str:
        return f"{self.per_minute:.1f}"

    @property
    def skill(self) -> str:
        return "—" if self.stats.mean_skill is None else f"{self.stats.mean_skill:.2f}"

    @property
    def eta(self) -> str:
        """Time to completion at the last hour's pace, only for a pool that is being worked on."""
        if self.pool.status == PoolStatus.COMPLETED:
            return "done"
        if self.pool.status not in (PoolStatus.OPEN, PoolStatus.PAUSED):
            return "—"
        if self.stats.answers_needed == 0:
            return eta_text(0)
        if not self.stats.answers_last_hour:
            return eta_text(None)
        return eta_text(int(self.stats.answers_needed / self.per_minute * 60))


_STATUS_LABELS = dict(PoolStatus.choices)


@dataclass(frozen=True, slots=True)
class RowView:
    """One dashboard row as text, made in one Python pass: the template then only places strings (at 500
    rows, resolving dotted lookups, localising numbers and calling methods in the template costs more than
    the queries)."""

    pk: int
    url: str
    name: str
    status: str
    status_label: str
    priority: str
    percent: str
    completed: str
    tasks: str
    rate: str
    eta: str
    spent: str
    budget: str
    skill: str
    scored: str

    @classmethod
    def of(cls, row: DashboardRow) -> RowView:
        pool, stats = row.pool, row.stats
        return cls(
            pk=pool.pk,
            url=row.url,
            name=pool.name,
            status=pool.status,
            status_label=_STATUS_LABELS.get(pool.status, pool.status),
            priority=str(pool.priority),
            percent=str(stats.percent),
            completed=str(stats.completed),
            tasks=str(stats.tasks),
            rate=row.rate,
            eta=row.eta,
            spent=row.spent,
            budget=row.budget,
            skill=row.skill,
            scored=str(stats.scored_workers) if stats.scored_workers else "",
        )


def _pool_url(pool_id: int) -> str:
    # One reverse() for the whole table: resolving a URL per row is a tenth of the page's time at 500 rows.
    return reverse("pool-detail", args=[0])[:-2] + f"{pool_id}/"


def dashboard_rows(*, requester: User, status: str = "", search: str = "") -> list[RowView]:
    pools = list(
        dashboard_pools(requester=requester, status=status, search=search).only(
            "id", "name", "status", "priority", "opened_at", "created_at"
        )[:DASHBOARD_LIMIT]
    )
    stats = pool_stats(pool_ids=[p.pk for p in pools])
    prefix = reverse("pool-detail", args=[0])[:-2]
    return [RowView.of(DashboardRow(pool=p, stats=stats[p.pk], url=f"{prefix}{p.pk}/")) for p in pools]


def dashboard_row(*, pool: Pool) -> RowView:
    return RowView.of(
        DashboardRow(pool=pool, stats=pool_stats(pool_ids=[pool.pk])[pool.pk], url=_pool_url(pool.pk))
    )


# ------------------------------------------------------------------------------------------------ pool page


@dataclass(frozen=True)
class CostEstimate:
    spent: Decimal
    final: Decimal  # spent plus what the answers still needed (and their golden share) will cost
    budget: Decimal


def pool_cost_estimate(*, pool: Pool, stats: PoolStats) -> CostEstimate:
    if pool.status in (PoolStatus.CLOSED, PoolStatus.COMPLETED):
        return CostEstimate(spent=stats.spent, final=stats.spent, budget=stats.budget)
    still_to_pay = answers_cost(
        reward=pool.reward, golden_rate=pool.golden_rate, regular=stats.answers_needed
    )
    final = stats.spent + still_to_pay.total
    return CostEstimate(spent=stats.spent, final=final, budget=stats.budget)


@dataclass(frozen=True)
class Timeline:
    hours: list[datetime]  # the start of each hour with answers
    counts: list[int]  # regular answers in that hour


def pool_timeline(*, pool: Pool) -> Timeline:
    """Regular answers per hour (one grouped query on the (pool, submitted_at) index)."""
    rows = list(
        Answer.objects.filter(pool=pool, is_golden=False)
        .annotate(hour=TruncHour("submitted_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by("hour")
        .values_list("hour", "n")
    )
    return Timeline(hours=[h for h, _ in rows], counts=[n for _, n in rows])


@dataclass(frozen=True)
class ProgressSeries:
    start: datetime
    end: datetime
    points: list[tuple[float, int]]  # (share of the time from start to end, regular answers so far)
    target: int  # regular answers the pool needs in all


def pool_progress_series(*, pool: Pool, stats: PoolStats, now: datetime | None = None) -> ProgressSeries:
    """Answers collected over time, in minutes, hours or days depending on how long the pool has run."""
    now = now or timezone.now()
    first = (
        Answer.objects.filter(pool=pool, is_golden=False)
        .order_by("submitted_at")
        .values_list("submitted_at", flat=True)
        .first()
    )
    start = min(d for d in (pool.opened_at, first, now) if d is not None)
    end = (
        pool.closed_at if pool.closed_at and pool.status in (PoolStatus.CLOSED, PoolStatus.COMPLETED) else now
    )
    age = end - start
    trunc: type[TruncBase]
    if age <= timedelta(hours=6):
        trunc, step = TruncMinute, timedelta(minutes=1)
    elif age <= timedelta(days=14):
        trunc, step = TruncHour, timedelta(hours=1)
    else:
        trunc, step = TruncDay, timedelta(days=1)
    buckets = (
        Answer.objects.filter(pool=pool, is_golden=False)
        .annotate(bucket=trunc("submitted_at"))
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by("bucket")
        .values_list("bucket", "n")
    )
    span = max((end - start).total_seconds(), 1.0)
    points, total = [(0.0, 0)], 0
    for bucket, count in buckets:
        total += count
        at = min(bucket + step, end)
        points.append((max(0.0, min(1.0, (at - start).total_seconds() / span)), total))
    if points[-1][0] < 1.0:
        points.append((1.0, total))
    answered = stats.tasks * pool.overlap - stats.answers_needed
    return ProgressSeries(start=start, end=end, points=points, target=max(answered + stats.answers_needed, 1))


def pool_label_distribution(*, pool: Pool) -> list[tuple[str, int]]:
    """Regular answers per label, in the pool's label order."""
    counts = dict(
        Answer.objects.filter(pool=pool, is_golden=False)
        .values("label")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("label", "n")
    )
    return [(label, counts.get(label, 0)) for label in pool.labels]


def pool_skill_histogram(*, pool: Pool, bins: int = 10) -> list[int]:
    """How many workers (with at least one golden answer) fall in each tenth of the skill scale."""
    histogram = [0] * bins
    for skill in (
        WorkerPoolStats.objects.filter(pool=pool, golden_answered__gt=0)
        .annotate(skill=_SKILL)
        .values_list("skill", flat=True)
    ):
        histogram[min(bins - 1, int(skill * bins))] += 1
    return histogram


@dataclass(frozen=True)
class GoldenStat:
    task_id: int
    external_id: str | None
    preview: str
    golden_label: str
    answers: int
    correct: int
    top_wrong: tuple[str, int] | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answers if self.answers else None

    @property
    def suspicious(self) -> bool:
        """Most workers chose one other label: the golden answer itself may be wrong."""
        return bool(self.answers >= 3 and self.top_wrong and self.top_wrong[1] > self.answers / 2)


def _preview(data: Any, limit: int = 90) -> str:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return data[:limit]
    text = " · ".join(str(v) for v in data.values()) if isinstance(data, dict) else str(data)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pool_golden_stats(*, pool: Pool, limit: int = 50) -> list[GoldenStat]:
    """Accuracy per golden item, least accurate first, to find a golden answer that is itself wrong."""
    golden = {
        t.pk: t
        for t in Task.objects.filter(pool=pool, golden_label__isnull=False).only(
            "id", "external_id", "data", "golden_label"
        )[:5000]
    }
    votes: dict[int, Counter[str]] = {}
    for task_id, label, n in (
        Answer.objects.filter(pool=pool, is_golden=True, task_id__in=list(golden))
        .values("task_id", "label")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("task_id", "label", "n")
    ):
        votes.setdefault(task_id, Counter())[label] = n
    stats = []
    for task_id, task in golden.items():
        counter = votes.get(task_id, Counter())
        total = sum(counter.values())
        correct = counter.get(task.golden_label or "", 0)
        wrong = [(label, n) for label, n in counter.most_common() if label != task.golden_label]
        stats.append(
            GoldenStat(
                task_id=task_id,
                external_id=task.external_id,
                preview=_preview(task.data),
                golden_label=task.golden_label or "",
                answers=total,
                correct=correct,
                top_wrong=wrong[0] if wrong else None,
            )
        )
    stats.sort(key=lambda s: (s.accuracy is None, s.accuracy if s.accuracy is not None else 0, -s.answers))
    return stats[:limit]


@dataclass(frozen=True)
class ResultPreview:
    task_id: int
    external_id: str | None
    preview: str
    label: str
    confidence: float
    answers: int
    votes: list[tuple[str, int]] = field(default_factory=list)


def pool_results_preview(*, pool: Pool, limit: int = 12) -> list[ResultPreview]:
    """Results with the lowest confidence first: where a second look pays off most.

    The stored results of quality's latest aggregation when there are any (the label and confidence the
    results download gives); otherwise the majority vote and its share, computed from the answers.
    """
    from quality.models import TaskResult

    stored = list(
        TaskResult.objects.filter(pool=pool)
        .order_by("confidence", "-answers", "task_id")
        .values_list("task_id", "label", "confidence", "answers")[:limit]
    )
    labels: dict[int, str] = {task_id: label for task_id, label, _, _ in stored}
    picked = [(task_id, float(conf), int(total)) for task_id, _, conf, total in stored]
    if not picked:
        picked = _lowest_majority_shares(pool=pool, limit=limit)
    if not picked:
        return []
    ids = [task_id for task_id, _, _ in picked]
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=ids).only("id", "external_id", "data")}
    votes: dict[int, Counter[str]] = {}
    for task_id, label, n in (
        Answer.objects.filter(task_id__in=ids, is_golden=False)
        .values("task_id", "label")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("task_id", "label", "n")
    ):
        votes.setdefault(task_id, Counter())[label] = n
    order = {label: i for i, label in enumerate(pool.labels)}
    preview = []
    for task_id, confidence, total in picked:
        counter = votes.get(task_id, Counter())
        ranked = sorted(counter.items(), key=lambda item: (-item[1], order.get(item[0], len(order))))
        task = tasks.get(task_id)
        preview.append(
            ResultPreview(
                task_id=task_id,
                external_id=task.external_id if task else None,
                preview=_preview(task.data) if task else "",
                label=labels.get(task_id) or (ranked[0][0] if ranked else ""),
                confidence=round(confidence, 4),
                answers=total,
                votes=ranked,
            )
        )
    return preview


def _lowest_majority_shares(*, pool: Pool, limit: int) -> list[tuple[int, float, int]]:
    """(task id, share of the most common label, answers) for the tasks with the lowest share."""
    answer_table = Answer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT task_id, max(n) * 1.0 / sum(n) AS confidence, sum(n) AS total
            FROM (SELECT task_id, label, count(*) AS n FROM {answer_table}
                  WHERE pool_id = %s AND is_golden = %s GROUP BY task_id, label) AS votes
            GROUP BY task_id
            ORDER BY confidence, total DESC, task_id
            LIMIT %s
            """,
            [pool.pk, False, limit],
        )
        return [(int(task_id), float(conf), int(total)) for task_id, conf, total in cursor.fetchall()]


def eta_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds == 0:
        return "done"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days"
