"""The requester's pool pages (HTML)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from fairlabel.errors import ServiceError
from fairlabel.web import AuthedRequest, requester_required
from payouts.money import cost_per_answer, fee_for, money_str
from tasks import selectors, services
from tasks.exports import parse_format, stream_rows
from tasks.forms import PoolForm, UploadForm
from tasks.importing import rows_from_upload
from tasks.models import Pool, PoolStatus


@requester_required
def pool_list(request: AuthedRequest) -> HttpResponse:
    pools = list(selectors.pools_for_requester(requester=request.user)[:200])
    rows = [{"pool": p, "progress": selectors.pool_progress(pool=p)} for p in pools]
    return render(request, "tasks/pool_list.html", {"rows": rows})


@requester_required
def pool_create(request: AuthedRequest) -> HttpResponse:
    form = PoolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        pool = services.pool_create(requester=request.user, settings=services.PoolSettings(**form.validated))
        messages.success(request, "Pool created. Upload its tasks, then open it.")
        return redirect("pool-detail", pool_id=pool.pk)
    return render(request, "tasks/pool_form.html", {"form": form})


def _pool_page_context(pool: Pool) -> dict[str, Any]:
    progress = selectors.pool_progress(pool=pool)
    golden_slots = services.golden_slots_for(
        regular_slots=progress.tasks * pool.overlap, golden_rate=pool.golden_rate
    )
    answers_to_buy = progress.tasks * pool.overlap + golden_slots
    return {
        "pool": pool,
        "progress": progress,
        "budget": selectors.pool_budget(pool=pool),
        "estimate": {
            "answers": answers_to_buy,
            "golden_answers": golden_slots,
            "rewards": money_str(pool.reward * answers_to_buy),
            "fees": money_str(fee_for(pool.reward) * answers_to_buy),
            "total": money_str(cost_per_answer(pool.reward) * answers_to_buy),
        },
        "upload_form": UploadForm(),
        "editable": pool.status in (PoolStatus.DRAFT, PoolStatus.OPEN),
    }


@requester_required
def pool_detail(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    template = "tasks/_pool_progress.html" if request.htmx else "tasks/pool_detail.html"
    return render(request, template, _pool_page_context(pool))


@require_POST
@requester_required
def pool_upload(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a .csv or .jsonl file to upload.")
        return redirect("pool-detail", pool_id=pool.pk)
    upload = form.cleaned_data["file"]
    try:
        created = services.tasks_add(
            pool=pool, rows=rows_from_upload(name=upload.name, file=upload.file, labels=pool.labels)
        )
        messages.success(request, f"{created} tasks imported from {upload.name}.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("pool-detail", pool_id=pool.pk)


@require_POST
@requester_required
def pool_open(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    try:
        services.pool_open(pool=pool)
        messages.success(request, "The pool is open: workers can see it now.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("pool-detail", pool_id=pool.pk)


@require_POST
@requester_required
def pool_close(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    services.pool_close(pool=pool)
    messages.success(request, "The pool is closed and its unused reservation is back in your balance.")
    return redirect("pool-detail", pool_id=pool.pk)


@requester_required
def pool_download(request: AuthedRequest, pool_id: int, kind: str) -> StreamingHttpResponse:
    if kind not in ("answers", "results"):
        raise Http404("Downloads are answers or results.")
    pool = selectors.pool_for_requester(pool_id=pool_id, requester=request.user)
    fmt = parse_format(request.GET.get("format", "csv"))
    if kind == "answers":
        rows, columns = selectors.answers_rows(pool=pool), selectors.ANSWER_COLUMNS
    else:
        rows, columns = selectors.results_rows(pool=pool), selectors.RESULT_COLUMNS
    response = stream_rows(rows=rows, columns=columns, fmt=fmt, filename=f"pool-{pool.pk}-{kind}")
    response["Content-Disposition"] = f'attachment; filename="pool-{pool.pk}-{kind}.{fmt}"'
    return response
