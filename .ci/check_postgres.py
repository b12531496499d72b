"""Fail early, with the command to fix it, when the test database server cannot be reached."""

import os
import sys

import psycopg

url = os.environ["DATABASE_URL"]
try:
    psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
except psycopg.OperationalError as exc:
    sys.exit(
        f"PostgreSQL is not reachable at {url} ({str(exc).strip()}).\n"
        "Start it with:  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
        "or point DATABASE_URL at a server where user postgres may create databases."
    )
