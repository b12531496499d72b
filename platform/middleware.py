from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render, resolve_url
from django.utils.http import urlencode

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


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session has ended goes to the log-in page, and back to the page it came from.

    The browser follows a plain redirect inside the htmx request and htmx would draw the whole log-in page in
    the task area; HX-Redirect makes htmx load it as the page instead. After django_htmx's middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code != 302:
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        if urlsplit(response["Location"]).path != login_path:
            return response
        # The page the worker was on (htmx sends it), not the URL the form posted to; only its path and query,
        # so `next` stays on this site.
        current = urlsplit(htmx.current_url or "/")
        back_to = current.path + (f"?{current.query}" if current.query else "")
        redirected = HttpResponse(status=200)
        redirected["HX-Redirect"] = f"{login_path}?{urlencode({'next': back_to})}"
        return redirected


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
