"""Fair work: decisions against workers and their appeals, the audit log, ratings of requesters, care settings,
and the measured pay of each pool against the platform's hourly floor."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tasks.models import ContentWarning


class DecisionKind(models.TextChoices):
    RESTRICTION = "restriction", "Restriction from a pool"
    REJECTION = "rejection", "Rejected answer"
    BLOCK = "block", "Platform-wide block"


class Decision(models.Model):
    """One decision against a worker, with the reason and the figures behind it, as the worker sees it.

    `created_by` is the person who made it; None means a rule made it (a quality threshold). A block can only be
    made by a person: the database refuses a block without one.
    """

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    pool = models.ForeignKey(
        "tasks.Pool", null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    reason = models.TextField()
    figures = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions_made",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # What the decision is about: the rejected answer, or quality's restriction (fair work sits above quality).
    answer = models.ForeignKey(
        "tasks.Answer", null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    # No index of its own: the unique partial index below serves every lookup by restriction.
    restriction = models.ForeignKey(
        "quality.Restriction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,
    )
    # Set when the decision no longer stands: upheld on appeal, or lifted by staff.
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="block") | Q(created_by__isnull=False), name="decision_block_by_a_person"
            ),
            models.CheckConstraint(
                condition=~Q(kind="rejection") | Q(answer__isnull=False), name="decision_rejection_has_answer"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="decision_has_reason"),
            models.UniqueConstraint(
                fields=["answer"], condition=Q(answer__isnull=False), name="decision_once_per_answer"
            ),
            models.UniqueConstraint(
                fields=["restriction"],
                condition=Q(restriction__isnull=False),
                name="decision_once_per_restriction",
            ),
            # At most one standing block per worker.
            models.UniqueConstraint(
                fields=["worker"],
                condition=Q(kind="block", reversed_at__isnull=True),
                name="decision_one_active_block",
            ),
        ]
        indexes = [models.Index(fields=["worker", "-created_at"], name="decision_worker_time")]

    @property
    def standing(self) -> bool:
        return self.reversed_at is None


class AppealStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    UPHELD = "upheld", "Upheld: the decision was reversed"
    DENIED = "denied", "Denied: the decision stands"


class Appeal(models.Model):
    """A worker's one appeal against one decision (the one-to-one makes a second appeal impossible)."""

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="appeal")
    message = models.TextField()
    status = models.CharField(max_length=16, choices=AppealStatus.choices, default=AppealStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appeals_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(blank=True)

    class Meta:
        constraints = [
            # A decision on an appeal names who made it and says why.
            models.CheckConstraint(
                condition=Q(status="pending")
                | (Q(decided_by__isnull=False) & Q(decided_at__isnull=False) & ~Q(response="")),
                name="appeal_decision_answered",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="appeal_queue")]


class AuditAction(models.TextChoices):
    DECISION_MADE = "decision_made", "Decision made"
    DECISION_LIFTED = "decision_lifted", "Decision lifted by staff"
    APPEAL_FILED = "appeal_filed", "Appeal filed"
    APPEAL_UPHELD = "appeal_upheld", "Appeal upheld"
    APPEAL_DENIED = "appeal_denied", "Appeal denied"
    FLOOR_TOP_UP = "floor_top_up", "Top-up to the pay floor"
    POOL_BELOW_FLOOR = "pool_below_floor", "Pool fell below the pay floor"
    POOL_ABOVE_FLOOR = "pool_above_floor", "Pool back above the pay floor"
    ACCOUNT_ERASED = "account_erased", "Personal data erased"


class AuditLog(models.Model):
    """Append-only: every decision, appeal and decision on an appeal. PostgreSQL refuses UPDATE and DELETE.

    `summary` holds what the platform or staff wrote, never a worker's own words (those stay in the appeal,
    where erasing an account can clear them).
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pool = models.ForeignKey("tasks.Pool", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="audit"
    )
    appeal = models.ForeignKey(Appeal, null=True, blank=True, on_delete=models.PROTECT, related_name="audit")
    summary = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["worker", "-created_at"], name="audit_worker_time")]


# A worker rates a requester only after this many answers in their pools: enough work to judge it.
RATING_MIN_ANSWERS = 10


class RequesterRating(models.Model):
    """A worker's rating of a requester. The requester only ever sees averages and unsigned comments."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings_given"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings_received"
    )
    pay = models.PositiveSmallIntegerField()
    clarity = models.PositiveSmallIntegerField()
    fairness = models.PositiveSmallIntegerField()
    speed = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SCORES = ("pay", "clarity", "fairness", "speed")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "requester"], name="rating_once_per_worker_requester"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{score}__gte": 1, f"{score}__lte": 5}), name=f"rating_{score}_1_to_5"
                )
                for score in ("pay", "clarity", "fairness", "speed")
            ],
        ]


class WorkerCarePreferences(models.Model):
    """How many tasks with a content warning a worker takes on per day (UTC). Categories are ContentOptIn rows."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_preferences"
    )
    daily_cap = models.PositiveIntegerField(default=50)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(daily_cap__lte=1000), name="care_daily_cap_range"),
        ]


class ContentOptIn(models.Model):
    """The worker agreed to see tasks in this content-warning category. No row: such pools stay hidden."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="content_opt_ins"
    )
    category = models.CharField(max_length=16, choices=ContentWarning.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["worker", "category"], name="opt_in_once")]


class PoolPay(models.Model):
    """A pool's measured pay against the floor: a cache the periodic job and reward changes keep fresh.

    The claim path reads `below_floor` in the same query that lists the open pools, so the measurement (a median
    over recent answers) never runs per claim.
    """

    pool = models.OneToOneField("tasks.Pool", on_delete=models.CASCADE, related_name="pay")
    answers = models.PositiveIntegerField(default=0)
    median_ms = models.PositiveIntegerField(null=True, blank=True)
    # Wide enough for the largest reward a requester may set, answered in 1 ms (reward x 3,600,000), and for the
    # reward that clears the largest floor at the longest answer a duration column holds.
    effective_hourly_pay = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    floor_reward = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    below_floor = models.BooleanField(default=False)
    below_floor_since = models.DateTimeField(null=True, blank=True)
    measured_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["pool"], condition=Q(below_floor=True), name="pool_pay_below_floor")]


class PoolTopUp(models.Model):
    """What closing an under-floor pool owed its workers and what the reservation could pay (pro rata if short)."""

    pool = models.OneToOneField("tasks.Pool", on_delete=models.PROTECT, related_name="floor_top_up")
    owed = models.DecimalField(max_digits=20, decimal_places=6)
    paid = models.DecimalField(max_digits=20, decimal_places=6)
    workers = models.PositiveIntegerField()
    median_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def short(self) -> bool:
        return self.paid < self.owed


class RequesterStats(models.Model):
    """How fast a requester accepts work: refreshed by a periodic job from recent reviewed answers."""

    requester = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="acceptance_stats"
    )
    reviewed = models.PositiveIntegerField(default=0)
    median_review_seconds = models.PositiveIntegerField(null=True, blank=True)
    rejected_share = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField()
