"""The WSGI application `make serve` runs (granian; gunicorn on request)."""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings")

# What a request itself supplies (RFC 3875's meta-variables, its headers, WSGI's own keys); everything else in an
# environ that is also in the process environment was copied from it.
_REQUEST_KEYS = frozenset(
    {
        "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED",
        "QUERY_STRING", "RAW_URI", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT", "REMOTE_PORT", "REMOTE_USER",
        "REQUEST_METHOD", "REQUEST_URI", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
        "SERVER_SOFTWARE", "HTTPS",
    }
)  # fmt: skip


def _copied_from_process() -> frozenset[str]:
    return frozenset(
        key for key in os.environ if key not in _REQUEST_KEYS and not key.startswith(("HTTP_", "wsgi."))
    )


# Taken at the first request: the server copied the environment as it started, after the settings had added
# to it (var/development.env).
_copied: frozenset[str] | None = None


def request_environ(environ: dict[str, Any]) -> dict[str, Any]:
    """The environ without the process environment that granian, as CGI servers do, copies into every request:
    request.META then holds the request alone, never SECRET_KEY or DATABASE_URL."""
    global _copied
    if _copied is None:
        _copied = _copied_from_process()
    for key in _copied.intersection(environ):
        del environ[key]
    return environ


_django = get_wsgi_application()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    return _django(request_environ(environ), start_response)
