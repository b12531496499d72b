"""Reads for pools, tasks and answers. Every read of a requester's object goes through `pool_for_requester`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Count, F, Func, Q, QuerySet, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import User
from fairlabel.errors import ServiceError
from fairlabel.numbers import parse_id
from fairlabel.rows import from_row, select_list
from fairlabel.sql import prepared_cursor
from fairness.selectors import PoolFairness, fairness_for_pools, pool_fair_for_worker_sql
from quality.selectors import pool_unrestricted_sql, results_for_pool
from tasks.content import image_field_blocked, image_field_source, task_html_clean
from tasks.models import Answer, Assignment, Pool, PoolStatus, Task


def pool_for_requester(*, pool_id: object, requester: User) -> Pool:
    """The requester's own pool; anyone else's (or a malformed id) is simply not found."""
    pk = parse_id(pool_id)
    pool = Pool.objects.filter(pk=pk, requester=requester).first() if pk else None
    if pool is None:
        raise ServiceError(code="not_found", message="No such pool.", status_code=404)
    return pool


def pools_for_requester(*, requester: User) -> QuerySet[Pool]:
    return Pool.objects.filter(requester=requester).order_by("-created_at", "-id")


_POOLS_OPEN_SQL = """
SELECT {columns}, COALESCE(s.claimed, 0) AS worker_claimed, COALESCE(s.golden_claimed, 0) AS worker_golden_claimed
FROM tasks_pool p
LEFT JOIN tasks_workerpoolstats s ON s.pool_id = p.id AND s.worker_id = %(worker)s
WHERE p.status = %(open)s {one_pool}
  AND {fair}
  AND {unrestricted}
ORDER BY p.priority DESC, p.id
"""


def pools_open_for_worker(
    *, worker: User, pool_id: int | None = None, now: datetime | None = None
) -> list[Pool]:
    """The open pools this worker may take tasks from, highest priority first: the one place that decides it."""
    return [pool for pool, _ in pools_open_with_counts(worker=worker, pool_id=pool_id, now=now)]


def pools_open_with_counts(
    *, worker: User, pool_id: int | None = None, now: datetime | None = None
) -> list[tuple[Pool, tuple[int, int]]]:
    """`pools_open_for_worker`, each pool with the worker's (claimed, golden_claimed) in it: the claim needs
    them to place golden items, and reading them here saves it a query.

    Fair work (issue 7: blocks, the pay floor, content warnings, the daily cap) and quality (issue 4:
    restrictions) each contribute their condition to this one query.
    """
    fair, fair_params = pool_fair_for_worker_sql(now=now or timezone.now())
    sql = _POOLS_OPEN_SQL.format(
        columns=select_list(Pool, "p"),
        one_pool="AND p.id = %(pool)s" if pool_id is not None else "",
        fair=fair,
        unrestricted=pool_unrestricted_sql(),
    )
    params = {"worker": worker.pk, "open": PoolStatus.OPEN.value, **fair_params}
    if pool_id is not None:
        params["pool"] = pool_id
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(from_row(Pool, row[:-2]), (int(row[-2]), int(row[-1]))) for row in rows]


@dataclass(frozen=True)
class Progress:
    tasks: int
    golden: int
    completed: int
    answers: int

    @property
    def percent(self) -> int:
        return int(100 * self.completed / self.tasks) if self.tasks else 0


def pool_progress(*, pool: Pool) -> Progress:
    counts = Task.objects.filter(pool=pool).aggregate(
        tasks=Count("id", filter=Q(golden_label__isnull=True)),
        golden=Count("id", filter=Q(golden_label__isnull=False)),
        completed=Count("id", filter=Q(golden_label__isnull=True, answers_count__gte=F("max_answers"))),
        answers=Sum("answers_count"),
    )
    return Progress(
        tasks=counts["tasks"],
        golden=counts["golden"],
        completed=counts["completed"],
        answers=counts["answers"] or 0,
    )


@dataclass(frozen=True)
class FeedPool:
    pool: Pool
    tasks_left: int
    hourly_estimate: Decimal | None
    # Pay against the floor, the requester's rating and review speed (issue 7).
    fairness: PoolFairness | None = None


def feed_for_worker(*, worker: User) -> list[FeedPool]:
    """Open pools with work left for this worker, with an honest pay-per-hour estimate once answers exist.

    The estimate comes from the pool's cached pay measurement (fairness.PoolPay, refreshed by a periodic job),
    so the feed costs the same few queries however many answers its pools hold.
    """
    pools = pools_open_for_worker(worker=worker)
    if not pools:
        return []
    ids = [p.pk for p in pools]
    left = dict(
        Task.objects.filter(pool_id__in=ids, golden_label__isnull=True, remaining__gt=0)
        .values("pool_id")
        .annotate(n=Count("id"))
        .values_list("pool_id", "n")
    )
    fair = fairness_for_pools(pools=pools)
    feed = []
    for pool in pools:
        figures = fair[pool.pk]
        feed.append(
            FeedPool(
                pool=pool,
                tasks_left=left.get(pool.pk, 0),
                hourly_estimate=figures.effective_hourly_pay,
                fairness=figures,
            )
        )
    return [item for item in feed if item.tasks_left > 0]


@dataclass(frozen=True)
class TaskField:
    name: str
    text: str
    html: str | None  # sanitised markup, only for pools that opted in to HTML
    image: str | None  # the field is an image the worker's browser may load: its src
    image_blocked: bool  # the field names an image on a host the platform does not load from


def task_fields_for_worker(*, assignment: Assignment) -> list[TaskField]:
    """The task's data as a worker sees it: text by default, sanitised HTML only where the pool opts in."""
    fields = []
    for name, value in assignment.task.data.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        html = task_html_clean(text) if assignment.pool.allow_html else None
        fields.append(
            TaskField(
                name=str(name).replace("_", " "),
                text=text,
                html=html,
                image=image_field_source(value),
                image_blocked=image_field_blocked(value),
            )
        )
    return fields


ANSWER_COLUMNS = ["task_id", "external_id", "worker", "label", "submitted_at", "duration_ms"]
RESULT_COLUMNS = ["task_id", "external_id", "label", "confidence", "answers"]


EXPORT_CHUNK = 5000


def answers_rows(*, pool: Pool) -> Iterator[dict[str, Any]]:
    """Every answer, oldest first, read through a server-side cursor (the export wraps it in a transaction).

    The timestamp and the worker's public id come out of the database as text: turning a million timestamps
    into aware datetimes and back into ISO strings costs several seconds of Python.
    """
    answers = (
        Answer.objects.filter(pool=pool)
        .order_by("id")
        .annotate(
            submitted=Func(
                F("submitted_at"),
                template="""to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
                output_field=CharField(),
            ),
            worker_text=Cast("worker__public_id", output_field=CharField()),
        )
    )
    rows = answers.values_list(
        "task_id", "task__external_id", "worker_text", "label", "submitted", "duration_ms"
    )
    for task_id, external_id, public_id, label, submitted, duration_ms in rows.iterator(
        chunk_size=EXPORT_CHUNK
    ):
        worker = public_id.replace("-", "")
        yield {
            "task_id": task_id,
            "external_id": external_id,
            "worker": f"w-{worker[:16]}",
            "label": label,
            "submitted_at": submitted,
            "duration_ms": duration_ms,
        }


def results_rows(*, pool: Pool, method: str | None = None) -> Iterator[dict[str, Any]]:
    """One row per regular task, in task id order: the aggregated label, its confidence and the answers.

    The pool's method (default Dawid-Skene seeded with the golden items) or `method` (ds, mv, wawa); see
    quality.selectors.results_for_pool. An unknown method raises ServiceError before any row is read.
    """
    return results_for_pool(pool=pool, method=method)
