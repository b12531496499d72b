"""Every API error has the body {"error": {"code", "message", "details"}} (contract v1)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceError(exceptions.APIException):
    """A refusal a service raises: a code, a sentence for people, details, and the HTTP status the API uses.

    HTML views show `message`; the API renders the contract's error body.
    """

    def __init__(
        self, *, code: str, message: str, status_code: int = 400, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details or {}


_DEFAULT_CODES = {
    400: "invalid_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.error_code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, exceptions.APIException)
    code = _DEFAULT_CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid_request", _first_message(exc.detail), {"fields": exc.detail})
    else:
        message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else _first_message(exc.detail)
        body = error_body(code, message)
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        body["error"]["details"] = {"retry_after": response.get("Retry-After")}
    response.data = body
    return response


# ----------------------------------------------------------------------- errors Django answers before a view
# A client reading /api/ parses every answer as the contract's JSON error body, including for a path that
# matches no endpoint and for the failures Django handles itself (a bad request, a crash), which would
# otherwise come back as the site's HTML pages.


def _json_error(code: str, message: str, status: int, details: dict[str, Any] | None = None) -> JsonResponse:
    # Written as DRF writes the same body from a view: compact, UTF-8 as it is.
    return JsonResponse(
        error_body(code, message, details),
        status=status,
        json_dumps_params={"separators": (",", ":"), "ensure_ascii": False},
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


@csrf_exempt  # a POST to a wrong path gets the 404, not a CSRF page
def api_route_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    """Any method on a path under /api/ that no endpoint serves; names the endpoint a missing slash meant."""
    details: dict[str, Any] = {"path": request.path_info}
    if not request.path_info.endswith("/"):
        try:
            meant = resolve(request.path_info + "/").func
        except Resolver404:
            meant = api_route_not_found
        if meant is not api_route_not_found:
            details["did_you_mean"] = request.path_info + "/"
    return _json_error(
        "not_found", f"No API endpoint answers {request.method} {request.path_info}.", 404, details
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json_error("invalid_request", "The request could not be read.", 400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json_error("server_error", "Something went wrong on our side; it has been logged.", 500)
    return defaults.server_error(request)
