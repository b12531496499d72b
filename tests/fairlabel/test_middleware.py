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
