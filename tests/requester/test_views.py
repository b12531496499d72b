from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.test import Client

from tasks.models import Pool, PoolStatus, Task
from tests.factories import PoolFactory, RequesterFactory, TaskFactory, fund

pytestmark = pytest.mark.django_db


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_requester_creates_uploads_opens_and_downloads():
    requester = RequesterFactory()
    fund(requester, "50")
    client = browser_for(requester)
    response = client.post(
        "/pools/new/",
        {
            "name": "Photos",
            "instructions": "Look",
            "labels": "Cat\nDog\n",
            "reward": "0.02",
            "overlap": 2,
            "priority": 50,
            "golden_rate": 0.1,
            "assignment_ttl": 600,
        },
    )
    pool = Pool.objects.get(name="Photos")
    assert response.status_code == 302 and pool.labels == ["Cat", "Dog"]
    csv = io.BytesIO(b"url,golden\nhttp://x/1.jpg,\nhttp://x/2.jpg,Cat\n")
    csv.name = "photos.csv"
    page = client.post(f"/pools/{pool.pk}/upload/", {"file": csv}, follow=True).content.decode()
    assert "2 tasks imported" in page
    assert "Opening reserves" in page
    page = client.post(f"/pools/{pool.pk}/open/", follow=True).content.decode()
    assert "The pool is open" in page
    pool.refresh_from_db()
    assert pool.status == PoolStatus.OPEN
    download = client.get(f"/pools/{pool.pk}/download/results/?format=csv")
    assert download["Content-Disposition"] == f'attachment; filename="pool-{pool.pk}-results.csv"'
    assert b"".join(download.streaming_content).startswith(
        b"task_id,external_id,label,answer,confidence,calibration,answers"
    )
    assert client.get(f"/pools/{pool.pk}/download/secrets/").status_code == 404


def test_bad_upload_shows_the_row_and_imports_nothing():
    requester = RequesterFactory()
    pool = PoolFactory(requester=requester, labels=["Cat", "Dog"])
    csv = io.BytesIO(b"url,golden\nhttp://x/1.jpg,\nhttp://x/2.jpg,Horse\n")
    csv.name = "photos.csv"
    page = (
        browser_for(requester).post(f"/pools/{pool.pk}/upload/", {"file": csv}, follow=True).content.decode()
    )
    assert "Row 2" in page and "Nothing was imported" in page
    assert not Task.objects.exists()


def test_opening_without_funds_says_how_much_is_missing():
    requester = RequesterFactory()
    pool = PoolFactory(requester=requester, reward=Decimal("1"))
    TaskFactory(pool=pool)
    page = browser_for(requester).post(f"/pools/{pool.pk}/open/", follow=True).content.decode()
    assert "Deposit 1.10 more" in page


def test_requester_sees_and_regenerates_the_api_token():
    requester = RequesterFactory()
    client = browser_for(requester)
    old = requester.auth_token.key
    assert old in client.get("/account/token/").content.decode()
    client.post("/account/token/regenerate/")
    requester.refresh_from_db()
    assert requester.auth_token.key != old


def test_the_pool_form_creates_a_pool_of_another_task_type_with_its_options():
    client = browser_for(RequesterFactory())
    base = {
        "name": "Policies",
        "reward": "0.02",
        "overlap": 3,
        "priority": 50,
        "golden_rate": 0.1,
        "assignment_ttl": 600,
        "task_type": "multi_choice",
    }
    refused = client.post("/pools/new/", {**base, "labels": "", "golden_share": "2"})
    assert refused.status_code == 200 and not Pool.objects.exists()
    page = refused.content.decode()
    assert (
        "Enter at least 1 labels" in page
        and "Golden match that counts as correct (several labels, boxes) must be more than 0 and at most 1"
        in page
    )
    created = client.post("/pools/new/", {**base, "labels": "Adult\nCounterfeit\n", "golden_share": "0.5"})
    assert created.status_code == 302
    pool = Pool.objects.get()
    assert (pool.task_type, pool.labels, pool.options) == (
        "multi_choice",
        ["Adult", "Counterfeit"],
        {"golden_share": 0.5},
    )
