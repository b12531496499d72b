"""Reads for imports and webhooks; a requester only ever reaches their own."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import User
from fairlabel.errors import ServiceError
from fairlabel.numbers import parse_id
from integrations.models import ImportJob, Webhook, WebhookDelivery
from tasks.models import Pool


def import_job_for_requester(*, job_id: object, requester: User) -> ImportJob:
    try:
        public_id = uuid.UUID(str(job_id))
    except ValueError:
        public_id = None
    job = (
        ImportJob.objects.select_related("pool").filter(public_id=public_id, requester=requester).first()
        if public_id
        else None
    )
    if job is None:
        raise ServiceError(code="not_found", message="No such import job.", status_code=404)
    return job


def import_jobs_for_pool(*, pool: Pool, limit: int = 5) -> list[ImportJob]:
    return list(ImportJob.objects.filter(pool=pool).order_by("-created_at", "-id")[:limit])


def webhooks_for_requester(*, requester: User) -> QuerySet[Webhook]:
    return Webhook.objects.filter(requester=requester).order_by("-created_at", "-id")


def webhook_for_requester(*, webhook_id: object, requester: User) -> Webhook:
    pk = parse_id(webhook_id)
    webhook = Webhook.objects.filter(pk=pk, requester=requester).first() if pk else None
    if webhook is None:
        raise ServiceError(code="not_found", message="No such webhook.", status_code=404)
    return webhook


def deliveries_for_webhook(*, webhook: Webhook, limit: int = 100) -> list[WebhookDelivery]:
    return list(webhook.deliveries.order_by("-created_at", "-id")[:limit])
