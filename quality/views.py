"""Quality pages (HTML): the worker's own skill and restrictions, and the staff quality review. Thin."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from fairlabel.errors import ServiceError
from fairlabel.paging import parse_page
from fairlabel.web import AuthedRequest, staff_required, worker_required
from quality import selectors
from quality.calibration import MIN_ITEMS
from quality.forms import ImposeForm, ReasonForm
from quality.heatmap import heat_rows
from quality.models import Restriction
from quality.types import task_type_of
from tasks.models import Pool
from workflows import reviews

# ---------------------------------------------------------------------------------------------- worker


@worker_required
def worker_quality(request: AuthedRequest) -> HttpResponse:
    # One page for a worker's quality: skill and restrictions, how many golden mistakes stand between the
    # worker and a restriction, and (from fairness) the golden items missed in closed pools.
    from fairness.selectors import golden_missed_for_worker

    return render(
        request,
        "quality/worker_quality.html",
        {
            "quality": selectors.worker_quality(worker=request.user),
            "missed": golden_missed_for_worker(worker=request.user),
        },
    )


# ----------------------------------------------------------------------------------------------- staff


def _worker_table_context(request: HttpRequest, *, pool: Pool | None) -> dict[str, Any]:
    order = request.GET.get("order", "skill")
    page = parse_page(request.GET.get("page"), page_size=selectors.STAFF_PAGE_SIZE)
    rows, has_next = selectors.staff_worker_rows(pool=pool, page=page, order=order)
    return {"rows": rows, "page": page, "has_next": has_next, "order": order}


@staff_required
def staff_overview(request: AuthedRequest) -> HttpResponse:
    context = _worker_table_context(request, pool=None)
    context["pools"] = selectors.staff_pool_summaries()
    return render(request, "quality/staff_overview.html", context)


@staff_required
def staff_pool(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = get_object_or_404(Pool, pk=pool_id)
    context = _worker_table_context(request, pool=pool)
    context["pool"] = pool
    context["state"] = selectors.pool_aggregation_status(pool=pool)
    # Per type: single_choice's confusion matrices are per worker (the worker page); every type shows its
    # golden answers scored its own way here, and a comparison pool its ranking.
    context["task_type"] = task_type_of(pool)
    context["golden"] = selectors.golden_figures(pool=pool)
    context["top_items"] = selectors.pool_top_items(pool=pool) if pool.task_type == "pairwise" else None
    last_run = context["state"].last_run
    context["method_summary"] = selectors.pool_method_summary(pool=pool, run=last_run)
    context["min_items"] = MIN_ITEMS
    context["calibration"] = (
        _calibration_figures(last_run.calibration)
        if pool.task_type == "single_choice" and last_run is not None and last_run.calibration
        else None
    )
    return render(request, "quality/staff_pool.html", context)


_DIAGRAM = 200  # the reliability diagram's plot is this many SVG units square, inside a 20-unit margin


def _calibration_figures(stored: dict[str, Any]) -> dict[str, Any]:
    """A run's calibration for the staff page: its figures and the reliability diagram's points (mean
    confidence across, accuracy up, one point per bin sized by its items), before and after."""

    def points(rows: list[list[float]]) -> list[dict[str, Any]]:
        most = max((row[2] for row in rows), default=1)
        return [
            {
                "low": low,
                "high": high,
                "items": int(items),
                "confidence": confidence,
                "accuracy": accuracy,
                "x": round(20 + confidence * _DIAGRAM, 1),
                "y": round(20 + (1 - accuracy) * _DIAGRAM, 1),
                "r": round(2 + 5 * (items / most) ** 0.5, 1),
            }
            for low, high, items, confidence, accuracy in rows
        ]

    before, after = points(stored.get("bins_before") or []), points(stored.get("bins_after") or [])
    by_bin: dict[tuple[float, float], dict[str, Any]] = {}
    for side, rows in (("before", before), ("after", after)):
        for row in rows:
            by_bin.setdefault((row["low"], row["high"]), {"low": row["low"], "high": row["high"]})[side] = row
    return {
        **stored,
        "min_items": MIN_ITEMS,
        "before": before,
        "after": after,
        "bins": [by_bin[edges] for edges in sorted(by_bin)],
    }


@staff_required
def staff_worker(request: AuthedRequest, worker_id: int) -> HttpResponse:
    review = selectors.staff_worker_review(worker_id=worker_id)
    confusions = [
        {"view": c, "rows": heat_rows(labels=c.labels, matrix=c.matrix)}
        for c in review.confusions
        if c.labels and len(c.matrix) == len(c.labels)
    ]
    return render(
        request,
        "quality/staff_worker.html",
        {
            "review": review,
            "confusions": confusions,
            "impose_form": ImposeForm(
                pools=selectors.pools_worked_in(worker=review.worker, unrestricted=True)
            ),
            "lift_form": ReasonForm(),
        },
    )


@require_POST
@staff_required
def staff_restrict(request: AuthedRequest, worker_id: int) -> HttpResponse:
    review = selectors.staff_worker_review(worker_id=worker_id, recent=0)
    form = ImposeForm(request.POST, pools=selectors.pools_worked_in(worker=review.worker, unrestricted=True))
    if not form.is_valid():
        messages.error(request, "Choose a pool and give a reason: the worker reads it.")
        return redirect("staff-quality-worker", worker_id=worker_id)
    try:
        reviews.restriction_impose(
            worker=review.worker,
            pool=form.cleaned_data["pool"],
            reason=form.cleaned_data["reason"],
            staff=request.user,
        )
        messages.success(
            request, f"{review.worker.username} is restricted from {form.cleaned_data['pool'].name}."
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("staff-quality-worker", worker_id=worker_id)


@require_POST
@staff_required
def staff_lift(request: AuthedRequest, restriction_id: int) -> HttpResponse:
    restriction = get_object_or_404(Restriction, pk=restriction_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for lifting the restriction: the worker reads it.")
        return redirect("staff-quality-worker", worker_id=restriction.worker_id)
    try:
        reviews.restriction_lift(
            restriction_id=restriction.pk, reason=form.cleaned_data["reason"], staff=request.user
        )
        messages.success(request, "Restriction lifted. Golden answers from now on count afresh.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("staff-quality-worker", worker_id=restriction.worker_id)
