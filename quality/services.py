"""Writes for quality: golden-skill restrictions, aggregation runs and their stored results, dynamic overlap.

Entry points from other apps (each a single call, so the submit and completion code stays readable):

- `answer_recorded(answer=...)`, from the submit use case (workflows): applies the skill rule after a
  golden answer, checks dynamic overlap after a regular one, and asks for a (debounced) aggregation run.
- `pool_ended(pool_id=...)`, from pool completion and closing: asks for the final run.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import Role, User
from fairlabel.errors import ServiceError
from fairlabel.jobs import enqueue, enqueue_on_commit
from fairlabel.rows import from_row, select_list
from fairlabel.sql import prepared_cursor
from quality import estimate
from quality.calibration import Calibration
from quality.loading import pool_raw_answers, results_write, text_results_write
from quality.models import (
    AggregationRun,
    AggregationTrigger,
    PoolAggregationState,
    Restriction,
    RestrictionKind,
    TaskResult,
    WorkerConfusion,
)
from quality.selectors import (
    PoolAggregation,
    TypedAggregation,
    aggregation_from_raw,
    typed_aggregation_compute,
)
from quality.skill import skill_figures, skill_reason, skill_verdict
from quality.types import DEFAULT_TYPE, task_type_of
from quality.types.base import FloatArray, IntArray, TypeAnswers, label_confidence_of
from tasks.models import AggregationMethod, Answer, AnswerStatus, Pool, PoolStatus, Task, WorkerPoolStats
from tasks.services import tasks_serve_again, tasks_stop_serving

log = logging.getLogger(__name__)

# Answers wait at most this long for a run to start, so results stay under a minute behind the answers
# while a pool runs (plus the run itself: about 10 s for a million answers).
DEBOUNCE_SECONDS = 30
# A run holds the pool's lease this long at most (the actor's time limit); a dead run's lease expires.
RUN_LEASE = timedelta(minutes=15)
# A run that was due this long ago and has not started lost its message: the safety job sends it again.
OVERDUE_AFTER = timedelta(seconds=60)
RUNS_KEPT_PER_POOL = 50
MAX_REASON = 2000

# ------------------------------------------------------------------------------------- submit-time hooks


def answer_recorded(*, answer: Answer) -> Restriction | None:
    """Called inside the submit transaction, after the worker's pool stats were updated; returns the
    restriction the answer brought about, if any, for the caller to record as a decision."""
    pool = answer.pool
    restriction = None
    if answer.is_golden:
        restriction = restriction_check_after_golden(worker=answer.worker, pool=pool)
    elif pool.target_confidence is not None:
        task_stop_if_confident(task_id=answer.task_id, pool=pool)
    # robust: the answer is committed by then; a failure to ask for a run must not turn into an error for
    # the worker (the safety job notices answers newer than the results).
    transaction.on_commit(partial(pool_aggregation_request, pool_id=pool.pk), robust=True)
    return restriction


def pool_ended(*, pool_id: int) -> None:
    """Called in the transaction that completes or closes a pool: the final run, as soon as it commits."""
    transaction.on_commit(partial(pool_aggregation_request, pool_id=pool_id, delay_seconds=0), robust=True)


# ------------------------------------------------------------------------------------------ restrictions


def restriction_check_after_golden(*, worker: User, pool: Pool) -> Restriction | None:
    """The skill rule, after a golden answer was scored: restrict once min_golden golden answers are in and
    the smoothed accuracy is below min_skill. Runs in the submit transaction, so the next claim sees it.

    After a lift only golden answers given since then count (a fresh start; see Restriction.lift_figures).
    """
    counts = (
        WorkerPoolStats.objects.filter(worker=worker, pool=pool)
        .values_list("golden_answered", "golden_correct")
        .first()
    )
    if counts is None:
        return None
    latest = Restriction.objects.filter(worker=worker, pool=pool).order_by("-created_at", "-id").first()
    if latest is not None and latest.is_active:
        return None
    answered, correct = counts
    counted_since = None
    if latest is not None and latest.lifted_at is not None:
        answered -= int(latest.lift_figures.get("golden_answered", 0))
        correct -= int(latest.lift_figures.get("golden_correct", 0))
        counted_since = latest.lifted_at.isoformat()
    verdict = skill_verdict(
        answered=max(0, answered),
        correct=max(0, correct),
        min_skill=pool.min_skill,
        min_golden=pool.min_golden,
    )
    if not verdict.restrict:
        return None
    try:
        # A savepoint: if staff restricted the worker a moment ago, the unique index refuses this row and
        # the submit carries on instead of failing.
        with transaction.atomic():
            restriction = Restriction.objects.create(
                worker=worker,
                pool=pool,
                kind=RestrictionKind.LOW_SKILL,
                reason=skill_reason(verdict, counted_since=counted_since),
                figures=skill_figures(verdict, counted_since=counted_since),
            )
            return restriction
    except IntegrityError:
        return None


def _clean_reason(reason: str, *, what: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise ServiceError(code="reason_required", message=f"Say why you {what}: the worker will read it.")
    if len(cleaned) > MAX_REASON:
        raise ServiceError(code="reason_too_long", message=f"Keep the reason under {MAX_REASON} characters.")
    return cleaned


def restriction_impose(*, worker: User, pool: Pool | None, reason: str, staff: User) -> Restriction:
    """Staff keep a worker out of one pool (or, with pool None, out of every pool), saying why; in the
    caller's transaction, which records the decision the worker sees."""
    if not staff.is_staff:
        raise ServiceError(
            code="permission_denied", message="Only staff can restrict workers.", status_code=403
        )
    if worker.role != Role.WORKER:
        raise ServiceError(code="not_a_worker", message="Only workers can be restricted.")
    text = _clean_reason(reason, what="restrict this worker")
    figures: dict[str, object] = {}
    if pool is not None:
        stats = WorkerPoolStats.objects.filter(worker=worker, pool=pool).first()
        if stats is not None:
            verdict = skill_verdict(
                answered=stats.golden_answered,
                correct=stats.golden_correct,
                min_skill=pool.min_skill,
                min_golden=pool.min_golden,
            )
            figures = skill_figures(verdict, counted_since=None)
    try:
        with transaction.atomic():
            restriction = Restriction.objects.create(
                worker=worker,
                pool=pool,
                kind=RestrictionKind.STAFF,
                reason=text,
                figures=figures,
                created_by=staff,
            )
            return restriction
    except IntegrityError:
        raise ServiceError(
            code="already_restricted",
            message="This worker already has an active restriction there; lift it first to change it.",
            status_code=409,
        ) from None


def restriction_lift(*, restriction_id: int, reason: str, staff: User) -> Restriction:
    """Staff lift a restriction, saying why, in the caller's transaction (which reverses its decision). The
    skill rule then counts only golden answers given after now."""
    if not staff.is_staff:
        raise ServiceError(
            code="permission_denied", message="Only staff can lift restrictions.", status_code=403
        )
    text = _clean_reason(reason, what="lift this restriction")
    restriction = Restriction.objects.select_for_update().filter(pk=restriction_id).first()
    if restriction is None:
        raise ServiceError(code="not_found", message="No such restriction.", status_code=404)
    if restriction.lifted_at is not None:
        raise ServiceError(
            code="already_lifted", message="This restriction was already lifted.", status_code=409
        )
    lift_figures: dict[str, object] = {}
    if restriction.pool_id is not None:
        counts = (
            WorkerPoolStats.objects.filter(worker_id=restriction.worker_id, pool_id=restriction.pool_id)
            .values("golden_answered", "golden_correct")
            .first()
        )
        lift_figures = dict(counts) if counts else {"golden_answered": 0, "golden_correct": 0}
    restriction.lifted_at = timezone.now()
    restriction.lifted_by = staff
    restriction.lift_reason = text
    restriction.lift_figures = lift_figures
    restriction.save(update_fields=["lifted_at", "lifted_by", "lift_reason", "lift_figures"])
    return restriction


# -------------------------------------------------------------------------------------- dynamic overlap


def pool_quality_settings_problem(
    *,
    overlap: int,
    min_skill: float,
    min_golden: int,
    target_confidence: float | None,
    min_overlap: int | None,
) -> tuple[str, str] | None:
    """(field, message) for quality settings that cannot work together, or None."""
    perfect = skill_verdict(
        answered=min_golden, correct=min_golden, min_skill=min_skill, min_golden=min_golden
    )
    if perfect.restrict:
        return (
            "min_skill",
            f"With min_golden={min_golden}, even a worker who answers every golden item correctly has skill "
            f"({min_golden} + 1) / ({min_golden} + 2) = {perfect.skill:.2f}, below min_skill={min_skill}: "
            "everyone would be restricted. Raise min_golden or lower min_skill.",
        )
    if min_overlap is not None and target_confidence is None:
        return ("min_overlap", "min_overlap only applies together with target_confidence.")
    if min_overlap is not None and min_overlap > overlap:
        return ("min_overlap", f"min_overlap ({min_overlap}) cannot exceed overlap ({overlap}).")
    return None


def min_overlap_for(pool: Pool) -> int:
    """Answers a task needs before its confidence may stop it (1 when the pool does not say)."""
    return max(1, min(pool.min_overlap or 1, pool.overlap))


def task_stop_if_confident(*, task_id: int, pool: Pool) -> bool:
    """Between runs: estimate the task from its answers (single_choice: with the latest run's worker estimates;
    other types: see _estimate_typed_task), store that estimate as its result, and stop serving the task if it
    reached the pool's target confidence.

    Runs in the submit transaction, which already holds the task's row lock (answers_count was updated).
    """
    target = pool.target_confidence
    if target is None:
        return False
    task = Task.objects.filter(pk=task_id).values("answers_count", "remaining").first()
    if task is None or task["remaining"] == 0 or task["answers_count"] < min_overlap_for(pool):
        return False  # nothing left to save, or not enough answers yet
    given = list(
        Answer.objects.filter(task_id=task_id)
        .exclude(status=AnswerStatus.REJECTED)
        .order_by("worker_id")
        .values_list("worker_id", "label")
    )
    if pool.task_type == DEFAULT_TYPE:
        found = _estimate_single_choice(pool=pool, given=given)
    else:
        found = _estimate_typed_task(pool=pool, task_id=task_id, given=[text for _, text in given])
    if found is None:
        return False
    label, answer, confidence, counted, label_confidence = found
    TaskResult.objects.bulk_create(
        [
            TaskResult(
                task_id=task_id,
                pool=pool,
                method=pool.aggregation_method,
                label=label,
                answer=answer,
                label_confidence=label_confidence,
                confidence=confidence,
                answers=counted,
                updated_at=timezone.now(),
            )
        ],
        update_conflicts=True,
        unique_fields=["task"],
        update_fields=[
            "method",
            "label",
            "answer",
            "label_confidence",
            "confidence",
            "answers",
            "updated_at",
        ],
    )
    if confidence < target:
        return False
    stopped = tasks_stop_serving(tasks=Task.objects.filter(pk=task_id))
    if stopped:
        enqueue_on_commit("pool_check_completion", pool.pk, robust=True)
    return bool(stopped)


# (result text, result JSON or None, confidence, answers counted, {label: p} for multi_choice or None)
_Estimate = tuple[str, Any, float, int, dict[str, float] | None]


def _estimate_single_choice(*, pool: Pool, given: list[tuple[int, str]]) -> _Estimate | None:
    position = {name: i for i, name in enumerate(pool.labels)}
    answers = [(worker_id, position[label]) for worker_id, label in given if label in position]
    if len(answers) < min_overlap_for(pool):
        return None
    workers = np.array([w for w, _ in answers], dtype=np.int64)
    labels = np.array([g for _, g in answers], dtype=np.int64)
    found = _estimate_task(pool=pool, workers=workers, given=labels)
    if found is None:
        return None
    label, confidence = found
    return pool.labels[label], None, confidence, len(answers), None


def _estimate_typed_task(*, pool: Pool, task_id: int, given: list[str]) -> _Estimate | None:
    """A task of another type, from its answers alone: the type's estimate_alone where it has one (multi_choice,
    by each label's vote), else its own aggregation on this task, whose confidence reads only the task's own
    answers (the share that agree, the share of workers who drew each box), so it equals what the next run
    stores."""
    task_type = task_type_of(pool)
    if len(given) < min_overlap_for(pool):
        return None
    values = [task_type.answer_value(text) for text in given]
    data = None
    if task_type.data_fields:
        fields = Task.objects.filter(pk=task_id).values_list("data", flat=True).first() or {}
        data = [{name: fields.get(name) for name in task_type.data_fields}]
    estimate_one = task_type.estimate_alone or task_type.aggregate
    result = estimate_one(
        TypeAnswers(
            task=np.zeros(len(values), dtype=np.int64),
            worker=np.arange(len(values), dtype=np.int64),  # one answer per worker and task
            values=values,
            n_tasks=1,
            n_workers=len(values),
            task_data=data,
        ),
        labels=list(pool.labels),
        options=pool.options,
    )
    answer, confidence = result.answers[0], float(result.confidence[0])
    if answer is None:
        return None
    label_confidence = (
        None
        if result.label_confidence is None
        else label_confidence_of(result.label_confidence[0], labels=pool.labels)
    )
    return _result_text(answer), answer, float(np.clip(confidence, 0.0, 1.0)), len(values), label_confidence


def _estimate_task(*, pool: Pool, workers: np.ndarray, given: np.ndarray) -> tuple[int, float] | None:
    """The task's label and confidence from its answers and the latest run's estimates, the confidence
    calibrated as that run calibrated its own (the run's calibration is for the pool's method only)."""
    k = len(pool.labels)
    state = (
        PoolAggregationState.objects.filter(pool=pool)
        .values("class_prior", "mean_confusion", "calibration", "method")
        .first()
    )
    method = pool.aggregation_method
    if method == AggregationMethod.AUTO:
        # The method the latest run chose; before any run, Dawid-Skene (which waits for that run).
        method = state["method"] if state is not None and state["method"] else AggregationMethod.DAWID_SKENE
    calibration = Calibration.from_json(
        state["calibration"] if state is not None and state["method"] == method else None
    )
    if method == AggregationMethod.MAJORITY_VOTE:
        return estimate.estimate_vote(label_idx=given, n_labels=k, calibration=calibration)
    known = {
        worker_id: (matrix, answers, agreed)
        for worker_id, matrix, answers, agreed in WorkerConfusion.objects.filter(
            pool=pool, worker_id__in=workers.tolist()
        ).values_list("worker_id", "matrix", "answers", "agreed")
    }
    if method == AggregationMethod.WAWA:
        weights = np.array(
            [
                estimate.wawa_weight(agreed=known[w][2], answers=known[w][1]) if w in known else 0.5
                for w in workers.tolist()
            ]
        )
        return estimate.estimate_vote(label_idx=given, n_labels=k, weights=weights, calibration=calibration)
    if state is None or state["class_prior"] is None or state["mean_confusion"] is None:
        return None  # no run yet: nothing to judge the workers by; the first run decides
    mean = np.array(state["mean_confusion"], dtype=np.float64)
    confusion = np.stack(
        [np.array(known[w][0], dtype=np.float64) if w in known else mean for w in workers.tolist()]
    )
    if confusion.shape[1:] != (k, k):
        return None  # stored under other labels (cannot happen while labels are fixed)
    return estimate.estimate_dawid_skene(
        label_idx=given,
        confusion=confusion,
        class_prior=np.array(state["class_prior"], dtype=np.float64),
        calibration=calibration,
    )


@transaction.atomic
def pool_overlap_adjust(*, pool_id: int) -> tuple[int, int]:
    """After a run: stop the tasks whose stored result reached the target with enough answers, and serve
    again any stopped task whose confidence fell below it (never beyond the pool's overlap, which is paid
    for until the pool ends). Returns (stopped, reopened).

    Locks the pool row first, as completion does, so a task is never reopened in a pool that just completed.
    """
    pool = Pool.objects.select_for_update().filter(pk=pool_id).first()
    if pool is None or pool.target_confidence is None:
        return 0, 0
    if pool.status not in (PoolStatus.OPEN, PoolStatus.PAUSED):
        return 0, 0
    target = pool.target_confidence
    stopped = tasks_stop_serving(
        tasks=Task.objects.filter(
            pool=pool,
            quality_result__answers__gte=min_overlap_for(pool),
            quality_result__confidence__gte=target,
        )
    )
    reopened = tasks_serve_again(
        tasks=Task.objects.filter(pool=pool, quality_result__confidence__lt=target), overlap=pool.overlap
    )
    if stopped:
        enqueue_on_commit("pool_check_completion", pool.pk, robust=True)
    return stopped, reopened


# ------------------------------------------------------------------------------------- aggregation runs


def pool_aggregate(
    *, pool: Pool, method: str | None = None, trigger: str = AggregationTrigger.MANUAL
) -> AggregationRun:
    """Aggregate every answer of the pool and store the results, the workers' confusion matrices and a run
    record; then apply dynamic overlap. Safe to run any number of times."""
    method = method or pool.aggregation_method
    as_of = timezone.now()
    started = time.perf_counter()
    if pool.task_type != DEFAULT_TYPE:
        # Other types read their answers as text and aggregate by their own maths (quality/types); loading and
        # computing are one step there, timed as load.
        typed = typed_aggregation_compute(pool=pool)
        loaded = computed_at = time.perf_counter()
        run = _store_typed(pool=pool, computed=typed, method=method, as_of=as_of, trigger=trigger)
    else:
        raw = pool_raw_answers(pool=pool)
        loaded = time.perf_counter()
        computed = aggregation_from_raw(
            method=method,
            n_labels=len(pool.labels),
            task_id=raw.task_id,
            worker_id=raw.worker_id,
            label=raw.label,
            gold_task_id=raw.gold_task_id,
            gold_label=raw.gold_label,
        )
        del raw
        computed_at = time.perf_counter()
        run = _store(pool=pool, computed=computed, as_of=as_of, trigger=trigger)
    saved = time.perf_counter()
    stopped, reopened = pool_overlap_adjust(pool_id=pool.pk)
    finished = time.perf_counter()
    AggregationRun.objects.filter(pk=run.pk).update(
        load_ms=int((loaded - started) * 1000),
        compute_ms=int((computed_at - loaded) * 1000),
        save_ms=int((saved - computed_at) * 1000),
        duration_ms=int((finished - started) * 1000),
        stopped_tasks=stopped,
        reopened_tasks=reopened,
    )
    run.refresh_from_db()
    log.info(
        "aggregated pool %s (%s): %d answers, %d tasks, %d workers in %d ms (load %d, compute %d, save %d)",
        pool.pk,
        method,
        run.answers,
        run.tasks,
        run.workers,
        run.duration_ms,
        run.load_ms,
        run.compute_ms,
        run.save_ms,
    )
    return run


def _store(*, pool: Pool, computed: PoolAggregation, as_of: datetime, trigger: str) -> AggregationRun:
    result = computed.result
    k = len(pool.labels)
    keep = (~computed.golden) & (result.answers > 0) & (result.labels >= 0)
    # Per worker: answers counted and those equal to the aggregated label (golden tasks: the true label).
    agree = (computed.label_idx == result.labels[computed.task_idx]).astype(np.float64)
    n_workers = computed.worker_id.size
    answered = np.bincount(computed.worker_idx, minlength=n_workers)
    agreed = np.bincount(computed.worker_idx, weights=agree, minlength=n_workers).round().astype(np.int64)
    confusion = result.confusion if result.confusion is not None else np.zeros((n_workers, k, k))
    labelled = result.labels[result.labels >= 0]
    class_prior = (np.bincount(labelled, minlength=k) + 1.0) / (labelled.size + k)
    mean_confusion = (
        np.tensordot(answered, confusion, axes=1) / answered.sum() if answered.sum() else np.eye(k)
    )
    calibration = computed.calibration.as_json()  # the run and the estimates between runs keep the same
    now = timezone.now()
    with transaction.atomic():
        results_write(
            pool=pool,
            method=computed.method,
            task_id=computed.task_id[keep],
            label=result.labels[keep],
            confidence=result.confidence[keep],
            raw_confidence=computed.raw_confidence[keep],
            answers=result.answers[keep],
            now=now,
            as_of=as_of,
        )
        WorkerConfusion.objects.bulk_create(
            [
                WorkerConfusion(
                    pool=pool,
                    worker_id=worker_id,
                    method=computed.method,
                    matrix=np.round(matrix, 6).tolist(),
                    answers=n,
                    agreed=a,
                    updated_at=now,
                )
                for worker_id, matrix, n, a in zip(
                    computed.worker_id.tolist(), confusion, answered.tolist(), agreed.tolist(), strict=True
                )
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["pool", "worker"],
            update_fields=["method", "matrix", "answers", "agreed", "updated_at"],
        )
        WorkerConfusion.objects.filter(pool=pool, updated_at__lt=now).delete()
        PoolAggregationState.objects.update_or_create(
            pool=pool,
            defaults={
                "results_as_of": as_of,
                "last_finished_at": timezone.now(),
                "method": computed.method,
                "class_prior": np.round(class_prior, 6).tolist(),
                "mean_confusion": np.round(mean_confusion, 6).tolist(),
                "calibration": calibration,
            },
        )
        run = AggregationRun.objects.create(
            pool=pool,
            method=computed.method,
            trigger=trigger,
            started_at=as_of,
            finished_at=timezone.now(),
            answers=computed.n_answers,
            tasks=int(keep.sum()),
            workers=n_workers,
            iterations=result.iterations,
            load_ms=0,
            compute_ms=0,
            calibration=calibration,
            method_choice=None if computed.choice is None else computed.choice.as_json(),
        )
        old = AggregationRun.objects.filter(pool=pool).order_by("-started_at", "-id")[RUNS_KEPT_PER_POOL:]
        AggregationRun.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    return run


def _result_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _label_confidence_json(
    label_confidence: FloatArray | None, *, keep: IntArray, labels: list[str]
) -> list[str | None]:
    if label_confidence is None:
        return [None] * len(keep)
    return [json.dumps(label_confidence_of(label_confidence[i], labels=labels)) for i in keep.tolist()]


def _store_typed(
    *, pool: Pool, computed: TypedAggregation, method: str, as_of: datetime, trigger: str
) -> AggregationRun:
    """`_store` for a type other than single_choice: results as text and JSON, and per worker the type's
    agreement score in place of a confusion matrix (which only a choice among labels has)."""
    result = computed.result
    keep = np.flatnonzero((~computed.golden) & (computed.answers > 0))
    answers = [result.answers[i] for i in keep.tolist()]
    texts = [_result_text(answer) for answer in answers]
    agreed = np.round(result.worker_score * computed.worker_answers).astype(np.int64)
    now = timezone.now()
    with transaction.atomic():
        text_results_write(
            pool=pool,
            method=method,
            task_id=computed.task_id[keep],
            text=texts,
            # A list's text is already its JSON (compact); only a text answer needs quoting.
            answer_json=[
                json.dumps(answer, ensure_ascii=False) if isinstance(answer, str) else text
                for answer, text in zip(answers, texts, strict=True)
            ],
            label_confidence_json=_label_confidence_json(
                result.label_confidence, keep=keep, labels=list(pool.labels)
            ),
            confidence=np.clip(result.confidence[keep], 0.0, 1.0),
            answers=computed.answers[keep],
            now=now,
            as_of=as_of,
        )
        WorkerConfusion.objects.bulk_create(
            [
                WorkerConfusion(
                    pool=pool,
                    worker_id=worker_id,
                    method=method,
                    matrix=[],
                    answers=n,
                    agreed=min(a, n),
                    updated_at=now,
                )
                for worker_id, n, a in zip(
                    computed.worker_id.tolist(),
                    computed.worker_answers.tolist(),
                    agreed.tolist(),
                    strict=True,
                )
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["pool", "worker"],
            update_fields=["method", "matrix", "answers", "agreed", "updated_at"],
        )
        WorkerConfusion.objects.filter(pool=pool, updated_at__lt=now).delete()
        PoolAggregationState.objects.update_or_create(
            pool=pool,
            defaults={
                "results_as_of": as_of,
                "last_finished_at": timezone.now(),
                "method": method,
                "class_prior": None,
                "mean_confusion": None,
                "items": result.items,
            },
        )
        run = AggregationRun.objects.create(
            pool=pool,
            method=method,
            trigger=trigger,
            started_at=as_of,
            finished_at=timezone.now(),
            answers=computed.n_answers,
            tasks=int(keep.size),
            workers=int(computed.worker_id.size),
            iterations=0,
            load_ms=0,
            compute_ms=0,
        )
        old = AggregationRun.objects.filter(pool=pool).order_by("-started_at", "-id")[RUNS_KEPT_PER_POOL:]
        AggregationRun.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    return run


# ---------------------------------------------------------------------------------- debounce and actor


def pool_aggregation_request(*, pool_id: int, delay_seconds: float | None = None) -> bool:
    """Ask for a run of the pool's aggregation within `delay_seconds` (default DEBOUNCE_SECONDS), unless one
    is already due by then.

    A run clears due_at when it starts and only then reads answers, so an answer that still finds due_at
    set will be read by that run: most submits cost one indexed read here and send nothing.
    """
    if delay_seconds is None:
        delay_seconds = DEBOUNCE_SECONDS
    now = timezone.now()
    due = now + timedelta(seconds=delay_seconds)
    table = PoolAggregationState._meta.db_table
    with prepared_cursor() as cursor:
        # SQL: this read follows every submit, and through the ORM it cost more than the rest of the request's
        # reads put together.
        cursor.execute(
            f"SELECT {select_list(PoolAggregationState, 's', ('due_at',))} FROM {table} s "
            "WHERE s.pool_id = %s",
            [pool_id],
        )
        row = cursor.fetchone()
        pending = from_row(PoolAggregationState, row, ("due_at",)).due_at if row else None
        if pending is not None and pending <= due:
            return False
        cursor.execute(
            f"""
            INSERT INTO {table} AS s (pool_id, due_at, method) VALUES (%s, %s, '')
            ON CONFLICT (pool_id) DO UPDATE SET due_at = excluded.due_at
            WHERE s.due_at IS NULL OR s.due_at > excluded.due_at
            RETURNING pool_id
            """,
            [pool_id, due],
        )
        changed = cursor.fetchone() is not None
    if changed:
        enqueue("pool_aggregate", pool_id, delay_seconds=delay_seconds)
    return changed


def pool_aggregate_when_due(*, pool_id: int) -> AggregationRun | None:
    """What the actor does: run if a run is due and no other run of the pool holds the lease.

    A message for a run that already happened (a duplicate, or an earlier request overtaken by the pool's
    end) finds nothing due and does nothing.
    """
    now = timezone.now()
    claimed = (
        PoolAggregationState.objects.filter(pool_id=pool_id, due_at__isnull=False)
        .filter(Q(running_until__isnull=True) | Q(running_until__lt=now))
        .update(due_at=None, running_until=now + RUN_LEASE)
    )
    if not claimed:
        return None
    try:
        pool = Pool.objects.filter(pk=pool_id).first()
        if pool is None:
            return None
        ended = pool.status in (PoolStatus.COMPLETED, PoolStatus.CLOSED)
        return pool_aggregate(
            pool=pool, trigger=AggregationTrigger.POOL_END if ended else AggregationTrigger.ANSWERS
        )
    finally:
        PoolAggregationState.objects.filter(pool_id=pool_id).update(running_until=None)
        # Asked for again while this ran: that message may have come and gone while the lease was held.
        due = PoolAggregationState.objects.filter(pool_id=pool_id).values_list("due_at", flat=True).first()
        if due is not None:
            enqueue("pool_aggregate", pool_id, delay_seconds=max(0.0, (due - timezone.now()).total_seconds()))


def aggregations_catch_up() -> int:
    """The periodic safety net: resend runs whose message was lost, and ask for a run wherever answers are
    newer than the stored results (or a pool ended after them). Returns how many pools were sent."""
    now = timezone.now()
    sent = 0
    overdue = (
        PoolAggregationState.objects.filter(due_at__lte=now - OVERDUE_AFTER)
        .filter(Q(running_until__isnull=True) | Q(running_until__lt=now))
        .values_list("pool_id", flat=True)
    )
    for pool_id in overdue:
        enqueue("pool_aggregate", pool_id)
        sent += 1
    state = PoolAggregationState.objects.filter(pool=OuterRef("pk"))
    latest_answer = (
        Answer.objects.filter(pool=OuterRef("pk")).order_by("-submitted_at").values("submitted_at")[:1]
    )
    behind = (
        Pool.objects.exclude(status=PoolStatus.DRAFT)
        .annotate(
            last_answer=Subquery(latest_answer),
            as_of=Subquery(state.values("results_as_of")[:1]),
            due=Subquery(state.values("due_at")[:1]),
        )
        .filter(last_answer__isnull=False, due__isnull=True)
        .filter(Q(as_of__isnull=True) | Q(last_answer__gte=F("as_of")) | Q(closed_at__gte=F("as_of")))
        .values_list("pk", flat=True)
    )
    for pool_id in behind:
        sent += pool_aggregation_request(pool_id=pool_id, delay_seconds=0)
    return sent
