"""Background jobs for imports and webhooks: they take ids, call one service, and are safe to run twice."""

from __future__ import annotations

import dramatiq
from django.conf import settings

from integrations import services
from workflows.imports import import_job_run as import_job_run_now


class DeliveryNotYet(Exception):
    """Raised to make dramatiq retry a webhook delivery later, with its exponential backoff."""


# No retries: the import is all or nothing and records its own failure; a dead worker's job is sent again
# by import_jobs_tidy once its lock is gone. The time limit is generous: a million rows take about a minute.
@dramatiq.actor(max_retries=0, time_limit=60 * 60 * 1000)
def import_job_run(job_id: int) -> None:
    import_job_run_now(job_id=job_id)


@dramatiq.actor(
    max_retries=max(0, settings.WEBHOOK_MAX_ATTEMPTS - 1),
    min_backoff=10_000,  # 10 s, doubling each time, so 8 attempts span about 20 minutes
    max_backoff=60 * 60 * 1000,
    time_limit=60 * 1000,
)
def webhook_deliver(delivery_id: int) -> None:
    if not services.webhook_delivery_attempt(delivery_id=delivery_id):
        raise DeliveryNotYet(f"delivery {delivery_id} will be retried")


@dramatiq.actor(max_retries=0)
def webhooks_scan() -> None:
    services.webhooks_scan()


@dramatiq.actor(max_retries=0)
def integrations_tidy() -> None:
    """Safety net for lost messages: stalled imports and deliveries nobody tried for a while are sent again."""
    services.import_jobs_resume_stalled()
    services.webhook_deliveries_resend()
