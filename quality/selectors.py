"""Reads for quality: aggregation from the database, results rows, skill and worker tables for the pages."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from django.db.models import Aggregate, Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast

from accounts.models import Role, User
from fairlabel.errors import ServiceError
from quality.aggregation import (
    METHODS,
    SKILL_PRIOR_ANSWERED,
    SKILL_PRIOR_CORRECT,
    AggregationResult,
)
from quality.calibration import Calibration
from quality.loading import pool_raw_answers, pool_text_answers
from quality.models import AggregationRun, PoolAggregationState, Restriction, TaskResult, WorkerConfusion
from quality.selection import AUTO, CANDIDATES, MethodChoice, aggregate_chosen
from quality.skill import SkillVerdict, skill_verdict
from quality.types import DEFAULT_TYPE, task_type_of
from quality.types.base import TypeAnswers, TypeResults, label_confidence_of
from quality.types.boxes.shape import SIZE_FIELDS, coco_bbox, pixels
from tasks.models import AggregationMethod, Answer, Pool, Task, WorkerPoolStats
from tasks.selectors import ANSWER_COLUMNS, answers_rows

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# ------------------------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class PoolAggregation:
    """An aggregation of a pool's answers, with the codes translated back to database ids.

    `method` is the method that ran (for "auto", the one chosen; `choice` says why)."""

    method: str
    task_id: IntArray  # task code -> Task id (answered or golden tasks), ascending
    worker_id: IntArray  # worker code -> User id, ascending
    golden: npt.NDArray[np.bool_]  # per task code
    task_idx: IntArray  # per answer
    worker_idx: IntArray
    label_idx: IntArray
    result: AggregationResult  # its confidence calibrated (see calibration)
    raw_confidence: FloatArray
    calibration: Calibration
    choice: MethodChoice | None = None

    @property
    def n_answers(self) -> int:
        return int(self.task_idx.size)


def parse_method(value: str | None) -> str | None:
    """The `method` query parameter: None when absent, else one of METHODS or "auto" (400 otherwise)."""
    if value is None or value == "":
        return None
    allowed = (*METHODS, AUTO)
    if value not in allowed:
        raise ServiceError(
            code="invalid_method",
            message=f"method must be one of: {', '.join(allowed)}.",
            details={"allowed": list(allowed)},
        )
    return value


def pool_aggregation_compute(*, pool: Pool, method: str | None = None) -> PoolAggregation:
    """Load the pool's answers and aggregate them with `method` (default: the pool's own)."""
    raw = pool_raw_answers(pool=pool)
    return aggregation_from_raw(
        method=method or pool.aggregation_method,
        n_labels=len(pool.labels),
        task_id=raw.task_id,
        worker_id=raw.worker_id,
        label=raw.label,
        gold_task_id=raw.gold_task_id,
        gold_label=raw.gold_label,
    )


def aggregation_from_raw(
    *,
    method: str,
    n_labels: int,
    task_id: IntArray,
    worker_id: IntArray,
    label: IntArray,
    gold_task_id: IntArray,
    gold_label: IntArray,
) -> PoolAggregation:
    # Codes come from sorted ids, so they (and, through aggregate's canonical order, every float) do not
    # depend on the order the database returned the rows in.
    task_ids = np.unique(np.concatenate([task_id, gold_task_id]))
    worker_ids, worker_idx = np.unique(worker_id, return_inverse=True)
    task_idx = np.searchsorted(task_ids, task_id)
    gold_task_idx = np.searchsorted(task_ids, gold_task_id)
    golden = np.zeros(task_ids.size, dtype=bool)
    golden[gold_task_idx] = True
    chosen = aggregate_chosen(
        candidates=CANDIDATES if method == AUTO else (method,),
        task_idx=task_idx.astype(np.int64),
        worker_idx=worker_idx.astype(np.int64),
        label_idx=label,
        n_tasks=int(task_ids.size),
        n_workers=int(worker_ids.size),
        n_labels=n_labels,
        gold_task_idx=gold_task_idx.astype(np.int64),
        gold_label_idx=gold_label,
    )
    choice = chosen.choice if method == AUTO else None
    calibrated, method = chosen.calibrated, chosen.choice.method
    return PoolAggregation(
        method=method,
        task_id=task_ids.astype(np.int64),
        worker_id=worker_ids.astype(np.int64),
        golden=golden,
        task_idx=task_idx.astype(np.int64),
        worker_idx=worker_idx.astype(np.int64),
        label_idx=label,
        result=calibrated.result,
        raw_confidence=calibrated.raw_confidence,
        calibration=calibrated.calibration,
        choice=choice,
    )


# Aggregating on request (a method other than the pool's, or a pool not aggregated yet) happens inside the
# web request and holds every answer in memory: about 100 MB and 1-2 s per 200,000 answers. Above this, a
# pool's own method is served from its stored results and other methods are refused.
ON_REQUEST_MAX_ANSWERS = 200_000


def results_for_pool(*, pool: Pool, method: str | None = None) -> Iterator[dict[str, Any]]:
    """One row per regular task: task_id, external_id, label, confidence, calibration, answers.

    `calibration` says what the confidence is: "temperature" or "isotonic" when it was calibrated on the
    pool's golden items (quality.calibration), "uncalibrated" when there were too few to fit.

    The pool's own method reads the stored results (at most about a minute behind the answers while the
    pool runs; exact once it has ended and its final run is done). Another method, or a pool not aggregated
    yet, is computed now from every answer when the pool has at most ON_REQUEST_MAX_ANSWERS; a bigger pool
    not aggregated yet lists its tasks without labels until its first run (the catch-up job starts one within
    a minute), and another method is refused with 409. Errors are raised here, before any row is read.
    """
    chosen = parse_method(method) or pool.aggregation_method
    state = PoolAggregationState.objects.filter(pool=pool).first()
    stored_kind = Calibration.from_json(state.calibration if state is not None else None).kind
    # An "auto" pool's runs store the method they chose: those are its stored results.
    stored_method = AUTO if pool.aggregation_method == AUTO else (state.method if state is not None else None)
    if state is not None and state.results_as_of is not None and stored_method == chosen:
        return _stored_rows(pool=pool, calibration=stored_kind)
    counted = Answer.objects.filter(pool=pool).values("id")[: ON_REQUEST_MAX_ANSWERS + 1].count()
    if counted <= ON_REQUEST_MAX_ANSWERS:
        return _computed_rows(pool=pool, method=chosen)
    if chosen == pool.aggregation_method:
        return _stored_rows(pool=pool, calibration=stored_kind)
    raise ServiceError(
        code="method_not_stored",
        message=(
            f"Results by {chosen} are computed on request for pools of up to {ON_REQUEST_MAX_ANSWERS:,} answers, "
            f"and this pool has more. Its stored results use {pool.aggregation_method} (leave out method)."
        ),
        status_code=409,
        details={"stored_method": pool.aggregation_method, "max_answers": ON_REQUEST_MAX_ANSWERS},
    )


def _stored_rows(*, pool: Pool, calibration: str) -> Iterator[dict[str, Any]]:
    rows = (
        Task.objects.filter(pool=pool, golden_label__isnull=True)
        .order_by("id")
        .values_list(
            "id",
            "external_id",
            "answers_count",
            "quality_result__label",
            "quality_result__confidence",
            "quality_result__answers",
        )
    )
    for task_id, external_id, answers_count, label, confidence, answers in rows.iterator(chunk_size=5000):
        yield {
            "task_id": task_id,
            "external_id": external_id,
            "label": label,
            "confidence": None if confidence is None else round(confidence, 6),
            "calibration": None if confidence is None else calibration,
            # A task answered since the latest run has no label yet; its answers are still counted.
            "answers": answers_count if answers is None else answers,
        }


def _computed_rows(*, pool: Pool, method: str) -> Iterator[dict[str, Any]]:
    run = pool_aggregation_compute(pool=pool, method=method)
    result = run.result
    labels = pool.labels
    tasks = (
        Task.objects.filter(pool=pool, golden_label__isnull=True)
        .order_by("id")
        .values_list("id", "external_id")
    )
    for task_id, external_id in tasks.iterator(chunk_size=5000):
        code = int(np.searchsorted(run.task_id, task_id))  # run.task_id is sorted
        known = code < run.task_id.size and run.task_id[code] == task_id and result.answers[code] > 0
        if not known:
            yield {
                "task_id": task_id,
                "external_id": external_id,
                "label": None,
                "confidence": None,
                "calibration": None,
                "answers": 0,
            }
            continue
        yield {
            "task_id": task_id,
            "external_id": external_id,
            "label": labels[int(result.labels[code])],
            "confidence": round(float(result.confidence[code]), 6),
            "calibration": run.calibration.kind,
            "answers": int(result.answers[code]),
        }


# ---------------------------------------------------------------------------------------- restrictions


def pool_unrestricted_sql() -> str:
    """Pools `p` that `%(worker)s` is not restricted from (by the pool's own or a platform-wide restriction),
    as an SQL condition: part of the claim's one pool query (see workflows.feed)."""
    return """
        NOT EXISTS (SELECT 1 FROM quality_restriction r
                    WHERE r.worker_id = %(worker)s AND r.lifted_at IS NULL
                      AND (r.pool_id = p.id OR r.pool_id IS NULL))
    """


# ------------------------------------------------------------------------------------ the worker's page


@dataclass(frozen=True)
class PoolSkill:
    """A worker's standing in one pool. `verdict` counts what the skill rule counts: golden answers since
    the last lift of a restriction (`counted_since`), or all of them if none was ever lifted."""

    pool: Pool
    answers: int
    flagged_fast: int
    verdict: SkillVerdict
    restriction: Restriction | None
    counted_since: datetime | None = None
    golden_answered_total: int = 0
    golden_correct_total: int = 0

    @property
    def status(self) -> str:
        if self.restriction is not None:
            return "restricted"
        if not self.verdict.judged:
            return "scoring"
        return "ok"


@dataclass(frozen=True)
class WorkerQuality:
    pools: list[PoolSkill]
    platform_restriction: Restriction | None
    history: list[Restriction] = field(default_factory=list)


def worker_quality(*, worker: User) -> WorkerQuality:
    """What a worker sees about themselves: skill per pool with its counts, and every restriction."""
    restrictions = list(
        Restriction.objects.filter(worker=worker)
        .select_related("pool", "created_by", "lifted_by")
        .order_by("-created_at", "-id")
    )
    active_by_pool = {r.pool_id: r for r in restrictions if r.is_active and r.pool_id is not None}
    latest_lift: dict[int, Restriction] = {}
    for r in restrictions:  # newest first: the first lifted one per pool is the latest lift
        if r.pool_id is not None and r.lifted_at is not None:
            latest_lift.setdefault(r.pool_id, r)
    flagged = dict(
        Answer.objects.filter(worker=worker, flagged_fast=True)
        .values("pool_id")
        .annotate(n=Count("id"))
        .values_list("pool_id", "n")
    )
    stats = (
        WorkerPoolStats.objects.filter(worker=worker)
        .select_related("pool")
        .order_by("-pool__created_at", "-id")
    )
    pools = []
    for s in stats:
        if not (s.answers or s.golden_answered or s.pool_id in active_by_pool):
            continue
        answered, correct, since = s.golden_answered, s.golden_correct, None
        lift = latest_lift.get(s.pool_id)
        if lift is not None and s.pool_id not in active_by_pool:
            answered -= int(lift.lift_figures.get("golden_answered", 0))
            correct -= int(lift.lift_figures.get("golden_correct", 0))
            since = lift.lifted_at
        pools.append(
            PoolSkill(
                pool=s.pool,
                answers=s.answers,
                flagged_fast=flagged.get(s.pool_id, 0),
                verdict=skill_verdict(
                    answered=max(0, answered),
                    correct=max(0, correct),
                    min_skill=s.pool.min_skill,
                    min_golden=s.pool.min_golden,
                ),
                restriction=active_by_pool.get(s.pool_id),
                counted_since=since,
                golden_answered_total=s.golden_answered,
                golden_correct_total=s.golden_correct,
            )
        )
    platform = next((r for r in restrictions if r.is_active and r.pool_id is None), None)
    return WorkerQuality(pools=pools, platform_restriction=platform, history=restrictions)


# ---------------------------------------------------------------------------------------- staff pages

STAFF_PAGE_SIZE = 50


@dataclass
class WorkerRow:
    worker_id: int
    username: str
    pseudonym: str
    answers: int
    golden_answered: int
    golden_correct: int
    skill: float
    agreement: float | None = None  # share of answers equal to the aggregated label
    agreement_answers: int = 0
    median_seconds: float | None = None
    flagged_fast: int = 0
    restrictions: list[Restriction] = field(default_factory=list)


def skill_expression(*, correct: Any, answered: Any) -> Any:
    """The skill rule (quality.aggregation.skill_smoothed) as an SQL expression over two count columns."""
    return (Cast(correct, FloatField()) + SKILL_PRIOR_CORRECT) / (
        Cast(answered, FloatField()) + SKILL_PRIOR_ANSWERED
    )


def staff_worker_rows(
    *, pool: Pool | None, page: int = 1, order: str = "skill"
) -> tuple[list[WorkerRow], bool]:
    """Workers with their skill (smoothed golden accuracy), golden counts, agreement with the aggregated
    label, median seconds per answer, fast-answer flags and active restrictions, in one pool or over all
    pools; lowest skill first. Returns one page and whether there is a next one."""
    stats: QuerySet[Any]
    base = WorkerPoolStats.objects.filter(worker__role=Role.WORKER).filter(
        Q(answers__gt=0) | Q(golden_answered__gt=0)
    )
    if pool is not None:
        base = base.filter(pool=pool)
    stats = (
        base.values("worker_id", "worker__username", "worker__public_id")
        .annotate(
            n_answers=Sum("answers"),
            n_golden=Sum("golden_answered"),
            n_correct=Sum("golden_correct"),
        )
        .annotate(skill=skill_expression(correct=F("n_correct"), answered=F("n_golden")))
    )
    orders = {
        "skill": ("skill", "-n_golden", "worker_id"),
        "answers": ("-n_answers", "worker_id"),
        "golden": ("-n_golden", "worker_id"),
        "worker": ("worker__username",),
    }
    stats = stats.order_by(*orders.get(order, orders["skill"]))
    start = (max(1, page) - 1) * STAFF_PAGE_SIZE
    chunk = list(stats[start : start + STAFF_PAGE_SIZE + 1])
    has_next = len(chunk) > STAFF_PAGE_SIZE
    rows = [
        WorkerRow(
            worker_id=s["worker_id"],
            username=s["worker__username"],
            pseudonym=f"w-{s['worker__public_id'].hex[:16]}",
            answers=s["n_answers"],
            golden_answered=s["n_golden"],
            golden_correct=s["n_correct"],
            skill=s["skill"],
        )
        for s in chunk[:STAFF_PAGE_SIZE]
    ]
    _fill_details(rows, pool=pool)
    return rows, has_next


def _fill_details(rows: list[WorkerRow], *, pool: Pool | None) -> None:
    if not rows:
        return
    ids = [row.worker_id for row in rows]
    by_id = {row.worker_id: row for row in rows}
    confusion = WorkerConfusion.objects.filter(worker_id__in=ids)
    answers = Answer.objects.filter(worker_id__in=ids)
    restrictions = Restriction.objects.filter(worker_id__in=ids, lifted_at__isnull=True).select_related(
        "pool"
    )
    if pool is not None:
        confusion = confusion.filter(pool=pool)
        answers = answers.filter(pool=pool)
        restrictions = restrictions.filter(Q(pool=pool) | Q(pool__isnull=True))
    for worker_id, counted, agreed in (
        confusion.values("worker_id")
        .annotate(a=Sum("answers"), g=Sum("agreed"))
        .values_list("worker_id", "a", "g")
    ):
        if counted:
            by_id[worker_id].agreement = agreed / counted
            by_id[worker_id].agreement_answers = counted
    for worker_id, flagged in (
        answers.filter(flagged_fast=True)
        .values("worker_id")
        .annotate(n=Count("id"))
        .values_list("worker_id", "n")
    ):
        by_id[worker_id].flagged_fast = flagged
    for worker_id, median_ms in _median_ms_by_worker(answers).items():
        by_id[worker_id].median_seconds = median_ms / 1000
    for restriction in restrictions:
        by_id[restriction.worker_id].restrictions.append(restriction)


class _Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _median_ms_by_worker(answers: QuerySet[Answer]) -> dict[int, float]:
    """Median answer duration per worker, computed by the database."""
    rows = answers.order_by().values("worker_id").annotate(median=_Median("duration_ms"))
    return {row["worker_id"]: float(row["median"]) for row in rows.values("worker_id", "median")}


@dataclass(frozen=True)
class ConfusionView:
    pool: Pool
    labels: list[str]
    matrix: list[list[float]]
    answers: int
    agreed: int
    updated_at: datetime


@dataclass(frozen=True)
class AnswerBesideConsensus:
    answer: Answer
    consensus: str | None  # the aggregated label (golden: the true label)
    confidence: float | None

    @property
    def agrees(self) -> bool | None:
        """Whether the answer matches the consensus as the pool's type matches a golden answer (a text equal
        after normalising, a set close enough to count); a golden answer as it was scored on submit."""
        if self.consensus is None:
            return None
        if self.answer.correct is not None:
            return self.answer.correct
        pool = self.answer.pool
        if pool.task_type == DEFAULT_TYPE:
            return self.answer.label == self.consensus
        task_type = task_type_of(pool)
        score = task_type.golden_score(
            task_type.answer_value(self.answer.label),
            task_type.answer_value(self.consensus),
            options=pool.options,
        )
        return task_type.golden_correct(score, options=pool.options)

    @property
    def seconds(self) -> float:
        return self.answer.duration_ms / 1000

    @property
    def given_shown(self) -> str:
        return self._shown(self.answer.label)

    @property
    def consensus_shown(self) -> str:
        return "" if self.consensus is None else self._shown(self.consensus)

    def _shown(self, text: str) -> str:
        if self.answer.pool.task_type == DEFAULT_TYPE:
            return text
        return answer_shown(task_type_of(self.answer.pool).answer_value(text))


def answer_shown(value: Any) -> str:
    """An answer for people to read in a table: labels and boxes as words, which also wrap, where the stored
    JSON is one unbreakable run of characters."""
    if isinstance(value, list):
        if not value:
            return "(none)"
        return ("; " if any(isinstance(item, dict) for item in value) else ", ").join(
            map(answer_shown, value)
        )
    if isinstance(value, dict) and {"label", "x", "y", "w", "h"} <= value.keys():
        return f"{value['label']} at {value['x']:g}, {value['y']:g} size {value['w']:g} by {value['h']:g}"
    return str(value)


@dataclass(frozen=True)
class TypeFiguresView:
    """A worker in a pool whose type has no confusion matrix (only a choice of one label has one): the type's
    agreement with the results, as of the latest run, and the worker's golden answers scored by the type."""

    pool: Pool
    answers: int  # counted by the latest run (0: not aggregated yet)
    agreed: int  # the type's agreement with the results, times answers (quality.services._store_typed)
    golden: GoldenFigures


@dataclass(frozen=True)
class WorkerReview:
    worker: User
    quality: WorkerQuality
    confusions: list[ConfusionView]
    recent: list[AnswerBesideConsensus]
    median_seconds: float | None
    type_figures: list[TypeFiguresView] = field(default_factory=list)


def staff_worker_review(*, worker_id: int, recent: int = 50) -> WorkerReview:
    worker = User.objects.filter(pk=worker_id, role=Role.WORKER).first()
    if worker is None:
        raise ServiceError(code="not_found", message="No such worker.", status_code=404)
    matrices = list(
        WorkerConfusion.objects.filter(worker=worker).select_related("pool").order_by("-answers", "pool_id")
    )
    confusions = [
        ConfusionView(
            pool=c.pool,
            labels=list(c.pool.labels),
            matrix=c.matrix,
            answers=c.answers,
            agreed=c.agreed,
            updated_at=c.updated_at,
        )
        for c in matrices
        if c.pool.task_type == DEFAULT_TYPE
    ]
    answers = list(
        Answer.objects.filter(worker=worker)
        .select_related("pool", "task", "task__quality_result")
        .order_by("-submitted_at", "-id")[:recent]
    )
    rows = []
    for answer in answers:
        if answer.task.golden_label is not None:
            rows.append(
                AnswerBesideConsensus(answer=answer, consensus=answer.task.golden_label, confidence=1.0)
            )
            continue
        stored: TaskResult | None = getattr(answer.task, "quality_result", None)
        rows.append(
            AnswerBesideConsensus(
                answer=answer,
                consensus=None if stored is None else stored.label,
                confidence=None if stored is None else stored.confidence,
            )
        )
    medians = _median_ms_by_worker(Answer.objects.filter(worker=worker))
    quality = worker_quality(worker=worker)
    by_pool = {c.pool_id: c for c in matrices}
    type_figures = [
        TypeFiguresView(
            pool=item.pool,
            answers=by_pool[item.pool.pk].answers if item.pool.pk in by_pool else 0,
            agreed=by_pool[item.pool.pk].agreed if item.pool.pk in by_pool else 0,
            golden=golden_figures(pool=item.pool, answers=Answer.objects.filter(worker=worker)),
        )
        for item in quality.pools
        if item.pool.task_type != DEFAULT_TYPE
    ]
    return WorkerReview(
        worker=worker,
        quality=quality,
        confusions=confusions,
        recent=rows,
        median_seconds=medians[worker.pk] / 1000 if worker.pk in medians else None,
        type_figures=type_figures,
    )


# Golden answers scored for a page, the latest first: scoring is per answer in Python (boxes run a matching
# each), and this bounds the page to some tenths of a second however large the pool.
GOLDEN_SCORED_MAX = 5000


@dataclass(frozen=True)
class LabelFigures:
    """One label of a several-labels pool, over golden answers."""

    label: str
    applies: int  # golden answers whose golden set holds the label
    agreement: float  # share of golden answers that decided the label as the golden answer does
    found: float | None  # share of those where it applies that ticked it
    wrongly_ticked: float | None  # share of those where it does not apply that ticked it


@dataclass(frozen=True)
class GoldenFigures:
    """Golden answers scored by the pool's type: the type's own figure in place of a confusion matrix."""

    task_type: str
    score_name: str
    scored: int  # golden answers scored (the latest GOLDEN_SCORED_MAX at most)
    correct: int  # of those, counted as correct by the pool's rule
    mean_score: float | None
    capped: bool = False  # more golden answers than GOLDEN_SCORED_MAX: the latest were scored
    labels: list[LabelFigures] = field(default_factory=list)  # multi_choice


def label_figures(
    *, given: list[list[str]], golden: list[list[str]], labels: list[str]
) -> list[LabelFigures]:
    """Per label, from paired golden answers and golden sets: agreement, found, wrongly ticked."""
    position = {label: j for j, label in enumerate(labels)}
    ticked = np.zeros((len(given), len(labels)), dtype=bool)
    applies = np.zeros_like(ticked)
    for row, (answer, truth) in enumerate(zip(given, golden, strict=True)):
        ticked[row, [position[label] for label in answer]] = True
        applies[row, [position[label] for label in truth]] = True
    n_applies = applies.sum(axis=0)
    n_not = len(given) - n_applies
    hits = (ticked & applies).sum(axis=0)
    false_ticks = (ticked & ~applies).sum(axis=0)
    agreement = (ticked == applies).mean(axis=0) if len(given) else np.zeros(len(labels))
    return [
        LabelFigures(
            label=label,
            applies=int(n_applies[j]),
            agreement=float(agreement[j]),
            found=float(hits[j] / n_applies[j]) if n_applies[j] else None,
            wrongly_ticked=float(false_ticks[j] / n_not[j]) if n_not[j] else None,
        )
        for j, label in enumerate(labels)
    ]


def golden_figures(*, pool: Pool, answers: QuerySet[Answer] | None = None) -> GoldenFigures:
    """The pool's golden answers (or those of `answers` in it) scored by the pool's type."""
    task_type = task_type_of(pool)
    scored = list(
        (answers if answers is not None else Answer.objects.all())
        .filter(pool=pool, is_golden=True, task__golden_label__isnull=False)
        .order_by("-id")
        .values_list("label", "task__golden_label", "correct")[:GOLDEN_SCORED_MAX]
    )
    value = task_type.answer_value
    given = [value(label) for label, _, _ in scored]
    golden = [value(truth) for _, truth, _ in scored if truth is not None]  # none is: filtered above
    scores = [task_type.golden_score(a, g, options=pool.options) for a, g in zip(given, golden, strict=True)]
    return GoldenFigures(
        task_type=pool.task_type,
        score_name=task_type.golden_score_name,
        scored=len(scored),
        correct=sum(1 for _, _, correct in scored if correct),
        mean_score=float(np.mean(scores)) if scores else None,
        capped=len(scored) == GOLDEN_SCORED_MAX,
        labels=label_figures(given=given, golden=golden, labels=list(pool.labels))
        if pool.task_type == "multi_choice"
        else [],
    )


def pool_top_items(*, pool: Pool, limit: int = 10) -> list[dict[str, Any]]:
    """A pairwise pool's best items by its latest run (none before the first run: the page does not compute)."""
    items = PoolAggregationState.objects.filter(pool=pool).values_list("items", flat=True).first()
    return list(items or [])[:limit]


@dataclass(frozen=True)
class PoolQualitySummary:
    pool: Pool
    workers: int
    restricted: int
    flagged_fast: int
    results_as_of: datetime | None
    last_run_ms: int | None


def staff_pool_summaries() -> list[PoolQualitySummary]:
    """Pools that have answers, newest first, with their quality headline figures."""
    pools = list(
        Pool.objects.filter(worker_stats__answers__gt=0).distinct().order_by("-created_at", "-id")[:200]
    )
    ids = [p.pk for p in pools]
    workers = dict(
        WorkerPoolStats.objects.filter(pool_id__in=ids, answers__gt=0)
        .values("pool_id")
        .annotate(n=Count("id"))
        .values_list("pool_id", "n")
    )
    restricted = dict(
        Restriction.objects.filter(pool_id__in=ids, lifted_at__isnull=True)
        .values("pool_id")
        .annotate(n=Count("id"))
        .values_list("pool_id", "n")
    )
    flagged = dict(
        Answer.objects.filter(pool_id__in=ids, flagged_fast=True)
        .values("pool_id")
        .annotate(n=Count("id"))
        .values_list("pool_id", "n")
    )
    as_of = dict(PoolAggregationState.objects.filter(pool_id__in=ids).values_list("pool_id", "results_as_of"))
    latest_run = AggregationRun.objects.filter(pool=OuterRef("pk")).order_by("-started_at", "-id")
    last_ms = dict(
        Pool.objects.filter(pk__in=ids)
        .annotate(ms=Subquery(latest_run.values("duration_ms")[:1]))
        .values_list("pk", "ms")
    )
    return [
        PoolQualitySummary(
            pool=p,
            workers=workers.get(p.pk, 0),
            restricted=restricted.get(p.pk, 0),
            flagged_fast=flagged.get(p.pk, 0),
            results_as_of=as_of.get(p.pk),
            last_run_ms=last_ms.get(p.pk),
        )
        for p in pools
    ]


def pools_worked_in(*, worker: User, unrestricted: bool = False) -> QuerySet[Pool]:
    pools = Pool.objects.filter(worker_stats__worker=worker)
    if unrestricted:
        active = Restriction.objects.filter(worker=worker, pool=OuterRef("pk"), lifted_at__isnull=True)
        pools = pools.exclude(Exists(active))
    return pools.distinct().order_by("-created_at", "-id")


@dataclass(frozen=True)
class AggregationStatus:
    method: str
    results_as_of: datetime | None
    due_at: datetime | None
    running: bool
    last_run: AggregationRun | None


def pool_aggregation_status(*, pool: Pool) -> AggregationStatus:
    """How fresh the pool's stored results are, and what the latest run cost."""
    from django.utils import timezone

    state = PoolAggregationState.objects.filter(pool=pool).first()
    last_run = AggregationRun.objects.filter(pool=pool).order_by("-started_at", "-id").first()
    return AggregationStatus(
        method=state.method if state is not None and state.method else pool.aggregation_method,
        results_as_of=state.results_as_of if state is not None else None,
        due_at=state.due_at if state is not None else None,
        running=bool(state is not None and state.running_until and state.running_until > timezone.now()),
        last_run=last_run,
    )


@dataclass(frozen=True)
class MethodSummary:
    """What the latest run of a single-label pool did, for the requester's and the staff's pages."""

    method: str  # the method that ran
    method_label: str
    chosen: bool  # the pool's method is "auto" and this run chose it
    fell_back: bool  # auto, but too few golden items to compare: Dawid-Skene
    runner_up: str | None
    scores: list[tuple[str, float | None]]  # (method label, held-out log-likelihood per golden task)
    calibration: Calibration


def pool_method_summary(*, pool: Pool, run: AggregationRun | None = None) -> MethodSummary | None:
    """The latest run's method (or `run`'s, where the caller has read it), why it was chosen and its
    calibration; None before a first run or for a pool of another task type (those aggregate by their type's
    own method)."""
    if pool.task_type != DEFAULT_TYPE:
        return None
    run = run or AggregationRun.objects.filter(pool=pool).order_by("-started_at", "-id").first()
    if run is None:
        return None
    names = dict(AggregationMethod.choices)
    choice = run.method_choice or {}
    runner_up = choice.get("runner_up")
    return MethodSummary(
        method=run.method,
        method_label=names.get(run.method, run.method),
        chosen=bool(choice),
        fell_back=bool(choice.get("fell_back")),
        runner_up=names.get(runner_up, runner_up) if runner_up else None,
        scores=[(names.get(m, m), s) for m, s in (choice.get("scores") or {}).items()],
        calibration=Calibration.from_json(run.calibration),
    )


# ------------------------------------------------------------------------ task types other than one label


@dataclass(frozen=True)
class TypedAggregation:
    """`PoolAggregation` for a pool whose type is not single_choice: results in the type's answer shape."""

    task_id: IntArray  # task code -> Task id (answered or golden tasks), ascending
    worker_id: IntArray  # worker code -> User id, ascending
    golden: npt.NDArray[np.bool_]  # per task code
    answers: IntArray  # answers per task code
    worker_answers: IntArray  # answers per worker code
    result: TypeResults

    @property
    def n_answers(self) -> int:
        return int(self.answers.sum())


def typed_aggregation_compute(*, pool: Pool) -> TypedAggregation:
    """Load the pool's answers as text, read them back by the pool's type and aggregate them with its maths."""
    task_type = task_type_of(pool)
    raw = pool_text_answers(pool=pool, data_fields=task_type.data_fields)
    # Codes from sorted ids, so the result does not depend on the order the rows came in.
    task_ids = np.unique(np.concatenate([raw.task_id, raw.gold_task_id]))
    worker_ids, worker_idx = np.unique(raw.worker_id, return_inverse=True)
    task_idx = np.searchsorted(task_ids, raw.task_id).astype(np.int64)
    gold_idx = np.searchsorted(task_ids, raw.gold_task_id)
    golden = np.zeros(task_ids.size, dtype=bool)
    golden[gold_idx] = True
    value = task_type.answer_value
    typed = TypeAnswers(
        task=task_idx,
        worker=worker_idx.astype(np.int64),
        values=[value(text) for text in raw.text],
        n_tasks=int(task_ids.size),
        n_workers=int(worker_ids.size),
        golden={int(t): value(g) for t, g in zip(gold_idx.tolist(), raw.gold_text, strict=True)},
        task_data=[raw.task_fields.get(int(t), {}) for t in task_ids.tolist()]
        if task_type.data_fields
        else None,
    )
    result = task_type.aggregate(typed, labels=list(pool.labels), options=pool.options)
    return TypedAggregation(
        task_id=task_ids.astype(np.int64),
        worker_id=worker_ids.astype(np.int64),
        golden=golden,
        answers=np.bincount(task_idx, minlength=task_ids.size).astype(np.int64),
        worker_answers=np.bincount(worker_idx, minlength=worker_ids.size).astype(np.int64),
        result=result,
    )


def _typed_computed_rows(*, pool: Pool) -> Iterator[dict[str, Any]]:
    run = typed_aggregation_compute(pool=pool)
    tasks = (
        Task.objects.filter(pool=pool, golden_label__isnull=True)
        .order_by("id")
        .values_list("id", "external_id")
    )
    per_label = run.result.label_confidence
    for task_id, external_id in tasks.iterator(chunk_size=5000):
        code = int(np.searchsorted(run.task_id, task_id))
        known = code < run.task_id.size and run.task_id[code] == task_id and run.answers[code] > 0
        row = {
            "task_id": task_id,
            "external_id": external_id,
            "answer": run.result.answers[code] if known else None,
            "confidence": round(float(run.result.confidence[code]), 6) if known else None,
            "answers": int(run.answers[code]) if known else 0,
        }
        if per_label is not None:
            row["label_confidence"] = (
                label_confidence_of(per_label[code], labels=pool.labels) if known else None
            )
        yield row


def _typed_stored_rows(*, pool: Pool) -> Iterator[dict[str, Any]]:
    rows = (
        Task.objects.filter(pool=pool, golden_label__isnull=True)
        .order_by("id")
        .values_list(
            "id",
            "external_id",
            "answers_count",
            "quality_result__answer",
            "quality_result__confidence",
            "quality_result__answers",
            "quality_result__label_confidence",
        )
    )
    per_label = task_type_of(pool).per_label_confidence
    for task_id, external_id, answers_count, answer, confidence, answers, label_confidence in rows.iterator(
        chunk_size=5000
    ):
        row = {
            "task_id": task_id,
            "external_id": external_id,
            "answer": answer,
            "confidence": None if confidence is None else round(confidence, 6),
            "answers": answers_count if answers is None else answers,
        }
        if per_label:
            # jsonb keeps its own key order: put the labels back in the pool's.
            row["label_confidence"] = (
                None
                if label_confidence is None
                else {label: label_confidence[label] for label in pool.labels}
            )
        yield row


def typed_results_for_pool(*, pool: Pool) -> Iterator[dict[str, Any]]:
    """`results_for_pool` for a pool whose type is not single_choice: the stored results once a run has been,
    else (up to ON_REQUEST_MAX_ANSWERS answers) computed now."""
    state = PoolAggregationState.objects.filter(pool=pool).first()
    if state is not None and state.results_as_of is not None:
        return _typed_stored_rows(pool=pool)
    counted = Answer.objects.filter(pool=pool).values("id")[: ON_REQUEST_MAX_ANSWERS + 1].count()
    if counted <= ON_REQUEST_MAX_ANSWERS:
        return _typed_computed_rows(pool=pool)
    return _typed_stored_rows(pool=pool)


ITEM_COLUMNS = ("item", "score", "rank", "comparisons")


def pool_items(*, pool: Pool) -> list[dict[str, Any]]:
    """A pairwise pool's items ranked by the latest run (or computed now, for a pool not aggregated yet)."""
    if pool.task_type != "pairwise":
        raise ServiceError(
            code="invalid_request",
            message=f"by=item ranks the items of a pairwise pool; this pool is {pool.task_type}.",
        )
    state = PoolAggregationState.objects.filter(pool=pool).first()
    if state is not None and state.items is not None:
        return list(state.items)
    return typed_aggregation_compute(pool=pool).result.items or []


def pool_answer_rows(*, pool: Pool) -> tuple[Iterator[dict[str, Any]], list[str]]:
    """The answers export with each answer in its type's shape as `answer` (single_choice keeps `label`)."""
    value = task_type_of(pool).answer_value
    columns = list(ANSWER_COLUMNS)
    columns.insert(columns.index("label") + 1, "answer")
    if pool.task_type != DEFAULT_TYPE:
        columns.remove("label")

    def rows() -> Iterator[dict[str, Any]]:
        for row in answers_rows(pool=pool):
            row["answer"] = value(row["label"])
            yield {column: row[column] for column in columns}

    return rows(), columns


def pool_result_rows(*, pool: Pool, method: str | None = None) -> tuple[Iterator[dict[str, Any]], list[str]]:
    """The results export: `answer` and `confidence` per task (single_choice keeps `label`)."""
    if pool.task_type == DEFAULT_TYPE:
        columns = ["task_id", "external_id", "label", "answer", "confidence", "calibration", "answers"]

        def with_answer() -> Iterator[dict[str, Any]]:
            for row in rows:
                row["answer"] = row["label"]
                yield {column: row[column] for column in columns}

        rows = results_for_pool(pool=pool, method=method)
        return with_answer(), columns
    if method:
        raise ServiceError(
            code="invalid_method",
            message=f"method chooses among the single-label methods; {pool.task_type} pools aggregate by their type.",
        )
    columns = ["task_id", "external_id", "answer", "confidence", "answers"]
    if task_type_of(pool).per_label_confidence:
        columns.insert(columns.index("confidence") + 1, "label_confidence")
    return typed_results_for_pool(pool=pool), columns


# --------------------------------------------------------------------------------- Label Studio's task JSON


def pool_results_label_studio(*, pool: Pool, method: str | None = None) -> Iterator[dict[str, Any]]:
    """The results export as Label Studio tasks (``?format=label-studio``), which Label Studio imports as a
    project's tasks with one annotation each: a task's `id`, its `data` as uploaded, and the result in the
    type's Label Studio shape (quality/types/*/shape.py, label_studio_result). Our confidence, the number of
    answers behind the result and the requester's external_id go in the task's `meta`, which Label Studio
    keeps and shows. A task without a result has no annotation. Golden tasks are left out, as in every
    results export."""
    rows, _ = pool_result_rows(pool=pool, method=method)
    convert = task_type_of(pool).label_studio_result
    while chunk := list(islice(rows, 1000)):
        data = dict(Task.objects.filter(pk__in=[row["task_id"] for row in chunk]).values_list("id", "data"))
        for row in chunk:
            answer = row["answer"]
            yield {
                "id": row["task_id"],
                "data": data[row["task_id"]],
                "annotations": [] if answer is None else [{"result": convert(answer), "ground_truth": False}],
                "meta": {
                    "external_id": row["external_id"],
                    "confidence": row["confidence"],
                    "answers": row["answers"],
                },
            }


# ------------------------------------------------------------------------------------- COCO for boxes pools


@dataclass(frozen=True)
class CocoExport:
    """A boxes pool's results in COCO's parts: its categories, and per answered task its image and annotations."""

    categories: list[dict[str, Any]]
    images: Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]


def pool_results_coco(*, pool: Pool) -> CocoExport:
    """The results export as a COCO object-detection document (``?format=coco``), for boxes pools only.

    Answers store boxes as fractions of the image, COCO gives them in pixels, so every regular task must carry
    its image's size as the data fields "width" and "height" (checked at upload where given, see
    quality/types/boxes/shape.py). A pool where any regular task lacks them is refused with a 400 that names
    the fields and the first such task, rather than exporting boxes in a unit COCO tools would misread; the
    JSON, CSV and JSONL results give the fractions for any pool. Both checks run here, before a byte is sent.

    Like the other results exports it leaves golden tasks out, and a task without a result too (an image with
    no annotations would say it shows no object). An image's id is its task's id, with the URL as
    ``file_name`` and ``coco_url`` and the requester's ``external_id``; annotation ids count from 1 in task
    order; category ids are the pool labels' positions from 1; an annotation's ``score`` is the box's
    confidence, the share of the task's workers who drew it.
    """
    if pool.task_type != "boxes":
        raise ServiceError(
            code="invalid_format",
            message=f"format=coco is for boxes pools; this pool is {pool.task_type}. Use json, csv or jsonl.",
            details={"allowed": ["json", "csv", "jsonl"]},
        )
    tasks = Task.objects.filter(pool=pool, golden_label__isnull=True).order_by("id")
    sizes = tasks.values_list("id", "external_id", "data__width", "data__height")
    lacking, first = 0, None
    for task_id, external_id, width, height in sizes.iterator(chunk_size=5000):
        if pixels(width) is None or pixels(height) is None:
            lacking += 1
            first = first or (task_id, external_id)
    if first is not None:
        task_id, external_id = first
        named = f"task {task_id}" + (f" (external_id {external_id!r})" if external_id else "")
        raise ServiceError(
            code="invalid_request",
            message=(
                f'COCO gives boxes in pixels, so each task needs its image\'s size in the data fields "width" '
                f'and "height"; {lacking} of this pool\'s tasks lack them, the first is {named}. Upload '
                "tasks with them, or download format=json, which gives boxes as fractions of the image."
            ),
            details={"fields": list(SIZE_FIELDS), "tasks_without": lacking, "first_task_id": task_id},
        )
    labels = list(pool.labels)
    category = {label: i for i, label in enumerate(labels, start=1)}
    image_field = f"data__{pool.options['image_field']}"

    def images() -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        # Results and task data both come in task id order, so one pass over each joins them.
        data = cast(
            Generator[tuple[Any, ...], None, None],
            tasks.values_list("id", image_field, "data__width", "data__height").iterator(chunk_size=5000),
        )
        try:
            yield from _coco_images(data=data, results=typed_results_for_pool(pool=pool))
        finally:
            # Closed here, not left to the garbage collector: a server cursor closed during another query on
            # the same connection deadlocks psycopg.
            data.close()

    def _coco_images(
        *, data: Iterator[tuple[Any, ...]], results: Iterator[dict[str, Any]]
    ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        current = next(data, None)
        annotation_id = 0
        for row in results:
            while current is not None and current[0] < row["task_id"]:
                current = next(data, None)
            if row["answer"] is None or current is None or current[0] != row["task_id"]:
                continue
            _, url, width, height = current
            width, height = pixels(width), pixels(height)
            if width is None or height is None:  # a task whose size changed since the check: left out
                continue
            annotations = []
            for box in row["answer"]:
                annotation_id += 1
                bbox = coco_bbox(box, width=width, height=height)
                annotations.append(
                    {
                        "id": annotation_id,
                        "image_id": row["task_id"],
                        "category_id": category[box["label"]],
                        "bbox": bbox,
                        "area": round(bbox[2] * bbox[3], 2),
                        "iscrowd": 0,
                        "score": box["confidence"],
                    }
                )
            image = {
                "id": row["task_id"],
                "file_name": url,
                "coco_url": url,
                "width": width,
                "height": height,
                "external_id": row["external_id"],
            }
            yield image, annotations

    return CocoExport(
        categories=[{"id": i, "name": label, "supercategory": ""} for label, i in category.items()],
        images=images(),
    )
