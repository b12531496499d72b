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


@pytest.fixture(autouse=True)
def error_codes_are_declared(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every API error any test provokes must be one its operation's schema lists (fairlabel.schema)."""
    from rest_framework.settings import api_settings

    from fairlabel.schema import declared_error_codes

    handler: Any = api_settings.EXCEPTION_HANDLER
    undeclared: list[str] = []

    def checking(exc: Exception, context: dict[str, Any]) -> Any:
        response = handler(exc, context)
        request, view = context.get("request"), context.get("view")
        if response is None or request is None or view is None or request.method in ("OPTIONS", "HEAD"):
            return response
        if response.status_code == 405:  # answered for the methods an operation does not have
            return response
        code = response.data["error"]["code"]
        route = getattr(request.resolver_match, "route", "") or ""
        declared = declared_error_codes(view=view, method=request.method, path=route)
        if code not in declared.get(response.status_code, set()):
            undeclared.append(
                f"{type(view).__name__}.{request.method.lower()}: {response.status_code} {code}"
            )
        return response

    monkeypatch.setattr(api_settings, "EXCEPTION_HANDLER", checking)
    yield
    assert not undeclared, (
        "errors the schema does not list (add them to the view's error_codes): "
        + ", ".join(sorted(set(undeclared)))
    )
