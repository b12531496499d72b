"""HTML pages: the worker's earnings and cash-out, the requester's billing and answer review."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from fairlabel.errors import ServiceError
from fairlabel.money import MoneyError, cents_floor, money_str, parse_cents
from fairlabel.paging import parse_page
from fairlabel.web import AuthedRequest, requester_required, worker_required
from payouts import selectors, services
from payouts.models import OPEN_WITHDRAWAL_STATUSES
from tasks.selectors import pool_for_requester
from workflows.reviews import answer_reject

# ------------------------------------------------------------------------------------------------- workers


@worker_required
@vary_on_headers("HX-Request")
def earnings(request: AuthedRequest) -> HttpResponse:
    worker = request.user
    withdrawals = selectors.withdrawals_for_worker(worker=worker, limit=50)
    context: dict[str, Any] = {
        "withdrawals": withdrawals,
        "withdrawals_moving": any(w.status in OPEN_WITHDRAWAL_STATUSES for w in withdrawals),
    }
    if request.htmx and request.GET.get("part") == "withdrawals":
        return render(request, "payouts/earnings.html#withdrawals", context)
    page = parse_page(request.GET.get("page"), page_size=selectors.CREDITS_PAGE)
    credits, more = selectors.credits_for_worker(worker=worker, page=page)
    summary = selectors.earnings_for_worker(worker=worker)
    context |= {
        "summary": summary,
        "cash_out": cents_floor(summary.available),
        "credits": credits,
        "page": page,
        "more": more,
        # Sent back with the form: pressing the button twice asks for one withdrawal, not two.
        "request_key": uuid.uuid4().hex,
    }
    return render(request, "payouts/earnings.html", context)


@require_POST
@worker_required
def earnings_withdraw(request: AuthedRequest) -> HttpResponse:
    try:
        amount = parse_cents(request.POST.get("amount", ""), field="amount")
    except MoneyError as exc:
        messages.error(request, exc.plain)
        return redirect("earnings")
    key = request.POST.get("request_key") or None
    try:
        withdrawal = services.withdrawal_create(
            worker=request.user, amount=amount, request_key=key and key[:128]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("earnings")
    messages.success(
        request,
        f"Cash-out of {money_str(withdrawal.amount)} {settings.PLATFORM_CURRENCY} requested: it is on its way (#{withdrawal.pk}).",
    )
    return redirect("earnings")


# ---------------------------------------------------------------------------------------------- requesters


@requester_required
def billing(request: AuthedRequest) -> HttpResponse:
    return render(
        request, "payouts/billing.html", {"billing": selectors.billing_for_requester(requester=request.user)}
    )


@requester_required
def review(request: AuthedRequest) -> HttpResponse:
    return render(
        request, "payouts/review.html", {"pools": selectors.pools_to_review(requester=request.user)}
    )


@requester_required
def review_pool(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = pool_for_requester(pool_id=pool_id, requester=request.user)
    answers, pending = selectors.answers_to_review(pool=pool)
    return render(request, "payouts/review_pool.html", {"pool": pool, "answers": answers, "pending": pending})


@require_POST
@requester_required
def review_accept_all(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = pool_for_requester(pool_id=pool_id, requester=request.user)
    accepted = services.answers_accept_bulk(requester=request.user, pool=pool)
    messages.success(
        request, f"Accepted {accepted} answer{'s' if accepted != 1 else ''}; the workers are paid."
    )
    return redirect("review-pool", pool_id=pool.pk)


@require_POST
@requester_required
@vary_on_headers("HX-Request")
def review_decide(request: AuthedRequest, answer_id: int, decision: str) -> HttpResponse:
    """Accept or reject one answer. htmx swaps the answer's row for its new state; otherwise back to the list."""
    try:
        if decision == "accept":
            answer = services.answer_accept(requester=request.user, answer_id=answer_id)
            note = "Accepted: the worker is paid."
        else:
            answer = answer_reject(
                requester=request.user, answer_id=answer_id, reason=request.POST.get("reason", "")
            )
            note = "Rejected: the reward went back to the pool and the task to the queue."
        error = ""
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        answer, note, error = None, "", exc.message
    if request.htmx:
        return render(
            request,
            "payouts/review_pool.html#decided",
            {"answer": answer, "answer_id": answer_id, "note": note, "error": error},
        )
    (messages.error if error else messages.success)(request, error or note)
    pool_id = (
        answer.pool_id
        if answer is not None
        else selectors.answer_pool_id(requester=request.user, answer_id=answer_id)
    )
    return redirect("review-pool", pool_id=pool_id) if pool_id else redirect("review")
