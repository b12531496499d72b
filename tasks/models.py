from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from fairlabel import money


class PoolStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"
    COMPLETED = "completed", "Completed"


class AggregationMethod(models.TextChoices):
    DAWID_SKENE = "ds", "Dawid-Skene seeded with golden items"
    MAJORITY_VOTE = "mv", "Majority vote"
    WAWA = "wawa", "Worker agreement with aggregate (Wawa)"
    AUTO = "auto", "Chosen per run by the golden items (held-out log-likelihood)"


class Acceptance(models.TextChoices):
    INSTANT = "instant", "Accepted and paid when submitted"
    REVIEW = "review", "Reviewed by the requester within review_hours"


class ContentWarning(models.TextChoices):
    VIOLENCE = "violence", "Violence"
    SEXUAL = "sexual", "Sexual content"
    HATE = "hate", "Hate"
    SELF_HARM = "self_harm", "Self-harm"
    OTHER = "other", "Other disturbing content"


class Pool(models.Model):
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pools")
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    # The kind of question (quality/types: one folder per type). No check constraint on the names: a new type
    # is its folder and a registry line, without a migration; the API refuses a name the registry lacks.
    task_type = models.CharField(max_length=32, default="single_choice")
    # The choices (single_choice, multi_choice) or the classes of boxes; empty for types without labels.
    labels = models.JSONField()
    # The type's own settings (max_length, image_field, allow_tie, ...), defaults filled in by the type.
    options = models.JSONField(default=dict, blank=True)
    reward = models.DecimalField(max_digits=money.INPUT_DIGITS, decimal_places=money.INPUT_PLACES)
    overlap = models.PositiveSmallIntegerField(default=1)
    priority = models.PositiveSmallIntegerField(default=50)
    golden_rate = models.FloatField(default=0.1)
    assignment_ttl = models.PositiveIntegerField(default=600)
    status = models.CharField(max_length=16, choices=PoolStatus.choices, default=PoolStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Golden answers still paid for by the reservation; a golden task is only served while this is positive.
    golden_slots_left = models.PositiveIntegerField(default=0)

    # Quality settings.
    min_skill = models.FloatField(default=0.7)
    min_golden = models.PositiveSmallIntegerField(default=5)
    min_seconds = models.FloatField(null=True, blank=True)
    aggregation_method = models.CharField(
        max_length=8, choices=AggregationMethod.choices, default=AggregationMethod.DAWID_SKENE
    )
    target_confidence = models.FloatField(null=True, blank=True)
    min_overlap = models.PositiveSmallIntegerField(null=True, blank=True)

    # Payment and worker-care settings.
    acceptance = models.CharField(max_length=8, choices=Acceptance.choices, default=Acceptance.INSTANT)
    review_hours = models.PositiveSmallIntegerField(default=24)
    content_warning = models.CharField(max_length=16, choices=ContentWarning.choices, null=True, blank=True)
    # Task data is shown as text unless the requester opts in to sanitised HTML.
    allow_html = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1, overlap__lte=100), name="pool_overlap_range"),
            models.CheckConstraint(condition=Q(priority__lte=100), name="pool_priority_range"),
            models.CheckConstraint(
                condition=Q(golden_rate__gte=0, golden_rate__lte=0.5), name="pool_golden_rate"
            ),
            models.CheckConstraint(condition=Q(reward__gt=0), name="pool_reward_positive"),
            models.CheckConstraint(
                condition=Q(review_hours__gte=1, review_hours__lte=72), name="pool_review_hours"
            ),
        ]
        indexes = [models.Index(fields=["status", "-priority", "id"], name="pool_feed")]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="tasks")
    data = models.JSONField()
    # The golden answer in its type's canonical text (for single_choice the label itself); set marks a golden task.
    golden_label = models.TextField(null=True, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    # Answers this task may receive at most (the pool's overlap when it was added).
    max_answers = models.PositiveSmallIntegerField()
    answers_count = models.PositiveIntegerField(default=0)
    # Places not yet taken by an active or submitted assignment. A claim takes one under a row lock and the
    # check constraint makes a negative count, and so an extra answer, impossible.
    remaining = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(golden_label__isnull=False)
                | (Q(remaining__gte=0) & Q(answers_count__lte=F("max_answers"))),
                name="task_never_over_assigned",
            )
        ]
        indexes = [
            # The claim queue: regular tasks with a free place, most-taken first so tasks finish early.
            models.Index(
                "pool",
                "remaining",
                "id",
                condition=Q(remaining__gt=0, golden_label__isnull=True),
                name="task_claim_queue",
            ),
            models.Index(
                "pool",
                "answers_count",
                "id",
                condition=Q(golden_label__isnull=False),
                name="task_golden_queue",
            ),
            models.Index(
                "pool",
                condition=Q(golden_label__isnull=True, answers_count__lt=F("max_answers")),
                name="task_incomplete",
            ),
        ]

    @property
    def is_golden(self) -> bool:
        return self.golden_label is not None


class AssignmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class Assignment(models.Model):
    # No index of its own: the unique (task, worker) index serves every lookup by task, and each index is
    # written at every claim and again at every submit (a status change is never a HOT update here).
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ACTIVE
    )
    is_golden = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A worker meets a task once: no repeated answer, skipped tasks never come back.
            models.UniqueConstraint(fields=["task", "worker"], name="assignment_once_per_worker"),
            # One task at a time per worker; the feed returns it until it is submitted or expires.
            models.UniqueConstraint(
                fields=["worker"], condition=Q(status="active"), name="assignment_one_active_per_worker"
            ),
        ]
        indexes = [
            models.Index(
                "pool",
                "expires_at",
                condition=Q(status="active", is_golden=False),
                name="assignment_expiring",
            ),
        ]


class AnswerStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    PENDING = "pending", "Pending review"
    REJECTED = "rejected", "Rejected"


class Answer(models.Model):
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="answer")
    # These three have no single-column index: (task, worker), (pool, submitted_at) and (worker, submitted_at)
    # below lead with them and serve the same lookups, and every index is written at every submit.
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="answers", db_index=False)
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="answers", db_index=False)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="answers", db_index=False
    )
    # The answer in its type's canonical text (quality/types): the label for single_choice, JSON for lists and
    # boxes, the text itself for text, "left"/"right"/"tie" for pairwise.
    label = models.TextField()
    submitted_at = models.DateTimeField(db_index=True)
    duration_ms = models.PositiveIntegerField()
    is_golden = models.BooleanField(default=False)
    correct = models.BooleanField(null=True)
    flagged_fast = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=AnswerStatus.choices, default=AnswerStatus.ACCEPTED)
    reward = models.DecimalField(max_digits=money.INPUT_DIGITS, decimal_places=money.INPUT_PLACES)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "worker"], name="answer_once_per_worker")]
        indexes = [
            models.Index(fields=["pool", "submitted_at"], name="answer_pool_time"),
            models.Index(fields=["worker", "submitted_at"], name="answer_worker_time"),
        ]


class WorkerPoolStats(models.Model):
    """A worker's counters in one pool: drives golden mixing and the skill score."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pool_stats")
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="worker_stats")
    claimed = models.PositiveIntegerField(default=0)
    golden_claimed = models.PositiveIntegerField(default=0)
    answers = models.PositiveIntegerField(default=0)
    golden_answered = models.PositiveIntegerField(default=0)
    golden_correct = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["worker", "pool"], name="stats_once_per_worker_pool")]
