"""The permission matrix: every URL in the project, called by everyone, compared with a table of who may do what.

The table is in tests/security/matrix.py. The URL list comes from the resolver, so a new URL without a row in
MATRIX fails `test_every_url_has_a_row`. Path parameters are filled with ids of objects the owning requester
(or, for assignments, the worker) holds; the other requester and the other worker then try the same ids, which
is how an IDOR would show.

To add a URL: add a row keyed by its URL name, one entry per HTTP method it answers, using a preset (or an
Access(...) of your own, e.g. dataclasses.replace(OWNER, staff=OK)), and if it has a new path parameter, say how
to fill it in PARAMS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from accounts.models import User
from tasks.models import Pool
from tests.security.conftest import built_once
from tests.security.matrix import (
    ADMITTED,
    BODIES,
    FORBIDDEN,
    HIDDEN,
    LOGIN,
    MATRIX,
    NAMESPACES,
    NO_EFFECT,
    OK,
    ROLES,
    XSS,
    XSS_IMG,
    Route,
    World,
    all_routes,
    build_world,
    fingerprint,
    route_path,
    rows_for,
)

# --------------------------------------------------------------------------------------------- the cases


def _cases() -> list[Any]:
    return [
        pytest.param(route, method, id=f"{method} /{route.route} ({route.name})")
        for route in all_routes()
        for method in sorted(rows_for(route) or {})
    ]


# ----------------------------------------------------------------------------------------------- the calls


def _call(client: Client, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if path.startswith("/api/"):
        return client.generic(method, path, data=json.dumps(body or {}), content_type="application/json")
    if method == "POST":
        return client.post(path, body or {})
    return client.generic(method, path)


def _client(role: str, world: World, path: str) -> Client:
    client = Client()
    user = world.users.get(role)
    if user is None:
        return client
    if path.startswith("/api/"):
        key = Token.objects.get(user=user).key
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    else:
        client.force_login(user)
    return client


def _shows_raw_markup(response: Any) -> bool:
    if response.streaming or not response.get("Content-Type", "").startswith("text/html"):
        return False  # JSON and downloads carry data verbatim; only HTML is rendered by the browser
    html = response.content.decode(errors="replace")
    return "<script>alert('xss')" in html or "<img src=x" in html


def outcome_of(response: Any) -> str:
    code = response.status_code
    if code >= 500:
        return f"error {code}"
    if code == 401:
        return LOGIN
    if code in (301, 302, 303, 307):
        location = urlsplit(response["Location"])
        # login_required and the admin send the visitor to log in with ?next=; a plain redirect to the log-in
        # page (after logging out) is an ordinary answer.
        if location.path in (reverse("login"), reverse("admin:login")) and "next=" in location.query:
            return LOGIN
    if code == 403:
        return FORBIDDEN
    if code == 404:
        return HIDDEN
    if code == 405:
        return "method not allowed"
    return OK


def _matches(expected: str, actual: str) -> bool:
    if expected in (NO_EFFECT, ADMITTED):
        # ADMITTED: the admin may itself answer 403 (an append-only ledger has no "add") or 404 (a filled-in
        # id of another model); what matters is that staff are not sent to log in.
        return actual in (OK, HIDDEN, FORBIDDEN, "method not allowed")
    return expected == actual


def _unchanged_required(expected: str) -> bool:
    return expected not in (OK, ADMITTED)


pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    with built_once(django_db_blocker, build_world) as built:
        yield built


@pytest.mark.parametrize(("route", "method"), _cases())
def test_who_may_call_what(route: Route, method: str, world: World) -> None:
    rows = rows_for(route)
    assert rows is not None
    access = rows[method]
    path = route_path(route, world)
    body = BODIES.get(route.name)
    # Refused callers go first, so the allowed ones cannot change what a later refusal is measured against.
    order = sorted(ROLES, key=lambda role: access.expected(role) == OK)
    problems = []
    before = fingerprint(world)
    for role in order:
        expected = access.expected(role)
        response = _call(_client(role, world, path), method, path, body)
        actual = outcome_of(response)
        if _shows_raw_markup(response):
            problems.append(f"{role}: the page shows the pool's markup unescaped")
        if not _matches(expected, actual):
            problems.append(f"{role}: expected {expected}, got {actual} ({response.status_code})")
        elif _unchanged_required(expected) and fingerprint(world) != before:
            problems.append(f"{role}: refused ({actual}) but something changed")
    assert not problems, f"{method} {path}:\n" + "\n".join(problems)


def test_every_url_has_a_row() -> None:
    routes = all_routes()
    unnamed = [r.route for r in routes if not r.name and r.namespace not in NAMESPACES]
    assert not unnamed, f"give these URL patterns a name and a row in MATRIX: {unnamed}"
    missing = sorted({r.name for r in routes if rows_for(r) is None})
    assert not missing, f"URLs with no row in the permission MATRIX: {missing}"
    stale = sorted((set(MATRIX) | set(BODIES)) - {r.name for r in routes})
    assert not stale, f"rows in MATRIX or BODIES for URLs that no longer exist: {stale}"


def _implemented_methods(callback: Any) -> set[str] | None:
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return None  # a function view: its methods are whatever the table says, and are called above
    names = {m for m in view.http_method_names if m not in ("options", "head") and hasattr(view, m)}
    if issubclass(view, APIView):
        names.discard("options")
    return {m.upper() for m in names}


def test_rows_list_exactly_the_methods_class_views_implement() -> None:
    wrong = {}
    for route in all_routes():
        rows = rows_for(route)
        implemented = _implemented_methods(route.callback)
        if rows is None or implemented is None or route.namespace in NAMESPACES:
            continue
        if set(rows) != implemented:
            wrong[route.name] = {"table": sorted(rows), "view": sorted(implemented)}
    assert not wrong, f"MATRIX methods differ from the views': {wrong}"


def test_a_url_without_a_row_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The completeness check itself can fail: drop one row and it names the URL."""
    monkeypatch.delitem(MATRIX, "api-pool")
    with pytest.raises(AssertionError, match="api-pool"):
        test_every_url_has_a_row()


def test_the_matrix_catches_a_missing_ownership_check(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    """If pool_for_requester forgot the owner filter, the other requester's call would be let through."""
    from tasks import selectors

    def any_pool(*, pool_id: object, requester: User) -> Pool:
        return Pool.objects.get(pk=int(str(pool_id)))

    monkeypatch.setattr(selectors, "pool_for_requester", any_pool)
    route = next(r for r in all_routes() if r.name == "api-pool")
    with pytest.raises(AssertionError, match="other_requester: expected hidden, got ok"):
        test_who_may_call_what(route, "GET", world)


def test_admin_routes_are_all_covered() -> None:
    names = [r.name for r in all_routes() if r.namespace == "admin"]
    for model in admin.site._registry:
        meta = model._meta
        assert f"admin:{meta.app_label}_{meta.model_name}_changelist" in names


def test_the_markup_check_tells_escaped_from_raw() -> None:
    from django.http import HttpResponse
    from django.utils.html import escape

    assert _shows_raw_markup(HttpResponse(f"<h1>{XSS}</h1>"))
    assert not _shows_raw_markup(HttpResponse(f"<h1>{escape(XSS)} {escape(XSS_IMG)}</h1>"))
