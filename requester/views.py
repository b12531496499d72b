"""The requester's pages (HTML): the dashboard of every pool, a pool's page, uploads and downloads.

Each view parses the request, calls one service or selector and renders; htmx requests get a fragment of the
same template (django-template-partials) so the page and its live updates cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from fairlabel.errors import ServiceError
from fairlabel.money import money_str
from fairlabel.numbers import whole_or_none
from fairlabel.web import AuthedRequest, requester_required
from integrations import selectors as integration_selectors
from integrations.services import import_job_create
from payouts.selectors import answers_cost
from quality.calibration import MIN_ITEMS as CALIBRATION_MIN_ITEMS
from quality.selectors import (
    ITEM_COLUMNS,
    pool_answer_rows,
    pool_items,
    pool_method_summary,
    pool_result_rows,
    pool_results_coco,
    pool_results_label_studio,
)
from quality.types import TYPES, row_check
from requester import charts, dashboard
from requester.exports import parse_format, stream_coco, stream_json_array, stream_rows
from requester.forms import PoolForm, UploadForm
from tasks import selectors, services
from tasks.importing import rows_from_upload
from tasks.models import Pool, PoolStatus
from workflows import pools as pool_flows

STATUS_FILTERS = [("", "All"), *PoolStatus.choices]


@requester_required
@vary_on_headers("HX-Request")
def pool_list(request: AuthedRequest) -> HttpResponse:
    """The dashboard: every pool with live figures; htmx polls and filters re-render only the rows."""
    status, search = request.GET.get("status", ""), request.GET.get("q", "")
    rows = dashboard.dashboard_rows(requester=request.user, status=status, search=search)
    context = {
        "rows": rows,
        "status": status,
        "q": search,
        "status_filters": STATUS_FILTERS,
        "limit": dashboard.DASHBOARD_LIMIT,
    }
    template = "requester/pool_list.html#pool-rows" if request.htmx else "requester/pool_list.html"
    return render(request, template, context)


@require_POST
@requester_required
def pool_priority(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    priority = whole_or_none(request.POST.get("priority"))
    error = None
    try:
        pool = services.pool_set_priority(pool=pool, priority=-1 if priority is None else priority)
    except ServiceError as exc:
        error = exc.message
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("pool-list")
    row = dashboard.dashboard_row(pool=pool)
    return render(request, "requester/pool_list.html#pool-row", {"row": row, "row_error": error})


@requester_required
def pool_create(request: AuthedRequest) -> HttpResponse:
    form = PoolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        pool = services.pool_create(requester=request.user, settings=services.PoolSettings(**form.validated))
        messages.success(request, "Pool created. Upload its tasks, then open it.")
        return redirect("pool-detail", pool_id=pool.pk)
    return render(request, "requester/pool_form.html", {"form": form})


def _live_context(pool: Pool) -> dict[str, Any]:
    stats = dashboard.pool_stats(pool_ids=[pool.pk])[pool.pk]
    row = dashboard.DashboardRow(pool=pool, stats=stats)
    return {
        "pool": pool,
        "stats": stats,
        "row": row,
        "cost": dashboard.pool_cost_estimate(pool=pool, stats=stats),
        "import_jobs": integration_selectors.import_jobs_for_pool(pool=pool),
        # Counting a pool of a million tasks takes most of a second: such a page refreshes less often.
        "poll_seconds": 3 if stats.tasks + stats.golden < 100_000 else 15,
    }


def _charts_context(pool: Pool, stats: dashboard.PoolStats) -> dict[str, Any]:
    timeline = dashboard.pool_timeline(pool=pool)
    recent_hours, recent_counts = timeline.hours[-48:], timeline.counts[-48:]
    series = dashboard.pool_progress_series(pool=pool, stats=stats)
    skill = dashboard.pool_skill_histogram(pool=pool)
    return {
        "progress_chart": charts.line_chart(
            points=series.points,
            target=series.target,
            first_label=series.start.strftime("%b %d %H:%M"),
            last_label=series.end.strftime("%b %d %H:%M"),
            title="Answers collected over time, against the answers the pool needs (dashed)",
        ),
        "rate_chart": charts.bar_chart(
            values=recent_counts,
            labels=[h.strftime("%H:00") for h in recent_hours],
            title="Answers per hour (the last 48 hours with answers)",
            headers=("Hour (UTC)", "Answers"),
            empty="No answers yet",
            label_every=max(1, len(recent_counts) // 8),
        ),
        "label_chart": charts.hbar_chart(
            items=dashboard.pool_label_distribution(pool=pool),
            title="Answers per label",
            empty="No answers yet",
        ),
        "skill_chart": charts.bar_chart(
            values=skill,
            labels=[f"{i / 10:.1f}" for i in range(len(skill))],
            title="Workers by golden skill, (correct + 1) / (answered + 2)",
            headers=("Skill from", "Workers"),
            empty="No golden answers yet",
        ),
    }


def _pool_page_context(pool: Pool) -> dict[str, Any]:
    context = _live_context(pool)
    stats = context["stats"]
    cost = answers_cost(reward=pool.reward, golden_rate=pool.golden_rate, regular=stats.tasks * pool.overlap)
    context.update(
        {
            "estimate": {
                "answers": cost.answers,
                "golden_answers": cost.golden,
                "rewards": money_str(cost.rewards),
                "fees": money_str(cost.fees),
                "total": money_str(cost.total),
            },
            "upload_form": UploadForm(),
            "editable": pool.status in (PoolStatus.DRAFT, PoolStatus.OPEN),
            "instructions_editable": pool.status in (PoolStatus.DRAFT, PoolStatus.OPEN, PoolStatus.PAUSED),
            "golden_stats": dashboard.pool_golden_stats(pool=pool),
            "results_preview": dashboard.pool_results_preview(pool=pool),
            "method_summary": pool_method_summary(pool=pool),
            "min_items": CALIBRATION_MIN_ITEMS,
            "background_mb": settings.IMPORT_BACKGROUND_BYTES // (1024 * 1024),
            **_charts_context(pool, stats),
        }
    )
    return context


@requester_required
@vary_on_headers("HX-Request")
def pool_detail(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    if request.htmx and request.htmx.target == "pool-charts":
        stats = dashboard.pool_stats(pool_ids=[pool.pk])[pool.pk]
        return render(
            request, "requester/pool_detail.html#charts", {"pool": pool, **_charts_context(pool, stats)}
        )
    if request.htmx:
        return render(request, "requester/_pool_progress.html", _live_context(pool))
    return render(request, "requester/pool_detail.html", _pool_page_context(pool))


@require_POST
@requester_required
def pool_upload(request: AuthedRequest, pool_id: int) -> HttpResponse:
    """Small files are imported at once; larger ones (IMPORT_BACKGROUND_BYTES) by a background job."""
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a .csv, .jsonl or .json file to upload.")
        return redirect("pool-detail", pool_id=pool.pk)
    upload = form.cleaned_data["file"]
    try:
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise ServiceError(
                code="file_too_large",
                message=f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB.",
            )
        if upload.size > settings.IMPORT_BACKGROUND_BYTES:
            import_job_create(pool=pool, requester=request.user, upload=upload)
            messages.success(
                request, f"{upload.name} is being imported in the background: see its progress below."
            )
        else:
            created = pool_flows.tasks_add(
                pool=pool, rows=rows_from_upload(name=upload.name, file=upload.file, check=row_check(pool))
            )
            messages.success(request, f"{created} tasks imported from {upload.name}.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("pool-detail", pool_id=pool.pk)


def _pool_action(request: AuthedRequest, pool_id: int, action: Any, success: str) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    try:
        action(pool=pool)
        messages.success(request, success)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("pool-detail", pool_id=pool.pk)


@require_POST
@requester_required
def pool_open(request: AuthedRequest, pool_id: int) -> HttpResponse:
    return _pool_action(request, pool_id, pool_flows.pool_open, "The pool is open: workers can see it now.")


@require_POST
@requester_required
def pool_pause(request: AuthedRequest, pool_id: int) -> HttpResponse:
    return _pool_action(
        request,
        pool_id,
        services.pool_pause,
        "The pool is paused: no new tasks go out, tasks in progress can still be submitted. Money stays reserved.",
    )


@require_POST
@requester_required
def pool_resume(request: AuthedRequest, pool_id: int) -> HttpResponse:
    return _pool_action(request, pool_id, services.pool_resume, "The pool is open again.")


@require_POST
@requester_required
def pool_close(request: AuthedRequest, pool_id: int) -> HttpResponse:
    return _pool_action(
        request,
        pool_id,
        pool_flows.pool_close,
        "The pool is closed and its unused reservation is back in your balance.",
    )


@require_POST
@requester_required
def pool_instructions(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    try:
        services.pool_update_instructions(pool=pool, instructions=request.POST.get("instructions", ""))
        messages.success(request, "Instructions saved: workers see the new text with their next task.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("pool-detail", pool_id=pool.pk)


@requester_required
def pool_download(request: AuthedRequest, pool_id: int, kind: str) -> HttpResponseBase:
    if kind not in ("answers", "results", "items", "coco", "label-studio"):
        raise Http404("Downloads are answers, results, items (comparisons), coco (boxes) or label-studio.")
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    if kind == "label-studio":
        return stream_json_array(
            items=pool_results_label_studio(pool=pool), filename=f"pool-{pool.pk}-label-studio"
        )
    if kind == "coco":
        coco = pool_results_coco(pool=pool)
        response = stream_coco(
            categories=coco.categories, images=coco.images, filename=f"pool-{pool.pk}-coco"
        )
        response["Content-Disposition"] = f'attachment; filename="pool-{pool.pk}-coco.json"'
        return response
    fmt = parse_format(request.GET.get("format", "csv"))
    if kind == "answers":
        rows, columns = pool_answer_rows(pool=pool)
    elif kind == "items":
        rows, columns = iter(pool_items(pool=pool)), list(ITEM_COLUMNS)
    else:
        rows, columns = pool_result_rows(pool=pool)
    response = stream_rows(
        rows=rows,
        columns=columns,
        fmt=fmt,
        filename=f"pool-{pool.pk}-{kind}",
        answer_shape=TYPES[pool.task_type].export_shape,
    )
    response["Content-Disposition"] = f'attachment; filename="pool-{pool.pk}-{kind}.{fmt}"'
    return response
