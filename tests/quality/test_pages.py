"""The worker's quality page and the staff quality review, through the test client."""

from __future__ import annotations

from typing import cast

import pytest
from django.test import Client
from django.utils.html import escape

from accounts.models import User
from quality.models import Restriction
from quality.services import pool_aggregate
from tests.factories import PASSWORD, RequesterFactory, StaffFactory, WorkerFactory, open_pool
from tests.quality.helpers import answer, golden_tasks, regular_tasks
from workflows.reviews import restriction_impose

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def restricted_worker():
    pool = open_pool(
        name="Listings", tasks=4, golden=["OK"] * 5, min_golden=3, overlap=2, golden_rate=0.2, min_seconds=1.0
    )
    worker = WorkerFactory()
    for task in golden_tasks(pool)[:3]:
        answer(worker, task, "Bad")
    answer(worker, regular_tasks(pool)[0], "OK", seconds=0.2)
    return pool, worker


def test_the_worker_sees_their_skill_and_the_reason_for_a_restriction():
    _, worker = restricted_worker()
    page = client_for(worker).get("/quality/").content.decode()
    restriction = Restriction.objects.get(worker=worker)
    assert "You get no more tasks from “Listings”" in page
    assert escape(restriction.reason) in page
    assert "(0 + 1) / (3 + 2) = 0.20" in page  # the figures, as arithmetic
    assert "Applied automatically" in page
    other = WorkerFactory()
    assert "No answers yet" in client_for(other).get("/quality/").content.decode()
    assert escape(restriction.reason) not in client_for(other).get("/quality/").content.decode()


def test_staff_pages_are_for_staff_only():
    pool, worker = restricted_worker()
    for user in (worker, RequesterFactory()):
        client = client_for(user)
        for url in (
            "/staff/quality/",
            f"/staff/quality/pools/{pool.pk}/",
            f"/staff/quality/workers/{worker.pk}/",
        ):
            assert client.get(url).status_code == 403
        assert (
            client.post(f"/staff/quality/workers/{worker.pk}/restrict/", {"reason": "x"}).status_code == 403
        )
    assert Client().get("/staff/quality/").status_code == 302  # to the login page


def test_staff_review_tables_and_the_worker_page():
    pool, worker = restricted_worker()
    good = cast(User, WorkerFactory())
    for task in golden_tasks(pool)[:3]:
        answer(good, task, "OK")
    answer(good, regular_tasks(pool)[0], "OK")
    pool_aggregate(pool=pool)
    staff = client_for(StaffFactory())
    overview = staff.get("/staff/quality/").content.decode()
    assert "Listings" in overview and worker.username in overview and good.username in overview
    # Lowest skill first: the restricted worker (0.20) before the good one ((3 + 1) / (4 + 2) after 3 + 0).
    assert overview.index(worker.username) < overview.index(good.username)
    pool_page = staff.get(f"/staff/quality/pools/{pool.pk}/").content.decode()
    assert "Results include every answer before" in pool_page
    assert "100%" in pool_page  # the good worker agrees with the aggregate on all 4 answers
    page = staff.get(f"/staff/quality/workers/{worker.pk}/").content.decode()
    assert 'class="heatmap"' in page and "true ↓ / given →" in page
    assert "by the golden-item rule" in page
    assert 'class="disagree"' in page  # their golden answers beside the true label
    assert '<span class="badge flag">fast</span>' in page  # the 0.2 s answer
    assert staff.get("/staff/quality/workers/999999/").status_code == 404


def test_staff_lift_and_impose_with_a_reason_through_the_pages():
    pool, worker = restricted_worker()
    staff_user = StaffFactory()
    staff = client_for(staff_user)
    restriction = Restriction.objects.get(worker=worker)
    refused = staff.post(f"/staff/quality/restrictions/{restriction.pk}/lift/", {"reason": ""}, follow=True)
    assert "Give a reason" in refused.content.decode()
    restriction.refresh_from_db()
    assert restriction.lifted_at is None
    staff.post(f"/staff/quality/restrictions/{restriction.pk}/lift/", {"reason": "Key was wrong on item 2."})
    restriction.refresh_from_db()
    assert restriction.lifted_by == staff_user and restriction.lift_reason == "Key was wrong on item 2."
    assert "Key was wrong on item 2." in client_for(worker).get("/quality/").content.decode()

    imposed = staff.post(
        f"/staff/quality/workers/{worker.pk}/restrict/",
        {"pool": pool.pk, "reason": "Same label on every task."},
        follow=True,
    )
    assert "is restricted from Listings" in imposed.content.decode()
    active = Restriction.objects.get(worker=worker, lifted_at__isnull=True)
    assert active.created_by == staff_user and active.reason == "Same label on every task."
    twice = staff.post(
        f"/staff/quality/workers/{worker.pk}/restrict/", {"pool": pool.pk, "reason": "again"}, follow=True
    )
    assert "Choose a pool" in twice.content.decode()  # a pool they are restricted from is not offered
    assert Restriction.objects.filter(worker=worker, lifted_at__isnull=True).count() == 1
    elsewhere = open_pool(tasks=10, golden_rate=0.2, name="Elsewhere")
    refused = staff.post(
        f"/staff/quality/workers/{worker.pk}/restrict/", {"pool": elsewhere.pk, "reason": "x"}
    )
    assert refused.status_code == 302 and Restriction.objects.filter(pool=elsewhere).count() == 0


def test_platform_wide_restriction_is_shown_to_the_worker():
    _, worker = restricted_worker()
    restriction_impose(
        worker=worker, pool=None, reason="Account under review for fraud.", staff=StaffFactory()
    )
    page = client_for(worker).get("/quality/").content.decode()
    assert "You are restricted from every pool" in page and "Account under review for fraud." in page
