from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction

MANAGE = Path(settings.BASE_DIR) / "manage.py"
_PASS_THROUGH = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT"}


def production_env(**changes: str | None) -> dict[str, str]:
    """The environment of a production host: no DEBUG, no test switch, a real key, a host name, the database."""
    # Only what any process needs: the test run's own switches (FAIRLABEL_TESTING, DJANGO_ALLOW_ASYNC_UNSAFE set
    # for the browser tests, ...) must not leak into what is meant to be a production process.
    env = {k: v for k, v in os.environ.items() if k in _PASS_THROUGH}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="labels.example.com",
        DATABASE_URL=settings.DATABASE_URL,
        DJANGO_SETTINGS_MODULE="fairlabel.settings",
        # A production host has no var/development.env, even where this checkout ran `make run`.
        VAR_DIR=tempfile.mkdtemp(prefix="fairlabel-production-var-"),
    )
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


_SHOW = """
import json
import django
from django.conf import settings
django.setup()
names = {names!r}
print(json.dumps({{name: getattr(settings, name, None) for name in names}}, default=str))
"""


def production_settings(*names: str, **env_changes: str | None) -> dict[str, Any]:
    """Settings as a production process sees them (a fresh interpreter, production environment)."""
    result = subprocess.run(
        [sys.executable, "-c", _SHOW.format(names=list(names))],
        env=production_env(**env_changes),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@contextmanager
def built_once(django_db_blocker: Any, build: Callable[[], Any]) -> Iterator[Any]:
    """Data built once for a module inside a transaction; each test then runs in a savepoint rolled back after it.

    This is what Django's TestCase.setUpTestData does, and why the block is marked as the test case's own: the
    services' durable transactions may open inside it, as they may inside a test's.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        connection.atomic_blocks[-1]._from_testcase = True
        try:
            yield build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
