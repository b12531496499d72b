"""Helpers for tests that start real processes (a dramatiq worker, gunicorn, manage.py): the test database's
address for them, the Redis database their broker uses, and stopping and feeding them."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any
from urllib.parse import quote

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
