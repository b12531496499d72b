from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any
from urllib.parse import urlsplit

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
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


# What makes django-csp build a response's policy for it alone: a view's decorator (csp_update, csp_replace,
# csp_exempt and their report-only twins) or a nonce the page used.
_PER_RESPONSE = tuple(
    f"_csp_{kind}{suffix}" for kind in ("config", "update", "replace", "exempt") for suffix in ("", "_ro")
)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy, with the task image hosts the operator allows added to img-src.

    django-csp builds the header text from the settings on every response, twice (the policy and the report-only
    one): 0.17 ms of each request of the worker feed, profiled. A response no view changed and no nonce marked
    gets the same text each time, so that text is built once (again when a setting changes, as in tests); any
    other response goes through django-csp's own build.
    """

    _built: tuple[str, str] | None = None

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
            or (settings.DEBUG and response.status_code in (500, 404))
        ):
            return super().process_response(request, response)
        if ContentSecurityPolicyMiddleware._built is None:
            ContentSecurityPolicyMiddleware._built = (
                build_policy(**asdict(self.get_policy_parts(request, response))),
                build_policy(**asdict(self.get_policy_parts(request, response, True)), report_only=True),
            )
        policy, report_only = ContentSecurityPolicyMiddleware._built
        for header, text, setting in (
            (HEADER, policy, "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, report_only, "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            excluded = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
            if text and header not in response and not request.path_info.startswith(excluded):
                response[header] = text
        # As django-csp does: a nonce asked for after the header was written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not settings.TASK_IMAGE_HOSTS:
            return parts
        update = dict(parts.update or {})
        update["img-src"] = [*update.get("img-src", []), *settings.TASK_IMAGE_HOSTS]
        return replace(parts, update=update)


@receiver(setting_changed)
def _policy_settings_changed(**kwargs: Any) -> None:
    ContentSecurityPolicyMiddleware._built = None
