"""The permission matrix: every URL in the project, called by everyone, compared with a table of who may do what.

The URL list comes from the resolver, so a new URL without a row in MATRIX fails `test_every_url_has_a_row`. Path
parameters are filled with ids of objects the owning requester (or, for assignments, the worker) holds; the other
requester and the other worker then try the same ids, which is how an IDOR would show.

To add a URL: add a row keyed by its URL name, one entry per HTTP method it answers, using a preset (or an
Access(...) of your own, e.g. dataclasses.replace(OWNER, staff=OK)), and if it has a new path parameter, say how
to fill it in PARAMS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from accounts.models import User
from fairness import services as fairness_services
from fairness.models import Appeal, Decision, DecisionKind
from integrations.models import ImportJob, Webhook
from payouts.models import Entry
from quality.models import Restriction
from tasks.models import Answer, Assignment, Pool, Task
from tests.factories import PoolFactory, RequesterFactory, StaffFactory, TaskFactory, WorkerFactory, fund
from tests.security.conftest import built_once
from workflows import assignments as assignments_flow
from workflows import pools as pools_flow
from workflows.reviews import restriction_impose

# ------------------------------------------------------------------------------------------------ outcomes

OK = "ok"  # let through: any answer but a refusal (a 400 for an empty body still counts)
LOGIN = "login"  # anonymous: 401 from the API, a redirect to a log-in page from HTML
FORBIDDEN = "forbidden"  # 403: wrong role
HIDDEN = "hidden"  # 404: someone else's object, indistinguishable from one that does not exist
NO_EFFECT = "no effect"  # any non-error answer, but nothing of the owner's changes (an HTML form's refusal)
ADMITTED = (
    "admitted"  # staff in the admin: past the staff check (the admin may still refuse an action itself)
)

ROLES = ("anon", "worker", "other_worker", "owner", "other_requester", "staff")
XSS = "<script>alert('xss')</script>"
XSS_IMG = '<img src=x onerror="alert(1)">'


@dataclass(frozen=True)
class Access:
    anon: str
    worker: str  # holds the assignment in the owner's pool
    other_worker: str
    owner: str  # the requester who owns the pool (and the webhook, the import job, the answer's pool)
    other_requester: str
    staff: str

    def expected(self, role: str) -> str:
        return str(getattr(self, role))


PUBLIC = Access(OK, OK, OK, OK, OK, OK)
SIGNED_IN = Access(LOGIN, OK, OK, OK, OK, OK)
WORKERS = Access(LOGIN, OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)
REQUESTERS = Access(LOGIN, FORBIDDEN, FORBIDDEN, OK, OK, FORBIDDEN)
OWNER = Access(LOGIN, FORBIDDEN, FORBIDDEN, OK, HIDDEN, FORBIDDEN)
# The worker's own assignment: another worker gets 404 from the API; the annotator page answers with the
# refusal and the next task, and must change nothing.
ASSIGNEE_API = Access(LOGIN, OK, HIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN)
ASSIGNEE_PAGE = Access(LOGIN, OK, NO_EFFECT, FORBIDDEN, FORBIDDEN, FORBIDDEN)
# Appeals: a worker appeals a decision about themselves; a rejection's appeal is decided by the pool's requester
# or by staff, and is not found by anyone else.
DECISION_SUBJECT = ASSIGNEE_API
APPEAL_DECIDER = Access(LOGIN, HIDDEN, HIDDEN, OK, HIDDEN, OK)
APPEAL_QUEUE = Access(LOGIN, FORBIDDEN, FORBIDDEN, OK, OK, OK)
OWN_DATA = Access(LOGIN, OK, OK, OK, OK, FORBIDDEN)  # staff (role admin) hold no worker or requester data
ADMIN = Access(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, ADMITTED)
STAFF_ONLY = Access(LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)

# URL name -> {method: Access}. Methods not listed are not called (DRF and class-based views are checked to
# list exactly the methods they implement).
MATRIX: dict[str, dict[str, Access]] = {
    # API v1
    "api-token": {"POST": PUBLIC},
    "api-schema": {"GET": PUBLIC},
    "api-docs": {"GET": PUBLIC},
    "api-me": {"GET": SIGNED_IN},
    "api-ping": {"GET": SIGNED_IN},
    "api-pools": {"GET": REQUESTERS, "POST": REQUESTERS},
    "api-pool": {"GET": OWNER},
    "api-pool-tasks": {"POST": OWNER},
    "api-pool-open": {"POST": OWNER},
    "api-pool-close": {"POST": OWNER},
    "api-pool-answers": {"GET": OWNER},
    "api-pool-results": {"GET": OWNER},
    "api-pool-answers-accept": {"POST": OWNER},
    "api-answer-accept": {"POST": OWNER},
    "api-answer-reject": {"POST": OWNER},
    "api-assignment-next": {"POST": WORKERS},
    "api-submit": {"POST": ASSIGNEE_API},
    "api-skip": {"POST": ASSIGNEE_API},
    "api-withdrawals": {"GET": WORKERS, "POST": WORKERS},
    "api-import-job": {"GET": OWNER},
    "api-webhooks": {"GET": REQUESTERS, "POST": REQUESTERS},
    "api-webhook": {"GET": OWNER, "DELETE": OWNER},
    "api-feed": {"GET": WORKERS},
    "api-my-decisions": {"GET": WORKERS},
    "api-appeal": {"POST": DECISION_SUBJECT},
    "api-appeals": {"GET": APPEAL_QUEUE},
    "api-appeal-decide": {"POST": APPEAL_DECIDER},
    "api-my-export": {"GET": OWN_DATA},
    "api-my-care": {"GET": WORKERS, "PUT": WORKERS},
    "api-pool-reward": {"POST": OWNER},
    # Workers only, and only after 10 answers for that requester, which no one here has (tests/fairness has).
    "api-requester-rating": {"PUT": Access(LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN)},
    # Pages
    "home": {"GET": PUBLIC},
    "login": {"GET": PUBLIC, "POST": PUBLIC, "PUT": PUBLIC},  # Django's form views treat PUT as POST
    "logout": {"POST": PUBLIC},
    "signup": {"GET": PUBLIC, "POST": PUBLIC},
    "api-token-page": {"GET": REQUESTERS},
    "api-token-regenerate": {"POST": SIGNED_IN},
    "feed": {"GET": WORKERS},
    "work": {"GET": WORKERS},
    "work-submit": {"POST": ASSIGNEE_PAGE},
    "work-skip": {"POST": ASSIGNEE_PAGE},
    "pool-list": {"GET": REQUESTERS},
    "pool-create": {"GET": REQUESTERS, "POST": REQUESTERS},
    "pool-detail": {"GET": OWNER},
    "pool-upload": {"POST": OWNER},
    "pool-open": {"POST": OWNER},
    "pool-close": {"POST": OWNER},
    "pool-pause": {"POST": OWNER},
    "pool-resume": {"POST": OWNER},
    "pool-priority": {"POST": OWNER},
    "pool-instructions": {"POST": OWNER},
    "pool-download": {"GET": OWNER},
    "webhook-list": {"GET": REQUESTERS, "POST": REQUESTERS},
    "webhook-detail": {"GET": OWNER},
    "webhook-delete": {"POST": OWNER},
    # Fair work. HTML forms answer a refusal with a message and a redirect, so "no effect".
    "fair-decisions": {"GET": WORKERS},
    "fair-decision-appeal": {"POST": ASSIGNEE_PAGE},
    "fair-care": {"GET": WORKERS, "POST": WORKERS},
    "fair-ratings": {"GET": WORKERS},
    "fair-rating-save": {"POST": WORKERS},
    "fair-quality": {"GET": WORKERS},
    "my-data": {"GET": OWN_DATA},
    "my-data-export": {"GET": OWN_DATA},
    "account-delete": {"POST": OWN_DATA},  # no password sent: refused with a message, nothing erased
    "fair-requester": {"GET": REQUESTERS},
    "fair-pool-reward": {"POST": OWNER},
    "fair-appeals": {"GET": REQUESTERS},
    "fair-appeal-decide": {"POST": Access(LOGIN, NO_EFFECT, NO_EFFECT, OK, NO_EFFECT, OK)},
    "staff-fair-appeals": {"GET": STAFF_ONLY},
    "staff-fair-audit": {"GET": STAFF_ONLY},
    "staff-fair-blocks": {"GET": STAFF_ONLY, "POST": STAFF_ONLY},
    "staff-fair-block-lift": {"POST": STAFF_ONLY},
    # Money pages: the worker's earnings and cash-out; the requester's billing and answer review.
    "earnings": {"GET": WORKERS},
    "earnings-withdraw": {"POST": WORKERS},
    "billing": {"GET": REQUESTERS},
    "review": {"GET": REQUESTERS},
    "review-pool": {"GET": OWNER},
    "review-accept-all": {"POST": OWNER},
    "review-accept": {"POST": OWNER},
    "review-reject": {"POST": OWNER},
    # Quality: the worker's own skill page; staff review and restrict.
    "worker-quality": {"GET": WORKERS},
    "staff-quality": {"GET": STAFF_ONLY},
    "staff-quality-pool": {"GET": STAFF_ONLY},
    "staff-quality-worker": {"GET": STAFF_ONLY},
    "staff-quality-restrict": {"POST": STAFF_ONLY},
    "staff-quality-lift": {"POST": STAFF_ONLY},
    # The admin's own log-in and log-out pages are for everyone.
    "admin:login": {"GET": PUBLIC, "POST": PUBLIC},
    "admin:logout": {"POST": PUBLIC},
}
# Every other URL of the Django admin: staff only, everyone else is sent to the admin's log-in page. Only GET
# is called (as staff, a POST would change data; non-staff POSTs meet the same check as GETs).
NAMESPACES: dict[str, dict[str, Access]] = {"admin": {"GET": ADMIN}}

# Request bodies that would succeed for the rightful caller, so a refusal cannot hide behind a 400 for an
# empty body: the view must refuse the caller, not the input.
BODIES: dict[str, dict[str, Any]] = {
    "api-pools": {"name": "Mine", "labels": ["A", "B"], "reward": "0.05", "overlap": 1},
    "api-pool-tasks": {"tasks": [{"data": {"text": "new"}}]},
    "api-submit": {"label": "OK"},
    "api-answer-reject": {"reason": "Not what the instructions ask."},
    "api-webhooks": {"url": "https://hooks.example.com/new", "events": ["pool.completed"]},
    "api-appeal": {"message": "Please look at this again."},
    "api-appeal-decide": {"uphold": False, "response": "Checked again; the decision stands."},
    "api-my-care": {"categories": [], "daily_cap": 40},
    "api-pool-reward": {"reward": "0.06"},
    "api-requester-rating": {"pay": 4, "clarity": 4, "fairness": 5, "speed": 3},
    "login": {"username": "nobody", "password": "wrong"},
    "work-submit": {"label": "OK"},
    "pool-priority": {"priority": "10"},
    "pool-instructions": {"instructions": "Changed."},
    "webhook-list": {"url": "https://hooks.example.com/new", "events": ["pool.completed"]},
    "fair-decision-appeal": {"message": "Please look at this again."},
    "earnings-withdraw": {"amount": "0.01"},
    "review-reject": {"reason": "Not what the instructions ask."},
    "fair-care": {"categories": [], "daily_cap": "40"},
    "fair-rating-save": {"pay": "4", "clarity": "4", "fairness": "5", "speed": "3"},
    "fair-pool-reward": {"reward": "0.06"},
    "fair-appeal-decide": {"verdict": "deny", "response": "Checked again; the decision stands."},
    "staff-fair-blocks": {"username": "nobody-by-that-name", "reason": "Testing the form."},
    "staff-fair-block-lift": {"note": "Checked."},
    "staff-quality-restrict": {"reason": "Careless answers."},
    "staff-quality-lift": {"reason": "Second chance."},
}


# ------------------------------------------------------------------------------------------- the objects


@dataclass
class World:
    users: dict[str, User]
    pool: Pool
    assignment: Assignment
    answer: Answer
    webhook: Webhook
    import_job: ImportJob
    decision: Decision  # about the worker
    appeal: Appeal  # against the rejection of the helper's answer in the owner's pool
    restriction: Restriction  # keeps the other worker out of the owner's pool


def build_world() -> World:
    owner = RequesterFactory.create()
    other_requester = RequesterFactory.create()
    fund(owner, "100.00")
    fund(other_requester, "100.00")
    worker, other_worker, helper = WorkerFactory.create_batch(3)
    # Markup wherever a requester can type, so every page below also shows it is escaped (stored XSS).
    pool = PoolFactory.create(
        requester=owner,
        overlap=3,
        reward=Decimal("0.05"),
        name=f"Listings {XSS}",
        instructions=f"Read this {XSS}",
        labels=["OK", f"Bad{XSS_IMG}"],
    )
    TaskFactory.create_batch(4, pool=pool, data={"text": f"An item {XSS}", f"note{XSS_IMG}": XSS_IMG})
    pools_flow.pool_open(pool=pool)
    helped = assignments_flow.assignment_next(worker=helper, pool_id=pool.pk)
    assert helped is not None
    answer = assignments_flow.assignment_submit(worker=helper, assignment_id=helped.pk, label="OK")
    # The worker has answered for the owner before and holds a task now.
    first = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assert first is not None
    assignments_flow.assignment_submit(worker=worker, assignment_id=first.pk, label=f"Bad{XSS_IMG}")
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assert assignment is not None
    webhook = Webhook.objects.create(requester=owner, url="https://hooks.example.com/fairlabel", events=[])
    import_job = ImportJob.objects.create(
        pool=pool, requester=owner, file_name="tasks.csv", file_path="/nonexistent/tasks.csv", file_size=10
    )
    decision = fairness_services.decision_record(
        worker_id=worker.pk,
        kind=DecisionKind.RESTRICTION,
        reason="Golden accuracy below 70%.",
        pool_id=pool.pk,
    )
    rejection = fairness_services.decision_record_rejection(
        answer=answer, reason="Off-topic.", requester=owner
    )
    appeal = Appeal.objects.create(decision=rejection, message="It was on topic.")
    staff = StaffFactory.create()
    restriction = restriction_impose(worker=other_worker, pool=pool, reason="Careless.", staff=staff)
    users = {
        "worker": worker,
        "other_worker": other_worker,
        "owner": owner,
        "other_requester": other_requester,
        "staff": staff,
    }
    return World(users, pool, assignment, answer, webhook, import_job, decision, appeal, restriction)


# How to fill each path parameter, from the objects above. Admin parameters point at a real pool.
PARAMS: dict[str, Callable[[World], object]] = {
    "pool_id": lambda w: w.pool.pk,
    "assignment_id": lambda w: w.assignment.pk,
    "answer_id": lambda w: w.answer.pk,
    "webhook_id": lambda w: w.webhook.pk,
    "decision_id": lambda w: w.decision.pk,
    "appeal_id": lambda w: w.appeal.pk,
    "requester_id": lambda w: w.users["owner"].pk,
    "worker_id": lambda w: w.users["worker"].pk,
    "restriction_id": lambda w: w.restriction.pk,
    "job_id": lambda w: w.import_job.public_id,
    "kind": lambda w: "answers",
    "object_id": lambda w: w.pool.pk,
    "app_label": lambda w: "accounts",
    "content_type_id": lambda w: _pool_content_type_id(),
    "url": lambda w: "tasks/pool/",
    "id": lambda w: w.users["worker"].pk,
}


def _pool_content_type_id() -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(Pool).pk


def fingerprint(world: World) -> dict[str, Any]:
    """What a refused call must leave as it was: the owner's objects, money, answers and credentials."""
    world.assignment.refresh_from_db()
    return {
        "pools": list(Pool.objects.order_by("id").values_list("id", "status", "priority", "instructions")),
        "tasks": Task.objects.count(),
        "answers": list(Answer.objects.order_by("id").values_list("id", "status")),
        "entries": Entry.objects.count(),
        "assignment": world.assignment.status,
        "webhooks": list(Webhook.objects.order_by("id").values_list("id", "url", "is_active")),
        "import_jobs": ImportJob.objects.count(),
        "decisions": list(Decision.objects.order_by("id").values_list("id", "reversed_at")),
        "appeals": list(Appeal.objects.order_by("id").values_list("id", "status")),
        "restrictions": list(Restriction.objects.order_by("id").values_list("id", "lifted_at")),
        "tokens": sorted(Token.objects.values_list("user_id", "key")),
        "users": User.objects.count(),
    }


# --------------------------------------------------------------------------------------------- the routes


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name" inside a namespace
    namespace: str | None
    route: str
    params: tuple[str, ...]
    callback: Any


def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace) if n) or None
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or ""
            full = f"{namespace}:{name}" if namespace else name
            params = tuple(pattern.pattern.regex.groupindex)
            yield Route(full, namespace, prefix + str(pattern.pattern), params, pattern.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def rows_for(route: Route) -> dict[str, Access] | None:
    if route.name in MATRIX:
        return MATRIX[route.name]
    return NAMESPACES.get(route.namespace or "")


def _cases() -> list[Any]:
    return [
        pytest.param(route, method, id=f"{method} /{route.route} ({route.name})")
        for route in all_routes()
        for method in sorted(rows_for(route) or {})
    ]


def _path(route: Route, world: World) -> str:
    missing = [p for p in route.params if p not in PARAMS]
    assert not missing, f"{route.name}: add a way to fill {missing} to PARAMS"
    kwargs = {p: PARAMS[p](world) for p in route.params}
    if route.name and not route.name.endswith(":"):
        return reverse(route.name, kwargs=kwargs)
    # An unnamed pattern (the admin's catch-all): fill its groups, whether path converters or regex groups.
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route.route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m.group(1)]), path)
    return "/" + path.replace("^", "").replace("$", "")


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
    path = _path(route, world)
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
