"""Fail early, with the command to fix it, when the test database server cannot be reached; say which it is."""

import os
import sys

import psycopg

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings_test")
from django.conf import settings

db = settings.DATABASES["default"]
where = db["HOST"] if str(db["HOST"]).startswith("/") else f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
try:
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        connect_timeout=3,
    ) as probe:
        version = probe.execute("SHOW server_version").fetchone()[0]
except psycopg.OperationalError as exc:
    sys.exit(
        f"PostgreSQL is not reachable at {where} ({str(exc).strip()}).\n"
        "Unset DATABASE_URL to use the embedded server under var/, or point it at a server where user postgres "
        "may create databases."
    )
kind = "embedded PostgreSQL" if where.startswith("/") else "PostgreSQL"
print(f"Tests run on {kind} {version} at {where}")
