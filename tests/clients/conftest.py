"""The client's tests talk to a real server: the web server `make serve` runs (granian) and a dramatiq worker,
started once against the test database. Each test commits what it builds (transactional tests), so the server
sees it, and the database is emptied after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from accounts.models import User
from accounts.services import token_for
from tests.factories import RequesterFactory, WorkerFactory, fund
from tests.processes import database_url, free_port, kill, start_dramatiq, start_web

# Redis databases of these tests' own: the server's broker and its rate-limit counters.
BROKER_URL = "redis://127.0.0.1:6379/10"
CACHE_URL = "redis://127.0.0.1:6379/11"
# Low enough that a test can meet it, with one-second windows so the client's wait is short.
RATE = 20


@dataclass(frozen=True)
class Server:
    url: str


# Package scope: the processes stop once the last client test is done, so no job of theirs still runs (or
# retries) against the database while later suites measure timings and counts.
@pytest.fixture(scope="package")
def server(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for url in (BROKER_URL, CACHE_URL):
        redis.Redis.from_url(url).flushdb()
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "fairlabel.settings",
        "FAIRLABEL_TESTING": "1",
        "SECRET_KEY": "client-tests-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "0",
        "DRAMATIQ_BROKER_URL": BROKER_URL,
        "CACHE_URL": CACHE_URL,
        "API_RATE_USER": f"{RATE}/s",
        # Small, so that a test's upload takes the background import's path as a big file would.
        "IMPORT_BACKGROUND_BYTES": str(64 * 1024),
    }
    logs = tmp_path_factory.mktemp("client-server")
    port = free_port()
    web = start_web(port, logs / "web.log", env)
    jobs = start_dramatiq(logs / "dramatiq.log", env)
    try:
        yield Server(url=f"http://127.0.0.1:{port}")
    finally:
        kill(web, 15)
        kill(jobs, 15)


@pytest.fixture
def funded_requester(transactional_db: Any) -> User:
    requester = RequesterFactory.create()
    fund(requester, "100.00")
    return requester


@pytest.fixture
def connection_env(server: Server, funded_requester: User, monkeypatch: pytest.MonkeyPatch) -> User:
    """FAIRLABEL_URL and FAIRLABEL_TOKEN for the requester, as a user's shell would have them."""
    monkeypatch.setenv("FAIRLABEL_URL", server.url)
    monkeypatch.setenv("FAIRLABEL_TOKEN", token_for(user=funded_requester).key)
    monkeypatch.setenv("FAIRLABEL_CONFIG", str(Path(os.devnull)))
    return funded_requester


@pytest.fixture
def workers(transactional_db: Any) -> list[User]:
    return list(WorkerFactory.create_batch(3))
