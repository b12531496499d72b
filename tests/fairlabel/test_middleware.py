"""Every HTML page carries the Content-Security-Policy and needs nothing it forbids.

The pages are found by following links from the home page as each kind of user, so a new page is covered
without being listed here.
"""

from __future__ import annotations

import re
from collections import deque

import pytest
from django.test import Client

from tests.factories import PoolFactory, RequesterFactory, StaffFactory, TaskFactory, WorkerFactory, fund
from workflows import assignments as assignments_flow
from workflows import pools as pools_flow

pytestmark = pytest.mark.django_db

LINK = re.compile(r'href="(/[^"#]*)"')
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle=", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]+\son[a-z]+=", re.IGNORECASE)
# Downloads and the API are not pages; log-out would end the walk.
NOT_PAGES = ("/static/", "/api/", "/admin/logout/", "/logout/", "/me/data/export/")


def _walk(client: Client, start: str = "/", limit: int = 120) -> dict[str, object]:
    seen: dict[str, object] = {}
    queue = deque([start])
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen or path.startswith(NOT_PAGES) or "format=" in path or "/download/" in path:
            continue
        response = client.get(path, follow=True)
        seen[path] = response
        if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
            queue.extend(LINK.findall(response.content.decode()))
    return seen


def _people() -> dict[str, Client]:
    requester, worker = RequesterFactory(), WorkerFactory()
    fund(requester, "50")
    pool = PoolFactory(requester=requester, labels=["OK", "Bad"])
    TaskFactory.create_batch(3, pool=pool)
    pools_flow.pool_open(pool=pool)
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")
    clients = {"anonymous": Client()}
    for name, user in (("worker", worker), ("requester", requester), ("staff", StaffFactory())):
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def test_every_html_page_sends_the_policy_and_has_no_inline_code():
    pages = 0
    for who, client in _people().items():
        for path, response in _walk(client).items():
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            pages += 1
            where = f"{who} {path} ({response.status_code})"
            policy = response.get("Content-Security-Policy", "")
            assert "default-src 'self'" in policy and "script-src 'self'" in policy, where
            assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, where
            if path == "/api/docs/":
                continue  # Redoc's page: its own policy, tested in the browser
            assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, where
            html = response.content.decode()
            assert not INLINE_SCRIPT.search(html), where
            assert not INLINE_STYLE.search(html), where
            assert not HANDLER.search(html), where
    assert pages > 40  # the walk reached the pages, not just the log-in form


@pytest.mark.parametrize("path", ["/no-such-page/", "/pools/999999999/"])
def test_error_pages_send_it_too(path):
    client = Client()
    client.force_login(RequesterFactory())
    response = client.get(path)
    assert response.status_code == 404
    assert "script-src 'self'" in response["Content-Security-Policy"]


def _policy_headers(response) -> dict[str, str]:
    return {
        name: response[name]
        for name in ("Content-Security-Policy", "Content-Security-Policy-Report-Only")
        if name in response
    }


@pytest.mark.parametrize("image_hosts", [[], ["images.acme.example", "*.cdn.example"]])
def test_the_policy_built_once_is_the_one_django_csp_builds_each_time(settings, rf, image_hosts):
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    from fairlabel.middleware import ContentSecurityPolicyMiddleware

    settings.TASK_IMAGE_HOSTS = image_hosts
    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse())
    for path in ("/api/v1/ping/", "/login/", "/tasks/"):
        built_once = [middleware.process_response(rf.get(path), HttpResponse()) for _ in range(2)]
        # django-csp's own response handling, with this project's policy parts.
        each_time = CSPMiddleware.process_response(middleware, rf.get(path), HttpResponse())
        assert _policy_headers(built_once[0]) == _policy_headers(built_once[1]) == _policy_headers(each_time)
        assert "default-src 'self'" in built_once[0]["Content-Security-Policy"]
    assert all(host in built_once[0]["Content-Security-Policy"] for host in image_hosts)


def test_a_view_that_changes_the_policy_still_gets_its_own(client):
    schema_docs = client.get("/api/docs/")
    assert schema_docs.status_code == 200
    assert "'unsafe-inline'" in schema_docs["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get("/login/")["Content-Security-Policy"]
