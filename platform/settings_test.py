"""Settings for the test suite: the real settings on PostgreSQL, with fast password hashing.

The server: DATABASE_URL's if set, else the machine's on 127.0.0.1:5432 if one answers, else the embedded one
under var/ (fairlabel.embedded_postgres), so the suite runs on a machine with no PostgreSQL installed.
"""

import os
import socket
from pathlib import Path


def _local_server_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return False
    return True


os.environ.setdefault("FAIRLABEL_TESTING", "1")
if not os.environ.get("DATABASE_URL") and _local_server_answers():
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/fairlabel"
os.environ.setdefault("DRAMATIQ_BROKER_URL", "")

from fairlabel import settings as _base  # noqa: E402
from fairlabel.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client and the browser tests' live server speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # type: ignore[name-defined]  # noqa: F405

# One test database per test run, so that several runs on one machine (developers, CI, benchmarks) never
# create or drop each other's database.
DATABASES["default"].setdefault("TEST", {})  # type: ignore[name-defined]  # noqa: F405
DATABASES["default"]["TEST"]["NAME"] = os.environ.get(  # type: ignore[name-defined]  # noqa: F405
    "TEST_DATABASE_NAME", f"test_fairlabel_{os.getpid()}"
)

# tests/security turns log-in lockouts and rate limits on where it tests them. Elsewhere a suite that makes
# thousands of calls from one address must not trip them, and Client.login() (which passes no request, as
# django-axes requires) keeps working.
AXES_ENABLED = False
REST_FRAMEWORK = {
    **_base.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"account": "1000000/min", "anon": "1000000/min"},
}
