"""The worker's feed and annotator (htmx)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from fairlabel.errors import ServiceError
from fairlabel.money import money_str
from fairlabel.numbers import parse_id
from fairlabel.web import AuthedRequest, worker_required
from payouts.selectors import balance_for_user
from quality.types import DEFAULT_TYPE, TYPES, task_type_of
from tasks import selectors, services
from tasks.models import Answer, AnswerStatus, Assignment
from workflows import assignments
from workflows.feed import feed_for_worker

# ------------------------------------------------------------------------------------------------- workers


@worker_required
def feed(request: AuthedRequest) -> HttpResponse:
    return render(request, "worker/feed.html", {"items": feed_for_worker(worker=request.user)})


def _task_context(
    request: AuthedRequest, assignment: Assignment | None, *, chosen_pool_id: int | None
) -> dict[str, Any]:
    """What the task area shows. `chosen_pool_id` is the pool the worker pressed Start on, kept across answers so
    the annotator serves that pool only and says so when it has nothing more for them."""
    context: dict[str, Any] = {"assignment": assignment, "chosen_pool_id": chosen_pool_id}
    if assignment is not None:
        task_type = task_type_of(assignment.pool)
        fields = dict(
            zip(assignment.task.data, selectors.task_fields_for_worker(assignment=assignment), strict=True)
        )
        shown = task_type.annotator_fields(assignment.pool.options)
        context["fields"] = [field for key, field in fields.items() if key not in shown]
        context["annotator_data"] = [(key, fields[key]) for key in shown if key in fields]
        context["labels"] = list(enumerate(assignment.pool.labels, start=1))
        context["task_type"] = task_type
        context["held_elsewhere"] = chosen_pool_id is not None and assignment.pool_id != chosen_pool_id
    return context


def _pool_param(request: AuthedRequest) -> int | None:
    raw = request.GET.get("pool") or request.POST.get("pool")
    return parse_id(raw)


@worker_required
def work(request: AuthedRequest) -> HttpResponse:
    """The annotator page: the worker's current task, or a new one."""
    chosen = _pool_param(request)
    assignment = assignments.assignment_next(worker=request.user, pool_id=chosen)
    context = _task_context(request, assignment, chosen_pool_id=chosen)
    context["type_scripts"] = [f"types/{name}/annotator.js" for name in TYPES]
    return render(request, "worker/work.html", context)


def _earned(answer: Answer) -> str:
    amount = f"+{money_str(answer.reward)} {settings.PLATFORM_CURRENCY}"
    saved = f"Saved “{answer.label}”." if answer.pool.task_type == DEFAULT_TYPE else "Saved your answer."
    if answer.status == AnswerStatus.PENDING:
        return f"{saved} {amount} once the requester has reviewed it."
    return f"{saved} {amount} earned."


def _form_answer(request: AuthedRequest) -> object:
    """The raw answer from the annotator's form, read as the form's task type lays it out; the pool's own type
    then checks it (a form claiming another type fails that check)."""
    task_type = TYPES.get(request.POST.get("task_type", DEFAULT_TYPE), TYPES[DEFAULT_TYPE])
    return task_type.form_answer(request.POST)


@require_POST
@worker_required
@vary_on_headers("HX-Request")
def work_submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    """Submit, then answer with the next task already claimed, so the worker never waits between tasks."""
    chosen = _pool_param(request)
    try:
        answer, following = assignments.assignment_submit_and_next(
            worker=request.user,
            assignment_id=assignment_id,
            answer=_form_answer(request),
            pool_id=chosen,
        )
        notice = _earned(answer)
        if following is not None and following.pool_id != answer.pool_id:
            notice += f" Next: a task from “{following.pool.name}”."
    except ServiceError as exc:
        following = assignments.assignment_next(worker=request.user, pool_id=chosen)
        notice = f"Not saved: {exc.message}"
    return _after_action(request, following, notice, chosen_pool_id=chosen)


@require_POST
@worker_required
@vary_on_headers("HX-Request")
def work_skip(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    chosen = _pool_param(request)
    try:
        services.assignment_skip(worker=request.user, assignment_id=assignment_id)
        notice = "Skipped: you will not see that task again."
    except ServiceError as exc:
        notice = exc.message
    following = assignments.assignment_next(worker=request.user, pool_id=chosen)
    return _after_action(request, following, notice, chosen_pool_id=chosen)


def _after_action(
    request: AuthedRequest, following: Assignment | None, notice: str, *, chosen_pool_id: int | None
) -> HttpResponse:
    if not request.htmx:
        messages.info(request, notice)
        return redirect(f"{reverse('work')}?pool={chosen_pool_id}" if chosen_pool_id else reverse("work"))
    balance = balance_for_user(user=request.user)
    context = _task_context(request, following, chosen_pool_id=chosen_pool_id) | {
        "notice": notice,
        "oob": True,
        "balance": {"available": money_str(balance.available), "reserved": money_str(balance.reserved)},
    }
    return render(request, "worker/_task.html", context)
