"""Helpers for tests that start real processes (a dramatiq worker, gunicorn, manage.py): the test database's
address for them, the Redis database their broker uses, and stopping and feeding them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from django.db import connection
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

# A Redis database of the tests' own, emptied by `clear` (never the one `make run` uses).
REDIS_URL = os.environ.get("FAIRLABEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def database_url() -> str:
    """The test database, as DATABASE_URL for a child process."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = s["HOST"] or "127.0.0.1"
    if host.startswith("/"):  # the embedded server's Unix socket
        return f"postgres://{s['USER']}{password}@{quote(host, safe='')}/{s['NAME']}"
    return f"postgres://{s['USER']}{password}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def kill(process: subprocess.Popen[bytes], sig: int) -> None:
    """Send `sig` to the process's group (started with start_new_session) and wait; SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # a graceful stop that takes too long
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def send(broker: RedisBroker, actor: str, *args: Any) -> None:
    broker.enqueue(Message(queue_name="default", actor_name=actor, args=args, kwargs={}, options={}))


def clear(broker: RedisBroker) -> None:
    for key in broker.client.scan_iter("dramatiq:*"):
        broker.client.delete(key)


REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out, start_new_session=True)


def start_web(port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The web server `make serve` runs (granian), two processes of four threads; returns once it answers."""
    command = [str(VENV_BIN / "granian"), "--interface", "wsgi", "fairlabel.wsgi:application", "--no-ws"]
    command += ["--workers", "2", "--blocking-threads", "4", "--respawn-failed-workers"]
    process = start([*command, "--host", "127.0.0.1", "--port", str(port)], log, env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/ping/", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        assert process.poll() is None, f"the web server exited:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)
    pytest.fail(f"the web server did not answer:\n{log.read_text()[-3000:]}")


def start_dramatiq(log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return start([sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "4"], log, env)
