from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from fairlabel.errors import ServiceError


class ServiceErrorMiddleware:
    """An HTML view that lets a ServiceError escape shows its sentence with its status (404 for a foreign id)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ServiceError):
            return None
        return render(request, "error.html", {"message": exception.message}, status=exception.status_code)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy, with the task image hosts the operator allows added to img-src."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not settings.TASK_IMAGE_HOSTS:
            return parts
        update = dict(parts.update or {})
        update["img-src"] = [*update.get("img-src", []), *settings.TASK_IMAGE_HOSTS]
        return replace(parts, update=update)
