"""The first loop in a real browser: a worker labels with the keyboard, a requester watches and downloads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tasks.models import Answer
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, TaskFactory, WorkerFactory, fund
from workflows.pools import pool_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_worker_labels_with_the_keyboard_and_sees_the_balance_grow(page, shots):
    pool = PoolFactory(
        name="Listings", reward=Decimal("0.05"), labels=["OK", "Restricted", "Prohibited"], overlap=1
    )
    for title in ["Oak dining table", "Hunting knife", "Replica watch"]:
        TaskFactory(pool=pool, data={"title": title, "price": "45.00 EUR"})
    fund(pool.requester, "10")
    pool_open(pool=pool)
    worker = WorkerFactory()
    login(page, worker.username, PASSWORD)
    page.goto("/feed/")
    page.screenshot(path=shots / "foundation-1-feed.png", full_page=True)
    page.click("text=Start")
    page.wait_for_selector(".label-btn")
    page.screenshot(path=shots / "foundation-2-annotator.png", full_page=True)
    first_task = page.inner_text(".task-data")
    page.keyboard.press("2")
    page.wait_for_selector("#notice:has-text('Saved')")
    assert page.inner_text("#balance").startswith("0.05")
    assert page.inner_text(".task-data") != first_task
    page.keyboard.press("1")
    page.wait_for_function("() => document.querySelector('#balance').innerText.startsWith('0.10')")
    page.keyboard.press("s")
    page.wait_for_selector("text=No more tasks for you in this pool")
    page.screenshot(path=shots / "foundation-3-done.png", full_page=True)
    assert sorted(Answer.objects.filter(worker=worker).values_list("label", flat=True)) == [
        "OK",
        "Restricted",
    ]


def test_requester_pool_page(page, shots):
    pool = PoolFactory(name="Marketplace moderation", reward=Decimal("0.03"), overlap=3, golden_rate=0.1)
    TaskFactory.create_batch(20, pool=pool)
    TaskFactory.create_batch(2, pool=pool, golden_label="OK")
    fund(pool.requester, "20")
    pool.requester.set_password(PASSWORD)
    pool.requester.save()
    login(page, pool.requester.username, PASSWORD)
    page.goto(f"/pools/{pool.pk}/")
    page.screenshot(path=shots / "foundation-4-pool-draft.png", full_page=True)
    page.click("text=Open pool")
    page.wait_for_selector("text=The pool is open")
    page.screenshot(path=shots / "foundation-5-pool-open.png", full_page=True)
    page.goto("/pools/")
    assert "Marketplace moderation" in page.content()
