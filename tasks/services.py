"""Writes for pools, tasks and assignments: the only code that changes a task's places.

Nothing here touches money, quality or fair work. Where a write needs them (opening a pool reserves its cost, an
answer is paid and scored), the use case in `workflows` calls these functions inside its own transaction, and
the functions that say "in the caller's transaction" open none of their own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.db import connection, transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from fairlabel.errors import ServiceError
from fairlabel.jobs import enqueue_on_commit
from tasks import answering, claims
from tasks.importing import TaskRow
from tasks.models import (
    Acceptance,
    Answer,
    AnswerStatus,
    Assignment,
    AssignmentStatus,
    Pool,
    PoolStatus,
    Task,
)

BULK_BATCH = 5000


@dataclass(frozen=True)
class PoolSettings:
    name: str
    instructions: str
    labels: list[str]
    reward: Decimal
    overlap: int = 1
    priority: int = 50
    golden_rate: float = 0.1
    assignment_ttl: int = 600
    # Quality.
    min_skill: float = 0.7
    min_golden: int = 5
    min_seconds: float | None = None
    aggregation_method: str = "ds"
    target_confidence: float | None = None
    min_overlap: int | None = None
    # Payment and worker care.
    acceptance: str = "instant"
    review_hours: int = 24
    content_warning: str | None = None
    allow_html: bool = False
    # The kind of question and its own settings, already checked by the type (quality/types).
    task_type: str = "single_choice"
    options: dict[str, Any] = field(default_factory=dict)


def pool_create(*, requester: User, settings: PoolSettings) -> Pool:
    return Pool.objects.create(
        requester=requester,
        name=settings.name,
        instructions=settings.instructions,
        labels=settings.labels,
        reward=settings.reward,
        overlap=settings.overlap,
        priority=settings.priority,
        golden_rate=settings.golden_rate,
        assignment_ttl=settings.assignment_ttl,
        min_skill=settings.min_skill,
        min_golden=settings.min_golden,
        min_seconds=settings.min_seconds,
        aggregation_method=settings.aggregation_method,
        target_confidence=settings.target_confidence,
        min_overlap=settings.min_overlap,
        acceptance=settings.acceptance,
        review_hours=settings.review_hours,
        content_warning=settings.content_warning,
        allow_html=settings.allow_html,
        task_type=settings.task_type,
        options=settings.options,
    )


def golden_slots_for(*, regular_slots: int, golden_rate: float) -> int:
    """Golden answers paid for alongside `regular_slots` regular ones, so golden items make up `golden_rate`."""
    if golden_rate <= 0 or regular_slots <= 0:
        return 0
    return math.ceil(regular_slots * golden_rate / (1 - golden_rate))


@dataclass(frozen=True)
class TasksAdded:
    """`regular_slots`: answers the new regular tasks need, which an open pool must reserve the cost of."""

    pool: Pool
    created: int
    regular_slots: int


def tasks_add(*, pool: Pool, rows: Iterable[TaskRow]) -> TasksAdded:
    """Insert tasks, in the caller's transaction (all or nothing with the reservation of their cost)."""
    pool = _locked_pool(pool)
    _refuse_unless_takes_tasks(pool)
    created = regular = 0
    batch: list[Task] = []
    for row in rows:
        golden = row.golden is not None
        batch.append(
            Task(
                pool=pool,
                data=row.data,
                golden_label=row.golden,
                external_id=row.external_id,
                max_answers=pool.overlap,
                remaining=0 if golden else pool.overlap,
            )
        )
        regular += 0 if golden else 1
        if len(batch) >= BULK_BATCH:
            Task.objects.bulk_create(batch)
            created += len(batch)
            batch = []
    if batch:
        Task.objects.bulk_create(batch)
        created += len(batch)
    return TasksAdded(pool=pool, created=created, regular_slots=regular * pool.overlap)


def pool_golden_slots_add(*, pool: Pool, golden_slots: int) -> None:
    """Golden places paid for alongside new regular ones (in the transaction that reserved their cost)."""
    if golden_slots:
        Pool.objects.filter(pk=pool.pk).update(golden_slots_left=F("golden_slots_left") + golden_slots)


def pool_regular_slots_to_open(*, pool: Pool) -> tuple[Pool, int]:
    """Lock a draft pool about to open and count the regular answers whose cost opening reserves.

    In the caller's transaction; refuses a pool that is not a draft or has no regular task.
    """
    pool = _locked_pool(pool)
    if pool.status != PoolStatus.DRAFT:
        raise ServiceError(
            code="invalid_status",
            message=f"Only a draft pool can be opened; this one is {pool.status}.",
            status_code=409,
        )
    regular_slots = (
        Task.objects.filter(pool=pool, golden_label__isnull=True).aggregate(slots=Sum("remaining"))["slots"]
        or 0
    )
    if regular_slots == 0:
        raise ServiceError(
            code="no_tasks", message="Upload at least one regular (non-golden) task before opening."
        )
    return pool, regular_slots


def pool_mark_open(*, pool: Pool, golden_slots: int) -> Pool:
    """The pool from `pool_regular_slots_to_open` goes live, its reservation made (in the same transaction)."""
    pool.golden_slots_left = golden_slots
    pool.status = PoolStatus.OPEN
    pool.opened_at = timezone.now()
    pool.save(update_fields=["golden_slots_left", "status", "opened_at"])
    return pool


def _cancel_active_assignments(*, pool: Pool) -> None:
    # Waits for submits in flight (they hold their assignment's lock), so none pays from a released reservation.
    active = Assignment.objects.select_for_update().filter(pool=pool, status=AssignmentStatus.ACTIVE)
    Assignment.objects.filter(pk__in=[a.pk for a in active]).update(status=AssignmentStatus.CANCELLED)


def pool_mark_closed(*, pool: Pool) -> Pool | None:
    """Stop serving the pool and cancel its assignments in flight, in the caller's transaction; None when the
    pool had already ended (closing twice does nothing)."""
    pool = _locked_pool(pool)
    if pool.status in (PoolStatus.CLOSED, PoolStatus.COMPLETED):
        return None
    pool.status = PoolStatus.CLOSED
    pool.closed_at = timezone.now()
    pool.save(update_fields=["status", "closed_at"])
    _cancel_active_assignments(pool=pool)
    return pool


def pool_mark_completed_if_done(*, pool_id: int) -> Pool | None:
    """Mark an open pool completed once every regular task has all its answers, in the caller's transaction;
    None when it is not open or not done. Safe to run any number of times."""
    pool = Pool.objects.select_for_update(no_key=True).filter(pk=pool_id, status=PoolStatus.OPEN).first()
    if pool is None:
        return None
    if Task.objects.filter(pool=pool, golden_label__isnull=True, answers_count__lt=F("max_answers")).exists():
        return None
    pool.status = PoolStatus.COMPLETED
    pool.closed_at = timezone.now()
    pool.save(update_fields=["status", "closed_at"])
    _cancel_active_assignments(pool=pool)
    return pool


# -------------------------------------------------------------------------------------------- task places
# A claim takes a place (tasks.claims), an answer fills it (tasks.answering); these are the other changes.


def answer_place_return(*, answer: Answer) -> None:
    """A rejected answer gives its place back, so another worker may answer the task."""
    if answer.is_golden:
        Pool.objects.filter(pk=answer.pool_id).update(golden_slots_left=F("golden_slots_left") + 1)
        Task.objects.filter(pk=answer.task_id).update(answers_count=F("answers_count") - 1)
    else:
        Task.objects.filter(pk=answer.task_id).update(
            remaining=F("remaining") + 1, answers_count=F("answers_count") - 1
        )


def answer_place_retake(*, answer: Answer) -> bool:
    """A reinstated answer takes a place again if its pool still has one free; False if none was left."""
    if answer.is_golden:
        took = Pool.objects.filter(pk=answer.pool_id, golden_slots_left__gt=0).update(
            golden_slots_left=F("golden_slots_left") - 1
        )
        if took:
            Task.objects.filter(pk=answer.task_id).update(answers_count=F("answers_count") + 1)
        return bool(took)
    return bool(
        Task.objects.filter(pk=answer.task_id, remaining__gt=0).update(
            remaining=F("remaining") - 1, answers_count=F("answers_count") + 1
        )
    )


def tasks_stop_serving(*, tasks: QuerySet[Task]) -> int:
    """Stop serving tasks: free places go, places held by assignments in flight stay (they may still be
    answered), so max_answers drops to answers + in flight and the task counts as complete once those land.
    The places-add-up invariant (remaining + active + submitted = max_answers) holds throughout."""
    return tasks.filter(remaining__gt=0, golden_label__isnull=True).update(
        max_answers=F("max_answers") - F("remaining"), remaining=0
    )


def tasks_serve_again(*, tasks: QuerySet[Task], overlap: int) -> int:
    """Serve stopped regular tasks again, up to the pool's overlap (which is paid for until the pool ends)."""
    return tasks.filter(golden_label__isnull=True, max_answers__lt=overlap).update(
        remaining=F("remaining") + (overlap - F("max_answers")), max_answers=overlap
    )


# ---------------------------------------------------------------------------------------------- assignment


def _locked_assignment(*, worker: User, assignment_id: int) -> Assignment:
    assignment = answering.assignment_locked(worker=worker, assignment_id=assignment_id)
    if assignment is None:
        raise ServiceError(code="not_found", message="No such assignment of yours.", status_code=404)
    return assignment


@dataclass(frozen=True)
class SubmitOutcome:
    """`answer` is None when the assignment had expired (its place was given back)."""

    answer: Answer | None
    answer_completed_task: bool = False


def _refuse_if_not_active(assignment: Assignment, now: Any) -> bool:
    """Raise for a finished assignment; return True for an expired one (its place is returned by the caller)."""
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise ServiceError(
            code="already_submitted", message="This assignment was already submitted.", status_code=409
        )
    if assignment.status == AssignmentStatus.SKIPPED:
        raise ServiceError(code="already_skipped", message="This assignment was skipped.", status_code=409)
    if assignment.status in (AssignmentStatus.EXPIRED, AssignmentStatus.CANCELLED):
        raise ServiceError(
            code="expired",
            message="This assignment expired or its pool stopped; the task went back to the pool.",
            status_code=410,
        )
    return assignment.expires_at <= now


class AnswerJudge(Protocol):
    """The pool's task type, as answer_record needs it (quality.types.AnswerJudge): tasks does not know types."""

    def answer_text(self, *, pool: Pool, raw: object) -> str:
        """The answer's canonical text; a ServiceError saying what is wrong if it does not fit the pool."""
        ...

    def golden_correct(self, *, pool: Pool, answer_text: str, golden_text: str) -> bool: ...


def answer_record(*, worker: User, assignment_id: int, answer: object, judge: AnswerJudge) -> SubmitOutcome:
    """Write the worker's answer and update the task's places and the worker's counters, in the caller's
    transaction (the submit use case, which pays and scores the answer in the same one). Nothing is written
    when `judge` refuses the answer."""
    now = timezone.now()
    assignment = _locked_assignment(worker=worker, assignment_id=assignment_id)
    if _refuse_if_not_active(assignment, now):
        claims.expire(assignment=assignment)
        return SubmitOutcome(answer=None)
    pool = assignment.pool
    label = judge.answer_text(pool=pool, raw=answer)
    task = assignment.task
    is_golden = assignment.is_golden
    correct = None
    if is_golden and task.golden_label is not None:
        correct = judge.golden_correct(pool=pool, answer_text=label, golden_text=task.golden_label)
    duration_ms = max(0, int((now - assignment.created_at).total_seconds() * 1000))
    answer = Answer(
        assignment=assignment,
        task=task,
        pool=pool,
        worker=worker,
        label=label,
        submitted_at=now,
        duration_ms=duration_ms,
        is_golden=is_golden,
        correct=correct,
        flagged_fast=pool.min_seconds is not None and duration_ms < pool.min_seconds * 1000,
        # Review pools: pending (and the reward pending) until the requester or the review window decides.
        status=AnswerStatus.PENDING if pool.acceptance == Acceptance.REVIEW else AnswerStatus.ACCEPTED,
        reward=pool.reward,
    )
    answering.answer_write(answer=answer)
    task_done = not is_golden and task.answers_count + 1 >= task.max_answers
    return SubmitOutcome(answer=answer, answer_completed_task=task_done)


@transaction.atomic
def assignment_skip(*, worker: User, assignment_id: int) -> None:
    """Give the place back; the unique (task, worker) row keeps the task from coming back to this worker."""
    now = timezone.now()
    assignment = _locked_assignment(worker=worker, assignment_id=assignment_id)
    if _refuse_if_not_active(assignment, now):
        claims.expire(assignment=assignment)
        return
    claims.expire(assignment=assignment)
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SKIPPED)


def assignments_expire_stale(*, batch: int = 200, limit: int = 20_000) -> int:
    """The periodic tidy-up: claims already reuse expired places, this only keeps the table honest.

    Short transactions of `batch` assignments, so no task row stays locked long enough to hold up a submit.
    """
    total = 0
    while total < limit:
        done = _expire_stale_batch(size=min(batch, limit - total))
        total += done
        if done < batch:
            break
    return total


@transaction.atomic
def _expire_stale_batch(*, size: int) -> int:
    stale = list(
        Assignment.objects.select_for_update(skip_locked=True)
        .filter(status=AssignmentStatus.ACTIVE, expires_at__lte=timezone.now())
        .order_by("expires_at")
        .only("id", "task_id", "pool_id", "is_golden")[:size]
    )
    for assignment in stale:
        claims.expire(assignment=assignment)
    return len(stale)


# ------------------------------------------------------------------------------------- bulk import

COPY_COLUMNS = "pool_id, data, golden_label, external_id, max_answers, answers_count, remaining"


def tasks_import(
    *,
    pool_id: int,
    rows: Iterable[TaskRow],
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 20_000,
) -> TasksAdded:
    """Insert a large upload with COPY, all or nothing with the reservation of its cost (as `tasks_add`).

    Runs inside the caller's transaction (the import job's), so a bad row anywhere, or a crash, leaves nothing.
    The pool is not locked while rows stream in, only at the end to re-check its status and reserve: a lock
    held for the whole minute would stall the claims and submits of an open pool that touch the pool row.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("tasks_import must run inside the caller's transaction")
    pool = Pool.objects.get(pk=pool_id)
    _refuse_unless_takes_tasks(pool)
    created, regular = _copy_tasks(pool=pool, rows=rows, on_progress=on_progress, every=progress_every)
    pool = Pool.objects.select_for_update(no_key=True).get(pk=pool_id)
    _refuse_unless_takes_tasks(pool)
    return TasksAdded(pool=pool, created=created, regular_slots=regular * pool.overlap)


def _refuse_unless_takes_tasks(pool: Pool) -> None:
    if pool.status not in (PoolStatus.DRAFT, PoolStatus.OPEN):
        raise ServiceError(
            code="pool_not_editable",
            message=f"Tasks can be added to a draft or open pool; this one is {pool.status}.",
            status_code=409,
        )


def _copy_tasks(
    *, pool: Pool, rows: Iterable[TaskRow], on_progress: Callable[[int], None] | None, every: int
) -> tuple[int, int]:
    created = regular = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with raw.copy(f"COPY {Task._meta.db_table} ({COPY_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                golden = row.golden is not None
                copy.write_row(
                    (
                        pool.pk,
                        row.data_json or json.dumps(row.data, ensure_ascii=False),
                        row.golden,
                        row.external_id,
                        pool.overlap,
                        0,
                        0 if golden else pool.overlap,
                    )
                )
                created += 1
                regular += 0 if golden else 1
                if on_progress is not None and created % every == 0:
                    on_progress(created)
    return created, regular


# ------------------------------------------------------------------- pause, resume, settings


def _locked_pool(pool: Pool) -> Pool:
    return Pool.objects.select_for_update(no_key=True).get(pk=pool.pk)


@transaction.atomic
def pool_pause(*, pool: Pool) -> Pool:
    """Stop serving new tasks; assignments in flight may still be submitted and the money stays reserved."""
    pool = _locked_pool(pool)
    if pool.status == PoolStatus.PAUSED:
        return pool
    if pool.status != PoolStatus.OPEN:
        raise ServiceError(
            code="invalid_status",
            message=f"Only an open pool can be paused; this one is {pool.status}.",
            status_code=409,
        )
    pool.status = PoolStatus.PAUSED
    pool.save(update_fields=["status"])
    return pool


@transaction.atomic
def pool_resume(*, pool: Pool) -> Pool:
    pool = _locked_pool(pool)
    if pool.status == PoolStatus.OPEN:
        return pool
    if pool.status != PoolStatus.PAUSED:
        raise ServiceError(
            code="invalid_status",
            message=f"Only a paused pool can be resumed; this one is {pool.status}.",
            status_code=409,
        )
    pool.status = PoolStatus.OPEN
    pool.save(update_fields=["status"])
    # Answers in flight while paused may have finished the last tasks; completion only looks at open pools.
    enqueue_on_commit("pool_check_completion", pool.pk)
    return pool


MAX_INSTRUCTIONS = 20_000


@transaction.atomic
def pool_update_instructions(*, pool: Pool, instructions: str) -> Pool:
    """Instructions can change while the pool runs (a clarification for workers); not after it ended."""
    pool = _locked_pool(pool)
    if pool.status in (PoolStatus.CLOSED, PoolStatus.COMPLETED):
        raise ServiceError(
            code="invalid_status",
            message=f"The instructions of a {pool.status} pool cannot change.",
            status_code=409,
        )
    if len(instructions) > MAX_INSTRUCTIONS:
        raise ServiceError(
            code="invalid_request",
            message=f"Instructions are limited to {MAX_INSTRUCTIONS} characters.",
            details={"fields": {"instructions": ["too long"]}},
        )
    pool.instructions = instructions
    pool.save(update_fields=["instructions"])
    return pool


@transaction.atomic
def pool_set_priority(*, pool: Pool, priority: int) -> Pool:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 100:
        raise ServiceError(
            code="invalid_request",
            message="Priority is a whole number from 0 to 100.",
            details={"fields": {"priority": ["0-100"]}},
        )
    pool = _locked_pool(pool)
    pool.priority = priority
    pool.save(update_fields=["priority"])
    return pool


# ------------------------------------------------------------------------------------------ reward


def pool_reward_change_allowed(*, pool: Pool, reward: Decimal) -> Pool:
    """Lock the pool and refuse a reward it cannot take, in the caller's transaction: a running pool's reward
    can only go up (workers chose it for the reward it showed), an ended pool's not at all."""
    pool = _locked_pool(pool)
    if reward <= 0:
        raise ServiceError(code="invalid_request", message="The reward must be greater than zero.")
    if pool.status in (PoolStatus.CLOSED, PoolStatus.COMPLETED):
        raise ServiceError(
            code="invalid_status",
            message=f"The reward of a {pool.status} pool cannot change.",
            status_code=409,
        )
    if pool.status != PoolStatus.DRAFT and reward < pool.reward:
        raise ServiceError(
            code="reward_lowered",
            message="A running pool's reward can only go up: workers chose it for the reward it showed.",
            status_code=409,
        )
    return pool


def pool_unpaid_places(*, pool: Pool) -> int:
    """Answers the pool may still pay for: free regular places, golden places and tasks in workers' hands."""
    free = Task.objects.filter(pool=pool, golden_label__isnull=True).aggregate(n=Sum("remaining"))["n"] or 0
    in_hand = Assignment.objects.filter(pool=pool, status=AssignmentStatus.ACTIVE).count()
    return free + pool.golden_slots_left + in_hand


def pool_reward_save(*, pool: Pool, reward: Decimal) -> Pool:
    pool.reward = reward
    pool.save(update_fields=["reward"])
    return pool
