"""Settings for the test suite: the real settings on PostgreSQL, with fast password hashing."""

import os
from pathlib import Path

os.environ.setdefault("FAIRLABEL_TESTING", "1")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fairlabel")
os.environ.setdefault("DRAMATIQ_BROKER_URL", "")

from fairlabel import settings as _base
from fairlabel.settings import *  # noqa: F403

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
