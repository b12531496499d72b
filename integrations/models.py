"""Background imports and webhooks: the rows are the outbox, so a lost message is found again by a periodic job."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed: nothing imported"


class ImportJob(models.Model):
    """A large upload imported in the background, all or nothing."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    pool = models.ForeignKey("tasks.Pool", on_delete=models.CASCADE, related_name="import_jobs")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    # Where the upload waits under IMPORT_DIR; removed once the job has finished either way.
    file_path = models.CharField(max_length=1000)
    file_size = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    # Progress, written from a second connection while the import's own transaction is still open.
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_row = models.IntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running"]) | Q(finished_at__isnull=False),
                name="import_finished_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_message=""), name="import_failed_has_error"
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(status__in=["queued", "running"]), name="import_unfinished"
            ),
            models.Index(fields=["pool", "-created_at"], name="import_pool_recent"),
        ]

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.SUCCEEDED:
            return 100
        if not self.file_size:
            return 0
        return min(99, int(100 * self.bytes_read / self.file_size))

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)


class WebhookEvent(models.TextChoices):
    POOL_COMPLETED = "pool.completed", "pool.completed: a pool has every answer it needs"
    POOL_PROGRESS = "pool.progress", "pool.progress: a pool passed another N% of its tasks"
    IMPORT_FINISHED = "import.finished", "import.finished: a background import succeeded or failed"


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Webhook(models.Model):
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    # pool.progress fires each time a pool's completed share passes another multiple of this many percent.
    progress_step = models.PositiveSmallIntegerField(default=10)
    secret = models.CharField(max_length=100, default=new_webhook_secret)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_step__gte=1, progress_step__lte=100), name="webhook_progress_step"
            ),
        ]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    # What happened, e.g. "pool.progress:12:30": one delivery per webhook and happening, however often the
    # scan that finds it runs.
    event_key = models.CharField(max_length=200)
    # The exact body sent and signed, so every retry carries the same bytes and signature.
    body = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_key"], name="delivery_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_recent"),
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="delivery_pending"),
        ]
