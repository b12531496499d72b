"""The requester's webhook pages: register a URL, see its secret and every delivery with its response code."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from fairlabel.errors import ServiceError
from fairlabel.numbers import whole_or_none
from fairlabel.web import AuthedRequest, requester_required
from integrations import selectors, services
from integrations.models import WebhookEvent


@requester_required
def webhook_list(request: AuthedRequest) -> HttpResponse:
    form = {"url": "", "events": [], "progress_step": 10}
    if request.method == "POST":
        events = request.POST.getlist("events")
        form = {
            "url": request.POST.get("url", ""),
            "events": events,
            "progress_step": request.POST.get("progress_step", "10"),
        }
        raw_step = request.POST.get("progress_step") or "10"
        step = whole_or_none(raw_step)
        try:
            webhook = services.webhook_create(
                requester=request.user,
                url=request.POST.get("url", ""),
                events=events,
                progress_step=-1 if step is None else step,
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Webhook added. Check signatures with the secret shown on its page.")
            return redirect("webhook-detail", webhook_id=webhook.pk)
    return render(
        request,
        "integrations/webhook_list.html",
        {
            "webhooks": selectors.webhooks_for_requester(requester=request.user),
            "event_choices": WebhookEvent.choices,
            "form": form,
        },
    )


@requester_required
def webhook_detail(request: AuthedRequest, webhook_id: int) -> HttpResponse:
    webhook = selectors.webhook_for_requester(webhook_id=webhook_id, requester=request.user)
    return render(
        request,
        "integrations/webhook_detail.html",
        {"webhook": webhook, "deliveries": selectors.deliveries_for_webhook(webhook=webhook)},
    )


@require_POST
@requester_required
def webhook_delete(request: AuthedRequest, webhook_id: int) -> HttpResponse:
    webhook = selectors.webhook_for_requester(webhook_id=webhook_id, requester=request.user)
    services.webhook_delete(webhook=webhook)
    messages.success(request, "Webhook removed.")
    return redirect("webhook-list")
