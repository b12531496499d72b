"""Writes for background imports and webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Protocol, cast

import httpx
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from fairlabel.errors import ServiceError
from fairlabel.jobs import enqueue, enqueue_on_commit
from fairlabel.timestamps import json_time
from integrations.models import (
    DeliveryStatus,
    ImportJob,
    ImportStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from integrations.netguard import Target, resolve_target
from tasks.importing import FILE_TYPES, CountingReader, RowCheck, TaskRow, rows_from_upload
from tasks.models import Pool, PoolStatus
from tasks.selectors import pools_progress

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock(IMPORT_LOCK_SPACE, job id): held by the transaction that imports, gone with it.
IMPORT_LOCK_SPACE = 6_006

# ------------------------------------------------------------------------------------------------- imports


def _refuse_file_type(name: str) -> None:
    if not name.lower().endswith(FILE_TYPES):
        raise ServiceError(
            code="unsupported_file_type",
            message="Upload a .csv, .jsonl or .json file.",
            details={"filename": name},
        )


def import_job_create(*, pool: Pool, requester: User, upload: UploadedFile) -> ImportJob:
    """Keep the upload under IMPORT_DIR and queue its import; the job answers how far it got."""
    name = upload.name or "upload"
    _refuse_file_type(name)
    if pool.status not in (PoolStatus.DRAFT, PoolStatus.OPEN):
        raise ServiceError(
            code="pool_not_editable",
            message=f"Tasks can be added to a draft or open pool; this one is {pool.status}.",
            status_code=409,
        )
    directory = Path(settings.IMPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    size = 0
    with path.open("wb") as out:
        for chunk in upload.chunks(1024 * 1024):
            out.write(chunk)
            size += len(chunk)
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                pool=pool, requester=requester, file_name=name[:255], file_path=str(path), file_size=size
            )
            enqueue_on_commit("import_job_run", job.pk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return job


class _ProgressWriter:
    """Writes a running import's progress through its own autocommit connection, so others see it at once.

    The import's transaction stays open until the last row; anything it wrote itself would stay invisible
    until then.
    """

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._connection = connections.create_connection("default")
        self._table = ImportJob._meta.db_table

    def update(self, sql_set: str, params: list[Any]) -> None:
        with self._connection.cursor() as cursor:
            cursor.execute(f"UPDATE {self._table} SET {sql_set} WHERE id = %s", [*params, self.job_id])

    def close(self) -> None:
        self._connection.close()


def _acquire_job_lock(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [IMPORT_LOCK_SPACE, job_id])
        return bool(cursor.fetchone()[0])


def import_job_is_running_somewhere(*, job_id: int) -> bool:
    """Does a live transaction hold this job's import lock? (A killed worker's lock went with its connection.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s",
            [IMPORT_LOCK_SPACE, job_id],
        )
        return bool(cursor.fetchone()[0])


class RowLoader(Protocol):
    def __call__(
        self, *, pool_id: int, rows: Iterable[TaskRow], on_progress: Callable[[int], None] | None
    ) -> int: ...


def import_job_run(
    *, job_id: int, load_rows: RowLoader, row_check: Callable[[Pool], RowCheck]
) -> ImportJob | None:
    """Import the job's file in one transaction; safe to run twice (a finished or running job is left alone).

    `load_rows` writes the parsed rows into the pool and returns how many (the use case above, which also
    reserves their cost), `row_check` gives the pool's check of each row by its task type (quality, a peer);
    this module keeps the job's lifecycle, its lock, progress and failure reports.
    """
    job = ImportJob.objects.select_related("pool").filter(pk=job_id).first()
    if job is None or job.finished:
        return job
    progress = _ProgressWriter(job_id)
    try:
        with transaction.atomic(durable=True):
            if not _acquire_job_lock(job_id):
                return job  # another worker is importing it right now
            job = ImportJob.objects.select_related("pool").get(pk=job_id)
            if job.finished:
                return job
            progress.update(
                "status = %s, started_at = %s, attempts = attempts + 1, bytes_read = 0, rows_read = 0",
                [ImportStatus.RUNNING, timezone.now()],
            )
            with open(job.file_path, "rb") as file:
                reader = CountingReader(file)
                rows = rows_from_upload(
                    name=job.file_name, file=cast(IO[bytes], reader), check=row_check(job.pool)
                )
                created = load_rows(
                    pool_id=job.pool_id,
                    rows=rows,
                    on_progress=lambda n: progress.update(
                        "rows_read = %s, bytes_read = %s", [n, reader.bytes_read]
                    ),
                )
            progress.close()
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportStatus.SUCCEEDED,
                created_count=created,
                rows_read=created,
                bytes_read=job.file_size,
                finished_at=timezone.now(),
                started_at=F("started_at") if job.started_at else timezone.now(),
            )
            _emit_import_finished(job_id=job_id)
    except ServiceError as exc:
        _import_failed(job_id=job_id, code=exc.error_code, message=exc.message, row=exc.details.get("row"))
    except FileNotFoundError:
        _import_failed(
            job_id=job_id, code="file_missing", message="The uploaded file is gone; upload it again."
        )
    except Exception:
        log.exception("import job %s stopped on an internal error", job_id)
        _import_failed(
            job_id=job_id,
            code="internal_error",
            message="The import stopped on an internal error and nothing was imported; please upload it again.",
        )
    finally:
        progress.close()
    job = ImportJob.objects.get(pk=job_id)
    if job.finished:
        Path(job.file_path).unlink(missing_ok=True)
    return job


@transaction.atomic
def _import_failed(*, job_id: int, code: str, message: str, row: Any = None) -> None:
    updated = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
    ).update(
        status=ImportStatus.FAILED,
        error_code=code[:64],
        error_message=message,
        error_row=row if isinstance(row, int) else None,
        finished_at=timezone.now(),
    )
    if updated:
        _emit_import_finished(job_id=job_id)


def import_jobs_resume_stalled(*, queued_after: timedelta = timedelta(minutes=5)) -> int:
    """Send again the jobs whose message was lost (still queued) or whose worker died (running, no lock)."""
    now = timezone.now()
    sent = 0
    for job in ImportJob.objects.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).order_by(
        "pk"
    ):
        stale_queue = job.status == ImportStatus.QUEUED and job.created_at < now - queued_after
        dead_worker = job.status == ImportStatus.RUNNING and not import_job_is_running_somewhere(
            job_id=job.pk
        )
        if stale_queue or dead_worker:
            enqueue("import_job_run", job.pk)
            sent += 1
    return sent


def _emit_import_finished(*, job_id: int) -> None:
    job = ImportJob.objects.get(pk=job_id)
    data: dict[str, Any] = {
        "job": str(job.public_id),
        "pool": job.pool_id,
        "status": job.status,
        "created": job.created_count,
        "file_name": job.file_name,
    }
    if job.status == ImportStatus.FAILED:
        data["error"] = {"code": job.error_code, "message": job.error_message, "row": job.error_row}
    webhook_event_emit(
        requester_id=job.requester_id,
        event=WebhookEvent.IMPORT_FINISHED,
        event_key=f"import.finished:{job.public_id}",
        data=data,
    )


# ------------------------------------------------------------------------------------------------ webhooks

MAX_WEBHOOKS_PER_REQUESTER = 20


def webhook_create(*, requester: User, url: str, events: list[str], progress_step: int = 10) -> Webhook:
    """Register a URL; it must resolve to public addresses only (checked again before every delivery)."""
    url = url.strip()
    if len(url) > 2000:
        raise ServiceError(code="invalid_webhook_url", message="The URL is longer than 2000 characters.")
    resolve_target(url)
    allowed = set(WebhookEvent.values)
    if not events or any(event not in allowed for event in events):
        raise ServiceError(
            code="invalid_request",
            message=f"Choose one or more events: {', '.join(WebhookEvent.values)}.",
            details={"fields": {"events": sorted(allowed)}},
        )
    if isinstance(progress_step, bool) or not isinstance(progress_step, int) or not 1 <= progress_step <= 100:
        raise ServiceError(
            code="invalid_request",
            message="progress_step is a whole number of percent from 1 to 100.",
            details={"fields": {"progress_step": ["1-100"]}},
        )
    if Webhook.objects.filter(requester=requester).count() >= MAX_WEBHOOKS_PER_REQUESTER:
        raise ServiceError(
            code="too_many_webhooks",
            message=f"An account can have at most {MAX_WEBHOOKS_PER_REQUESTER} webhooks.",
            status_code=409,
        )
    return Webhook.objects.create(
        requester=requester, url=url, events=sorted(set(events)), progress_step=progress_step
    )


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()


def _signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_event_emit(*, requester_id: int, event: str, event_key: str, data: dict[str, Any]) -> int:
    """Record one delivery per subscribed webhook (once per event_key) and send them after commit."""
    created = 0
    for webhook in Webhook.objects.filter(requester_id=requester_id, is_active=True):
        if event not in webhook.events:
            continue
        if _delivery_create(webhook=webhook, event=event, event_key=event_key, data=data):
            created += 1
    return created


def _delivery_create(*, webhook: Webhook, event: str, event_key: str, data: dict[str, Any]) -> bool:
    delivery_id = uuid.uuid4()
    body = json.dumps(
        {
            "id": str(delivery_id),
            "event": event,
            "created_at": json_time(timezone.now()),
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                public_id=delivery_id, webhook=webhook, event=event, event_key=event_key, body=body
            )
    except IntegrityError:
        return False  # this webhook already has this happening
    enqueue_on_commit("webhook_deliver", delivery.pk)
    return True


def _post(*, target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST to the checked address itself; Host and TLS name are the URL's, so DNS is not asked again."""
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host and not target.host.startswith("["):
        host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
    url = httpx.URL(
        scheme=target.scheme, host=str(target.address), port=target.port, raw_path=target.path.encode()
    )
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    with (
        httpx.Client(timeout=settings.WEBHOOK_TIMEOUT, follow_redirects=False, trust_env=False) as client,
        client.stream(
            "POST", url, content=body, headers={**headers, "Host": host_header}, extensions=extensions
        ) as response,
    ):
        return response.status_code


def webhook_delivery_attempt(*, delivery_id: int) -> bool:
    """One delivery attempt. True when it is settled (delivered or given up), False when it should be retried."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return True
        webhook = delivery.webhook
        now = timezone.now()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        code: int | None = None
        give_up = False
        if not webhook.is_active:
            error, give_up = "The webhook was switched off.", True
        else:
            try:
                target = resolve_target(webhook.url)
            except ServiceError as exc:
                error, give_up = f"Refused: {exc.message}", True
            else:
                body = delivery.body.encode()
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "Fairlabel-Webhooks/1",
                    "X-Fairlabel-Event": delivery.event,
                    "X-Fairlabel-Delivery": str(delivery.public_id),
                    "X-Fairlabel-Signature": _signature(webhook.secret, body),
                }
                try:
                    code = _post(target=target, body=body, headers=headers)
                    error = "" if 200 <= code < 300 else f"HTTP {code}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
        delivery.response_code = code
        delivery.error = error
        if code is not None and 200 <= code < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
        elif give_up or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
        delivery.save()
        return delivery.status != DeliveryStatus.PENDING


def webhooks_scan(*, completed_within: timedelta = timedelta(days=1)) -> int:
    """Find pools that passed a progress step or completed, for the requesters who asked to hear about it.

    Runs every few seconds from the scheduler rather than on each answer: the submit path stays free of
    webhook work, and the unique (webhook, event_key) index makes a repeated scan harmless.
    """
    webhooks = list(
        Webhook.objects.filter(is_active=True).only(
            "id", "requester_id", "events", "progress_step", "created_at"
        )
    )
    wanted = [
        w for w in webhooks if {WebhookEvent.POOL_PROGRESS, WebhookEvent.POOL_COMPLETED} & set(w.events)
    ]
    if not wanted:
        return 0
    requester_ids = {w.requester_id for w in wanted}
    since = timezone.now() - completed_within
    pools = list(
        Pool.objects.filter(requester_id__in=requester_ids, status__in=[PoolStatus.OPEN, PoolStatus.PAUSED])
        | Pool.objects.filter(
            requester_id__in=requester_ids, status=PoolStatus.COMPLETED, closed_at__gte=since
        )
    )
    stats = pools_progress(pool_ids=[p.pk for p in pools])
    existing = set(
        WebhookDelivery.objects.filter(webhook__in=wanted, created_at__gte=since - timedelta(days=30))
        .filter(event__in=[WebhookEvent.POOL_PROGRESS, WebhookEvent.POOL_COMPLETED])
        .values_list("webhook_id", "event_key")
    )
    created = 0
    for webhook in wanted:
        for pool in pools:
            if pool.requester_id != webhook.requester_id:
                continue
            stat = stats.get(pool.pk)
            if stat is None or not stat.tasks:
                continue
            data = {
                "pool": pool.pk,
                "name": pool.name,
                "status": pool.status,
                "tasks": stat.tasks,
                "completed": stat.completed,
                "percent": stat.percent,
            }
            if pool.status == PoolStatus.COMPLETED:
                if WebhookEvent.POOL_COMPLETED not in webhook.events or not pool.closed_at:
                    continue
                if pool.closed_at < webhook.created_at:
                    continue
                key = f"pool.completed:{pool.pk}"
                event = WebhookEvent.POOL_COMPLETED
            else:
                if WebhookEvent.POOL_PROGRESS not in webhook.events:
                    continue
                step = webhook.progress_step
                reached = stat.percent // step * step
                if reached <= 0:
                    continue
                key = f"pool.progress:{pool.pk}:{reached}"
                event = WebhookEvent.POOL_PROGRESS
                data["step"] = reached
            if (webhook.pk, key) in existing:
                continue
            with transaction.atomic():
                if _delivery_create(webhook=webhook, event=event, event_key=key, data=data):
                    created += 1
    return created


def webhook_deliveries_resend(*, older_than: timedelta = timedelta(minutes=30)) -> int:
    """Resend pending deliveries that nobody tried for a while (their message was lost)."""
    cutoff = timezone.now() - older_than
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lt=cutoff).filter(
        last_attempt_at__isnull=True
    ) | WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, last_attempt_at__lt=cutoff)
    ids = list(pending.values_list("pk", flat=True)[:1000])
    for delivery_id in ids:
        enqueue("webhook_deliver", delivery_id)
    return len(ids)
