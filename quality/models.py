"""Quality records: restrictions on workers, aggregated results, per-worker confusion, aggregation runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tasks.models import AggregationMethod, Pool, Task


class RestrictionKind(models.TextChoices):
    LOW_SKILL = "low_skill", "Golden accuracy below the pool's minimum"
    STAFF = "staff", "Imposed by staff"


class Restriction(models.Model):
    """A worker kept out of a pool (or, with no pool, out of every pool) until it is lifted.

    Rows are never deleted: a lift fills in lifted_at/lifted_by/lift_reason, so the history of decisions
    stays readable for the worker, for staff and for the appeals that the fairness work adds. `reason` is a
    sentence for people; `figures` holds the numbers behind it (for the skill rule: golden_answered,
    golden_correct, skill, min_skill, min_golden, counted_since).
    """

    worker = models.ForeignKey(  # indexed with pool below
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="restrictions", db_index=False
    )
    pool = models.ForeignKey(
        Pool, on_delete=models.CASCADE, null=True, blank=True, related_name="restrictions"
    )
    kind = models.CharField(max_length=16, choices=RestrictionKind.choices)
    reason = models.TextField()
    figures = models.JSONField(default=dict, blank=True)
    # None: imposed by the platform's rule, not by a person.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lift_reason = models.TextField(blank=True)
    # The worker's golden counts in the pool when the restriction was lifted: the skill rule counts only
    # golden answers given after a lift, so a lifted worker gets a fresh start instead of being restricted
    # again by their very next golden answer.
    lift_figures = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "pool"],
                condition=Q(lifted_at__isnull=True, pool__isnull=False),
                name="restriction_one_active_per_pool",
            ),
            models.UniqueConstraint(
                fields=["worker"],
                condition=Q(lifted_at__isnull=True, pool__isnull=True),
                name="restriction_one_active_platform_wide",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="restriction_has_reason"),
            # The rule imposes low_skill restrictions; a person imposes the others.
            models.CheckConstraint(
                condition=Q(kind="low_skill", created_by__isnull=True)
                | (~Q(kind="low_skill") & Q(created_by__isnull=False)),
                name="restriction_author_matches_kind",
            ),
            # A lift is all or nothing, and always says why.
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lifted_by__isnull=True, lift_reason="")
                | (Q(lifted_at__isnull=False, lifted_by__isnull=False) & ~Q(lift_reason="")),
                name="restriction_lift_complete",
            ),
        ]
        indexes = [models.Index(fields=["worker", "pool", "-created_at"], name="restriction_worker_pool")]

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class TaskResult(models.Model):
    """The aggregated label of one regular task, as of the pool's latest aggregation run.

    A cache rebuilt by every run, so its foreign keys are not database constraints: PostgreSQL checks a
    deferred foreign key row by row at commit, which cost more than two seconds for the 200,000 rows of a
    million-answer pool (bench/aggregation.py). Rows are only written for tasks the run has just read; the
    ORM still deletes a task's result with the task.
    """

    task = models.OneToOneField(
        Task, on_delete=models.CASCADE, primary_key=True, related_name="quality_result", db_constraint=False
    )
    # Indexed together with task below; a second index on pool alone would only slow the bulk writes.
    pool = models.ForeignKey(
        Pool, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    method = models.CharField(max_length=8, choices=AggregationMethod.choices)
    # single_choice: the label. Other types: the answer's canonical text, and `answer` its JSON value with the
    # type's detail (a confidence per box).
    label = models.TextField()
    answer = models.JSONField(null=True, blank=True)
    # single_choice: calibrated on the pool's golden items where there are enough (the run's calibration says
    # how); raw_confidence is the method's own posterior or vote share, kept for staff. Null for other types.
    confidence = models.FloatField()
    raw_confidence = models.FloatField(null=True, blank=True)
    # multi_choice: each label's own probability of belonging, {label: p}; null for other types.
    label_confidence = models.JSONField(null=True, blank=True)
    answers = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0, confidence__lte=1), name="taskresult_confidence_range"
            )
        ]
        indexes = [models.Index(fields=["pool", "task"], name="taskresult_pool")]


class WorkerConfusion(models.Model):
    """A worker's estimated confusion matrix in a pool: rows are the true label, columns the given one, in
    the order of pool.labels; each row sums to 1. `answers` and `agreed` count the worker's answers in the
    run and those equal to the aggregated label (on golden tasks: to the true label)."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="+", db_index=False)  # unique below
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=8, choices=AggregationMethod.choices)
    matrix = models.JSONField()
    answers = models.PositiveIntegerField()
    agreed = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pool", "worker"], name="confusion_once_per_worker_pool"),
            models.CheckConstraint(
                condition=Q(agreed__lte=models.F("answers")), name="confusion_agreed_le_answers"
            ),
        ]


class AggregationTrigger(models.TextChoices):
    ANSWERS = "answers", "New answers while the pool runs"
    POOL_END = "pool_end", "The pool completed or closed"
    MANUAL = "manual", "Run by hand (command, benchmark)"


class AggregationRun(models.Model):
    """One aggregation of a pool, for showing how fresh results are and what the run cost."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="+", db_index=False)  # index below
    method = models.CharField(max_length=8, choices=AggregationMethod.choices)
    trigger = models.CharField(max_length=16, choices=AggregationTrigger.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    answers = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)
    workers = models.PositiveIntegerField(default=0)
    iterations = models.PositiveIntegerField(default=0)
    load_ms = models.PositiveIntegerField(default=0)
    compute_ms = models.PositiveIntegerField(default=0)
    save_ms = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    stopped_tasks = models.PositiveIntegerField(default=0)  # tasks whose overlap was cut by this run
    reopened_tasks = models.PositiveIntegerField(default=0)
    # single_choice: the calibration fitted on held-out golden items (quality.calibration.Calibration.as_json).
    calibration = models.JSONField(null=True, blank=True)
    # A pool whose method is "auto": the method chosen, the runner-up and every candidate's held-out score
    # (quality.selection.MethodChoice.as_json); `method` above is the one chosen.
    method_choice = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["pool", "-started_at"], name="aggregationrun_pool")]


class PoolAggregationState(models.Model):
    """Debounce and mutual exclusion for a pool's aggregation, and the estimates submit-time checks use.

    `due_at` set: a run has been asked for and not started yet (its message is on the queue, delayed until
    then). A run clears it when it starts, so an answer that finds it set knows a run will still read it.
    `running_until`: a lease, so two runs of a pool never overlap; a run that died leaves it to expire.
    """

    pool = models.OneToOneField(Pool, on_delete=models.CASCADE, primary_key=True, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    running_until = models.DateTimeField(null=True, blank=True)
    # The stored results hold every answer submitted before this moment (the start of the run that wrote them).
    results_as_of = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=8, choices=AggregationMethod.choices, blank=True)
    # From the latest run: class frequencies (k) and the answer-weighted mean confusion matrix (k x k), the
    # prior for a worker the run has not seen yet.
    class_prior = models.JSONField(null=True, blank=True)
    mean_confusion = models.JSONField(null=True, blank=True)
    # single_choice: the latest run's calibration, which the submit-time estimate applies as the run did.
    calibration = models.JSONField(null=True, blank=True)
    # Pairwise pools: one row per compared item from the latest run, {"item", "score", "rank", "comparisons"}.
    items = models.JSONField(null=True, blank=True)
