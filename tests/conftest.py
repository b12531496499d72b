from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import RequesterFactory, StaffFactory, WorkerFactory


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    return client_for


@pytest.fixture
def worker(db: Any) -> User:
    return WorkerFactory.create()


@pytest.fixture
def requester(db: Any) -> User:
    return RequesterFactory.create()


@pytest.fixture
def staff(db: Any) -> User:
    return StaffFactory.create()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the fault tests last: they restart PostgreSQL and Redis under the whole session."""
    items.sort(key=lambda item: "tests/faults/" in item.nodeid)
