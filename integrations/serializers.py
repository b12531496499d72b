from __future__ import annotations

from typing import Any

from django.urls import reverse

from fairlabel.timestamps import json_time
from integrations.models import ImportJob, ImportStatus, Webhook, WebhookDelivery


def import_job_json(job: ImportJob, *, build_uri: Any = None) -> dict[str, Any]:
    path = reverse("api-import-job", args=[job.public_id])
    return {
        "id": str(job.public_id),
        "url": build_uri(path) if build_uri else path,
        "pool": job.pool_id,
        "status": job.status,
        "file_name": job.file_name,
        "file_size": job.file_size,
        "progress": {"percent": job.percent, "rows_read": job.rows_read, "bytes_read": job.bytes_read},
        "created": job.created_count,
        "error": (
            {"code": job.error_code, "message": job.error_message, "row": job.error_row}
            if job.status == ImportStatus.FAILED
            else None
        ),
        "created_at": json_time(job.created_at),
        "started_at": json_time(job.started_at),
        "finished_at": json_time(job.finished_at),
    }


def webhook_json(webhook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": webhook.pk,
        "url": webhook.url,
        "events": webhook.events,
        "progress_step": webhook.progress_step,
        "is_active": webhook.is_active,
        "created_at": json_time(webhook.created_at),
    }
    if with_secret:
        body["secret"] = webhook.secret
    return body


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": str(delivery.public_id),
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_code": delivery.response_code,
        "error": delivery.error,
        "created_at": json_time(delivery.created_at),
        "last_attempt_at": json_time(delivery.last_attempt_at),
        "delivered_at": json_time(delivery.delivered_at),
    }
