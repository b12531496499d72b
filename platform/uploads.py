"""Refuse an oversized request body before a byte of it is read.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE guards `request.body` and form fields, but not uploaded files, and DRF's
JSON parser reads the raw stream without it. Django never reads past the declared Content-Length (a body without
one is read as empty), so checking that header up front bounds what any parser can read: the request is answered
413 while its body is still on the wire, and nothing is parsed, stored or held in memory.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from fairlabel.errors import error_body


def body_limit(request: HttpRequest) -> int | None:
    """Multipart requests carry task files (MAX_UPLOAD_BYTES); any other body is data held in memory."""
    if request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/"):
        return int(settings.MAX_UPLOAD_BYTES)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None if limit is None else int(limit)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


class RequestSizeLimitMiddleware:
    """Answer 413 to a request whose declared body is larger than its limit, without reading the body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads such a body as empty too
        limit = body_limit(request)
        if limit is None or length <= limit:
            return self.get_response(request)
        message = f"The request is larger than {_megabytes(limit)}. Nothing was read or saved."
        if request.path_info.startswith("/api/"):
            body = error_body("payload_too_large", message, {"limit_bytes": limit, "content_length": length})
            return JsonResponse(body, status=413)
        return render(request, "error.html", {"message": message}, status=413)
