"""The requester dashboard and pool page: what a requester sees, and what it costs to show it."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tasks import services
from tasks.models import Pool, PoolStatus, Task, WorkerPoolStats
from tests.factories import PoolFactory, RequesterFactory, WorkerFactory, open_pool
from workflows import assignments as assignments_flow

pytestmark = pytest.mark.django_db


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def answer(worker, pool, label="OK") -> None:
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assert assignment is not None, "the worker should get a task"
    assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)


def test_dashboard_shows_progress_rate_spend_and_skill(requester):
    pool = open_pool(requester=requester, tasks=4)
    worker = WorkerFactory()
    answer(worker, pool)
    answer(worker, pool)
    WorkerPoolStats.objects.filter(worker=worker, pool=pool).update(golden_answered=2, golden_correct=2)
    html = browser_for(requester).get("/pools/").content.decode()
    row = html[html.index(f'id="pool-{pool.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "2 / 4" in row and 'aria-valuenow="50"' in row
    # Opened a moment ago: the pace is over the (one) minute since opening, not spread over an hour.
    assert '<td class="num rate">2.0</td>' in row
    # Two answers at 0.10 + 0.01 fee spent, of 4 x 0.11 reserved.
    assert "0.22 / 0.44" in row
    assert "0.75" in row  # (2 + 1) / (2 + 2)
    assert 'value="50"' in row  # the priority, editable in place


def test_dashboard_filters_by_status_and_name(requester):
    open_pool(requester=requester, tasks=4, name="Cats and dogs")
    PoolFactory(requester=requester, name="Street signs")
    client = browser_for(requester)
    drafts = client.get("/pools/?status=draft", HTTP_HX_REQUEST="true").content.decode()
    assert "Street signs" in drafts and "Cats and dogs" not in drafts
    assert drafts.lstrip().startswith("<tbody")  # htmx gets only the rows
    found = client.get("/pools/?q=cats").content.decode()
    assert "Cats and dogs" in found and "Street signs" not in found
    assert "No pools match" in client.get("/pools/?q=zebra").content.decode()


def test_other_requesters_pools_never_show(requester):
    PoolFactory(requester=RequesterFactory(), name="Someone else's")
    assert "Someone else&#x27;s" not in browser_for(requester).get("/pools/").content.decode()


def test_priority_is_edited_in_place(requester):
    pool = PoolFactory(requester=requester)
    client = browser_for(requester)
    response = client.post(f"/pools/{pool.pk}/priority/", {"priority": "90"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'value="90"' in response.content.decode()
    assert Pool.objects.get(pk=pool.pk).priority == 90
    refused = client.post(f"/pools/{pool.pk}/priority/", {"priority": "500"}, HTTP_HX_REQUEST="true")
    assert "0 to 100" in refused.content.decode()
    assert Pool.objects.get(pk=pool.pk).priority == 90
    stranger = browser_for(RequesterFactory())
    assert stranger.post(f"/pools/{pool.pk}/priority/", {"priority": "1"}).status_code == 404


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/pools/").status_code == 200
    return len(queries)


def _many_pools(requester, count: int) -> None:
    pools = Pool.objects.bulk_create(
        [
            Pool(
                requester=requester, name=f"Bulk {i}", labels=["OK", "Bad"], reward=Decimal("0.05"), overlap=1
            )
            for i in range(count)
        ]
    )
    Task.objects.bulk_create(
        [Task(pool=p, data={"t": i}, max_answers=1, remaining=1) for p in pools for i in range(3)]
    )


def test_dashboard_query_count_does_not_grow_with_pools(requester):
    client = browser_for(requester)
    open_pool(requester=requester, tasks=4, name="With answers")
    _many_pools(requester, 5)
    few = _dashboard_queries(client)
    _many_pools(requester, 495)
    assert Pool.objects.filter(requester=requester).count() == 501
    many = _dashboard_queries(client)
    assert many == few, f"{few} queries for 6 pools, {many} for 501"
    started = time.perf_counter()
    html = client.get("/pools/").content.decode()
    elapsed = time.perf_counter() - started
    assert html.count('class="progress"') == 501
    print(f"\ndashboard with 501 pools: {many} queries, {elapsed * 1000:.0f} ms")


def test_pool_page_shows_charts_golden_accuracy_and_lowest_confidence_first(requester):
    pool = open_pool(
        requester=requester, tasks=3, golden=1, overlap=3, labels=("OK", "Bad", "Spam"), golden_rate=0.3
    )
    workers = [WorkerFactory() for _ in range(3)]
    golden = Task.objects.get(pool=pool, golden_label__isnull=False)
    # Every worker answers every task; all three call the golden item "Bad": its golden answer looks wrong.
    for worker in workers:
        for _ in range(4):
            assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
            if assignment is None:
                break
            if assignment.task_id == golden.pk:
                label = "Bad"
            else:
                label = "OK" if worker is not workers[2] or assignment.task_id % 2 else "Spam"
            assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)
    html = browser_for(requester).get(f"/pools/{pool.pk}/").content.decode()
    assert html.count('<svg class="chart"') == 4
    assert "check this golden answer" in html
    preview = html[html.index("Results preview") : html.index("Golden items")]
    confidences = [float(c) for c in __import__("re").findall(r'class="num">(\d\.\d\d)</td>', preview)]
    assert confidences and confidences == sorted(confidences)
    assert "Cost so far" in html and "estimated final" in html
    assert "<script>" not in html.split("</head>")[1].replace('<script src="/static/', "")


def test_pause_stops_new_tasks_and_resume_brings_them_back(requester):
    pool = open_pool(requester=requester, tasks=2)
    worker = WorkerFactory()
    client = browser_for(requester)
    client.post(f"/pools/{pool.pk}/pause/")
    assert Pool.objects.get(pk=pool.pk).status == PoolStatus.PAUSED
    assert assignments_flow.assignment_next(worker=worker, pool_id=pool.pk) is None
    assert "Resume" in client.get(f"/pools/{pool.pk}/").content.decode()
    client.post(f"/pools/{pool.pk}/resume/")
    assert Pool.objects.get(pk=pool.pk).status == PoolStatus.OPEN
    assert assignments_flow.assignment_next(worker=worker, pool_id=pool.pk) is not None


def test_pausing_keeps_the_money_reserved_and_answers_in_flight_count(requester):
    pool = open_pool(requester=requester, tasks=2)
    worker = WorkerFactory()
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    services.pool_pause(pool=pool)
    assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer="OK")
    from requester.dashboard import pool_stats

    stats = pool_stats(pool_ids=[pool.pk])[pool.pk]
    assert stats.completed == 1 and stats.reserved == Decimal("0.11")


def test_instructions_can_be_edited_while_open_but_not_after_closing(requester):
    pool = open_pool(requester=requester, tasks=4)
    client = browser_for(requester)
    client.post(f"/pools/{pool.pk}/instructions/", {"instructions": "Mark weapons as Bad."})
    assert Pool.objects.get(pk=pool.pk).instructions == "Mark weapons as Bad."
    client.post(f"/pools/{pool.pk}/close/")
    response = client.post(f"/pools/{pool.pk}/instructions/", {"instructions": "Too late"}, follow=True)
    assert "cannot change" in response.content.decode()
    assert Pool.objects.get(pk=pool.pk).instructions == "Mark weapons as Bad."


def test_pool_page_fragment_for_htmx_polls(requester):
    pool = open_pool(requester=requester, tasks=2)
    client = browser_for(requester)
    fragment = client.get(f"/pools/{pool.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Completed tasks" in fragment and "<html" not in fragment
    charts = client.get(
        f"/pools/{pool.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="pool-charts"
    ).content.decode()
    assert charts.count("<svg") == 4 and "Completed tasks" not in charts
