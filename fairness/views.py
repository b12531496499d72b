"""Fair-work pages (HTML): decisions and appeals, care settings, ratings, explained quality, one's data, the
appeal queues of requesters and staff, the audit log and platform-wide blocks. Thin: parse, call, render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Role, User
from fairlabel.errors import ServiceError
from fairlabel.money import MoneyError, money_str, parse_money
from fairlabel.numbers import whole_or_none
from fairlabel.web import AuthedRequest, requester_required, staff_required, worker_required
from fairness import pay, selectors, services
from fairness.export import export_filename, user_export_zip
from fairness.models import RATING_MIN_ANSWERS, AuditAction, DecisionKind
from tasks.models import ContentWarning
from tasks.selectors import pool_for_requester, pools_for_requester
from workflows.pools import pool_set_reward


def account_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Workers and requesters: the people whose data the platform holds."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request.user, "role", None) not in (Role.WORKER, Role.REQUESTER):
            raise PermissionDenied("This page is for workers and requesters.")
        return view(request, *args, **kwargs)

    return wrapped


# ------------------------------------------------------------------------------------------------ workers


@worker_required
def decisions(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "fairness/decisions.html",
        {"decisions": list(selectors.decisions_for_worker(worker=request.user)[:500])},
    )


@require_POST
@worker_required
def decision_appeal(request: AuthedRequest, decision_id: int) -> HttpResponse:
    try:
        services.appeal_file(
            worker=request.user, decision_id=decision_id, message=request.POST.get("message", "")
        )
        messages.success(request, "Your appeal was sent. You will see the answer here.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("fair-decisions")


@worker_required
def care(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        cap = whole_or_none(request.POST.get("daily_cap"))
        try:
            services.care_preferences_save(
                worker=request.user,
                categories=request.POST.getlist("categories"),
                daily_cap=cap if cap is not None else -1,
            )
            messages.success(request, "Saved.")
            return redirect("fair-care")
        except ServiceError as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "fairness/care.html",
        {"care": selectors.care_status(worker=request.user), "categories": ContentWarning.choices},
    )


@worker_required
def ratings(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "fairness/ratings.html",
        {
            "rateable": selectors.requesters_rateable_by(worker=request.user),
            "min_answers": RATING_MIN_ANSWERS,
            "scores": [
                ("pay", "Pay"),
                ("clarity", "Clarity of instructions"),
                ("fairness", "Fairness of review"),
                ("speed", "Speed of acceptance"),
            ],
        },
    )


@require_POST
@worker_required
def rating_save(request: AuthedRequest, requester_id: int) -> HttpResponse:
    try:
        services.rating_save(
            worker=request.user,
            requester_id=requester_id,
            pay_score=whole_or_none(request.POST.get("pay")) or 0,
            clarity=whole_or_none(request.POST.get("clarity")) or 0,
            fairness=whole_or_none(request.POST.get("fairness")) or 0,
            speed=whole_or_none(request.POST.get("speed")) or 0,
            comment=request.POST.get("comment", ""),
        )
        messages.success(request, "Thank you: your rating is saved. The requester only sees averages.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("fair-ratings")


@worker_required
def quality(request: AuthedRequest) -> HttpResponse:
    """The explained-skill page is part of the worker's quality page; old links land there."""
    return redirect("worker-quality")


# ------------------------------------------------------------------------------------------ one's own data


@account_required
def my_data(request: AuthedRequest) -> HttpResponse:
    return render(request, "fairness/my_data.html")


@account_required
def my_data_export(request: AuthedRequest) -> HttpResponse:
    response = HttpResponse(user_export_zip(user=request.user), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(user=request.user)}"'
    return response


@require_POST
@account_required
def account_delete(request: AuthedRequest) -> HttpResponse:
    try:
        services.account_erase(user=request.user, password=request.POST.get("password", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("my-data")
    logout(request)
    messages.success(request, "Your account is deleted and your personal data erased.")
    return redirect("login")


# ---------------------------------------------------------------------------------------------- requesters


@requester_required
def requester_overview(request: AuthedRequest) -> HttpResponse:
    """The requester's pools against the pay floor, and what workers said about them (anonymously)."""
    pools = list(pools_for_requester(requester=request.user)[:200])
    figures = selectors.fairness_for_pools(pools=pools)
    return render(
        request,
        "fairness/requester.html",
        {
            "rows": [{"pool": p, "fair": figures[p.pk]} for p in pools],
            "rating": selectors.ratings_for_requesters(requester_ids=[request.user.pk]).get(request.user.pk),
            "comments": selectors.rating_comments_for_requester(requester=request.user),
            "floor": pay.floor(),
        },
    )


@require_POST
@requester_required
def pool_reward(request: AuthedRequest, pool_id: int) -> HttpResponse:
    pool = pool_for_requester(pool_id=pool_id, requester=request.user)
    try:
        reward = parse_money(request.POST.get("reward", ""), field="reward")
        pool = pool_set_reward(pool=pool, reward=reward)
        fair = selectors.pool_fairness(pool=pool)
        back = " and is back on the feed" if not fair.below_floor else ""
        messages.success(
            request, f"The reward is now {money_str(reward)} {settings.PLATFORM_CURRENCY}{back}."
        )
    except MoneyError as exc:
        messages.error(request, exc.plain)
    except ServiceError as exc:
        messages.error(request, exc.message)
    if request.POST.get("next") == "overview":
        return redirect("fair-requester")
    return redirect("pool-detail", pool_id=pool.pk)


def _queue(request: AuthedRequest, *, template: str) -> HttpResponse:
    appeals = list(selectors.appeals_queue_for(user=request.user)[:200])
    reviewer: User | None = None if request.user.is_staff else request.user
    rows = [
        {"appeal": a, "record": selectors.worker_record(worker=a.decision.worker, requester=reviewer)}
        for a in appeals
    ]
    return render(request, template, {"rows": rows})


@requester_required
def appeals_queue(request: AuthedRequest) -> HttpResponse:
    return _queue(request, template="fairness/appeals.html")


@require_POST
@login_required
def appeal_decide(request: AuthedRequest, appeal_id: int) -> HttpResponse:
    verdict = request.POST.get("verdict")
    back = "staff-fair-appeals" if request.user.is_staff else "fair-appeals"
    if verdict not in ("uphold", "deny"):
        messages.error(request, "Choose to uphold or deny the appeal.")
        return redirect(back)
    try:
        services.appeal_decide(
            decider=request.user,
            appeal_id=appeal_id,
            uphold=verdict == "uphold",
            response=request.POST.get("response", ""),
        )
        messages.success(
            request,
            "Appeal upheld: the decision is reversed."
            if verdict == "uphold"
            else "Appeal denied: the decision stands.",
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(back)


# --------------------------------------------------------------------------------------------------- staff


@staff_required
def staff_appeals(request: AuthedRequest) -> HttpResponse:
    return _queue(request, template="fairness/staff_appeals.html")


@staff_required
def staff_audit(request: AuthedRequest) -> HttpResponse:
    query, action = request.GET.get("q", ""), request.GET.get("action", "")
    return render(
        request,
        "fairness/audit.html",
        {
            "rows": selectors.audit_search(query=query, action=action),
            "q": query,
            "action": action,
            "actions": AuditAction.choices,
        },
    )


@staff_required
def staff_blocks(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        worker = User.objects.filter(username=request.POST.get("username", "").strip()).first()
        if worker is None:
            messages.error(request, "No user with that username.")
        else:
            try:
                services.block_create(
                    staff=request.user, worker=worker, reason=request.POST.get("reason", "")
                )
                messages.success(
                    request, f"{worker.username} is blocked. They can see the reason and appeal."
                )
                return redirect("staff-fair-blocks")
            except ServiceError as exc:
                messages.error(request, exc.message)
    blocks = selectors.decisions_standing(kind=DecisionKind.BLOCK)
    return render(request, "fairness/blocks.html", {"blocks": blocks})


@require_POST
@staff_required
def staff_block_lift(request: AuthedRequest, decision_id: int) -> HttpResponse:
    try:
        services.block_lift(staff=request.user, decision_id=decision_id, note=request.POST.get("note", ""))
        messages.success(request, "The block is lifted.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("staff-fair-blocks")
