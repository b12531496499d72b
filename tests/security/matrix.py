"""Who may call what: every URL of the project, the objects its path parameters name, and the table of who
may call it. The permission tests call each URL as each role; the accessibility tests open each page a role may see."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from accounts.models import User
from fairness import services as fairness_services
from fairness.models import Appeal, Decision, DecisionKind
from integrations.models import ImportJob, Webhook
from payouts.models import Entry
from quality.models import Restriction
from tasks.models import Answer, Assignment, Pool, Task
from tests.factories import PoolFactory, RequesterFactory, StaffFactory, TaskFactory, WorkerFactory, fund
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
NOWHERE = Access(HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN)
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
    # Any path under /api/ that no endpoint serves: the same JSON 404 for everyone, signed in or not.
    "api-not-found": dict.fromkeys(("GET", "POST", "DELETE"), NOWHERE),
    "api-me": {"GET": SIGNED_IN},
    "api-aggregate": {"POST": REQUESTERS},
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
    answer = assignments_flow.assignment_submit(worker=helper, assignment_id=helped.pk, answer="OK")
    # The worker has answered for the owner before and holds a task now.
    first = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assert first is not None
    assignments_flow.assignment_submit(worker=worker, assignment_id=first.pk, answer=f"Bad{XSS_IMG}")
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
    "unmatched": lambda w: "v1/me/record/",
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


def is_api(route: Route) -> bool:
    """Under /api/, whether a path() route or the regular expression that catches the rest of /api/."""
    return route.route.lstrip("^").startswith("api/")


def rows_for(route: Route) -> dict[str, Access] | None:
    if route.name in MATRIX:
        return MATRIX[route.name]
    return NAMESPACES.get(route.namespace or "")


def route_path(route: Route, world: World) -> str:
    missing = [p for p in route.params if p not in PARAMS]
    assert not missing, f"{route.name}: add a way to fill {missing} to PARAMS"
    kwargs = {p: PARAMS[p](world) for p in route.params}
    if route.name and not route.name.endswith(":"):
        return reverse(route.name, kwargs=kwargs)
    # An unnamed pattern (the admin's catch-all): fill its groups, whether path converters or regex groups.
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route.route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m.group(1)]), path)
    return "/" + path.replace("^", "").replace("$", "")
