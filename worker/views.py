"""The worker's feed and annotator (htmx)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from fairlabel.errors import ServiceError
from fairlabel.money import money_str
from fairlabel.numbers import parse_id
from fairlabel.web import AuthedRequest, worker_required
from payouts.selectors import balance_for_user
from tasks import selectors, services
from tasks.models import AnswerStatus, Assignment
from workflows import assignments
from workflows.feed import feed_for_worker

# ------------------------------------------------------------------------------------------------- workers


@worker_required
def feed(request: AuthedRequest) -> HttpResponse:
    return render(request, "worker/feed.html", {"items": feed_for_worker(worker=request.user)})


def _task_context(request: AuthedRequest, assignment: Assignment | None) -> dict[str, Any]:
    context: dict[str, Any] = {"assignment": assignment}
    if assignment is not None:
        context["fields"] = selectors.task_fields_for_worker(assignment=assignment)
        context["labels"] = list(enumerate(assignment.pool.labels, start=1))
    return context


def _pool_param(request: AuthedRequest) -> int | None:
    raw = request.GET.get("pool") or request.POST.get("pool")
    return parse_id(raw)


@worker_required
def work(request: AuthedRequest) -> HttpResponse:
    """The annotator page: the worker's current task, or a new one."""
    assignment = assignments.assignment_next(worker=request.user, pool_id=_pool_param(request))
    return render(request, "worker/work.html", _task_context(request, assignment))


@require_POST
@worker_required
@vary_on_headers("HX-Request")
def work_submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    """Submit, then answer with the next task already claimed, so the worker never waits between tasks."""
    pool_id = _pool_param(request)
    try:
        answer, following = assignments.assignment_submit_and_next(
            worker=request.user, assignment_id=assignment_id, label=request.POST.get("label", "")
        )
        notice = (
            f"+{money_str(answer.reward)} pending the requester's review"
            if answer.status == AnswerStatus.PENDING
            else f"+{money_str(answer.reward)} earned"
        )
    except ServiceError as exc:
        following = assignments.assignment_next(worker=request.user, pool_id=pool_id)
        notice = exc.message
    return _after_action(request, following, notice)


@require_POST
@worker_required
@vary_on_headers("HX-Request")
def work_skip(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    pool_id = _pool_param(request)
    try:
        services.assignment_skip(worker=request.user, assignment_id=assignment_id)
        notice = "Skipped: you will not see that task again."
    except ServiceError as exc:
        notice = exc.message
    return _after_action(request, assignments.assignment_next(worker=request.user, pool_id=pool_id), notice)


def _after_action(request: AuthedRequest, following: Assignment | None, notice: str) -> HttpResponse:
    if not request.htmx:
        messages.info(request, notice)
        return redirect("work")
    balance = balance_for_user(user=request.user)
    context = _task_context(request, following) | {
        "notice": notice,
        "oob": True,
        "balance": {"available": money_str(balance.available), "reserved": money_str(balance.reserved)},
    }
    return render(request, "worker/_task.html", context)
