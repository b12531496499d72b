"""What the web server hands Django: the request, not the server's own environment."""

from __future__ import annotations

import io
import os
from typing import Any

from fairlabel import wsgi


def test_the_process_environment_a_server_copies_into_a_request_is_dropped(monkeypatch: Any) -> None:
    assert "DJANGO_SETTINGS_MODULE" in os.environ and "PATH" in os.environ
    # What granian (like a CGI server) passes: the process environment, then the request's own keys over it.
    environ = {
        **os.environ,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/ping/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "203.0.113.5",
        "HTTP_AUTHORIZATION": "Token abc",
        "wsgi.input": io.BytesIO(b""),
    }
    monkeypatch.setattr(wsgi, "_copied", None)  # as at a server's first request
    seen = wsgi.request_environ(environ)
    assert "DATABASE_URL" not in seen and "DJANGO_SETTINGS_MODULE" not in seen and "PATH" not in seen
    assert not set(seen) & (set(os.environ) - {"REQUEST_METHOD", "PATH_INFO", "SERVER_NAME"})
    assert seen["REQUEST_METHOD"] == "GET" and seen["PATH_INFO"] == "/api/v1/ping/"
    assert seen["REMOTE_ADDR"] == "203.0.113.5" and seen["HTTP_AUTHORIZATION"] == "Token abc"
