"""Reads for pools, tasks and answers. Every read of a requester's object goes through `pool_for_requester`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, Count, F, Func, Q, QuerySet, Sum
from django.db.models.functions import Cast

from accounts.models import User
from fairlabel.errors import ServiceError
from fairlabel.numbers import parse_id
from fairlabel.rows import from_row, select_list
from fairlabel.sql import prepared_cursor
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
  {conditions}
ORDER BY p.priority DESC, p.id
"""


@dataclass(frozen=True)
class PoolCondition:
    """An SQL condition on the pool `p` for the worker `%(worker)s`, with its own named parameters: how the
    apps above tasks (fair work, quality) say which open pools a worker may not take from."""

    sql: str
    params: dict[str, Any]


def pools_open_with_counts(
    *, worker: User, conditions: list[PoolCondition], pool_id: int | None = None
) -> list[tuple[Pool, tuple[int, int]]]:
    """The open pools this worker may take tasks from under `conditions`, highest priority first, each with
    the worker's (claimed, golden_claimed) in it: the claim needs them to place golden items, and reading them
    here saves it a query. One statement, however many conditions."""
    sql = _POOLS_OPEN_SQL.format(
        columns=select_list(Pool, "p"),
        one_pool="AND p.id = %(pool)s" if pool_id is not None else "",
        conditions="".join(f"AND {condition.sql}\n  " for condition in conditions),
    )
    params: dict[str, Any] = {"worker": worker.pk, "open": PoolStatus.OPEN.value}
    for condition in conditions:
        params.update(condition.params)
    if pool_id is not None:
        params["pool"] = pool_id
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(from_row(Pool, row[:-2]), (int(row[-2]), int(row[-1]))) for row in rows]


def pools_tasks_left(*, pool_ids: list[int]) -> dict[int, int]:
    """Regular tasks with a free place, per pool."""
    return dict(
        Task.objects.filter(pool_id__in=pool_ids, golden_label__isnull=True, remaining__gt=0)
        .values("pool_id")
        .annotate(n=Count("id"))
        .values_list("pool_id", "n")
    )


@dataclass(frozen=True)
class Progress:
    tasks: int
    golden: int
    completed: int
    answers: int  # every answer, golden ones included
    answers_needed: int = 0  # regular answers still to come

    @property
    def percent(self) -> int:
        return int(100 * self.completed / self.tasks) if self.tasks else 0


def pools_progress(*, pool_ids: list[int]) -> dict[int, Progress]:
    """Progress of many pools in one grouped query; a pool without tasks shows zeros."""
    regular = Q(golden_label__isnull=True)
    rows = (
        Task.objects.filter(pool_id__in=pool_ids)
        .values("pool_id")
        .annotate(
            n_tasks=Count("id", filter=regular),
            n_golden=Count("id", filter=~regular),
            n_completed=Count("id", filter=regular & Q(answers_count__gte=F("max_answers"))),
            n_answers=Sum("answers_count"),
            n_needed=Sum(F("max_answers") - F("answers_count"), filter=regular),
        )
        .order_by()
        .values_list("pool_id", "n_tasks", "n_golden", "n_completed", "n_answers", "n_needed")
    )
    found = {
        pool_id: Progress(
            tasks=tasks, golden=golden, completed=completed, answers=answers or 0, answers_needed=needed or 0
        )
        for pool_id, tasks, golden, completed, answers, needed in rows
    }
    return {pk: found.get(pk, Progress(tasks=0, golden=0, completed=0, answers=0)) for pk in pool_ids}


def pool_progress(*, pool: Pool) -> Progress:
    return pools_progress(pool_ids=[pool.pk])[pool.pk]


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
