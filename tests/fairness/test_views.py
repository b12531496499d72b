"""The fair-work pages, as a person using them sees them."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from django.test import Client

from fairness.models import Appeal, Decision
from fairness.services import block_create, care_preferences_save, pools_pay_refresh
from tests.factories import PASSWORD, PoolFactory, StaffFactory, TaskFactory, WorkerFactory, fund, open_pool
from tests.fairness.util import answer, answers
from workflows.pools import pool_open
from workflows.reviews import answer_reject

pytestmark = pytest.mark.django_db


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_feed_shows_pay_colour_rating_acceptance_and_warning():
    pool = open_pool(tasks=30, reward="0.05", name="Street photos", content_warning="violence")
    seasoned = [WorkerFactory() for _ in range(3)]
    for person in seasoned:
        care_preferences_save(worker=person, categories=["violence"], daily_cap=10)
    answers(pool=pool, count=3, seconds=10, workers=seasoned)
    pools_pay_refresh()
    worker = WorkerFactory()
    page = browser_for(worker).get("/feed/").content.decode()
    assert "Street photos" not in page  # hidden until opted in
    care_preferences_save(worker=worker, categories=["violence"], daily_cap=10)
    page = browser_for(worker).get("/feed/").content.decode()
    assert "Street photos" in page and "⚠ Violence" in page
    assert 'class="pay-good">≈ 18.00 USD/h' in page and "paid at once" in page and "not rated yet" in page


def test_annotator_blurs_images_in_warned_pools_only(settings):
    settings.TASK_IMAGE_HOSTS = ["example.org"]
    plain = PoolFactory(labels=["OK", "Bad"])
    TaskFactory(pool=plain, data={"photo": "https://example.org/cat.jpg", "note": "http://x/y.txt"})
    warned = PoolFactory(labels=["OK", "Bad"], content_warning="hate")
    TaskFactory(pool=warned, data={"photo": "https://example.org/flyer.png?size=2"})
    for pool in (plain, warned):
        fund(pool.requester, "5")
        pool_open(pool=pool)
    worker = WorkerFactory()
    care_preferences_save(worker=worker, categories=["hate"], daily_cap=10)
    client = browser_for(worker)
    page = client.get(f"/work/?pool={plain.pk}").content.decode()
    assert (
        '<img class="task-image" src="https://example.org/cat.jpg"' in page and 'class="reveal"' not in page
    )
    assert "http://x/y.txt</dd>" in page  # not an image: stays text
    skip = client.post(f"/work/{plain.assignments.get().pk}/skip/")
    assert skip.status_code == 302
    page = client.get(f"/work/?pool={warned.pk}").content.decode()
    assert 'class="reveal"' in page and "Content warning: Hate" in page and "Click to show" in page


def test_worker_appeals_from_the_decisions_page():
    pool = open_pool(tasks=3, reward="0.05", acceptance="review")
    worker = WorkerFactory()
    given = answer(pool=pool, worker=worker, seconds=6)
    answer_reject(requester=pool.requester, answer_id=given.pk, reason="Not a lamp.")
    client = browser_for(worker)
    page = client.get("/decisions/").content.decode()
    assert "Not a lamp." in page and "Send appeal" in page
    decision = Decision.objects.get()
    client.post(f"/decisions/{decision.pk}/appeal/", {"message": "It is a lamp."})
    page = client.get("/decisions/").content.decode()
    assert "It is a lamp." in page and "waiting for a decision" in page and "Send appeal" not in page
    queue = browser_for(pool.requester).get("/appeals/").content.decode()
    assert "It is a lamp." in queue and str(worker.pseudonym) in queue and str(worker.username) not in queue
    browser_for(pool.requester).post(
        f"/appeals/{Appeal.objects.get().pk}/decide/", {"verdict": "uphold", "response": "Yes, a lamp."}
    )
    page = client.get("/decisions/").content.decode()
    assert "Yes, a lamp." in page and "reversed" in page


def test_requester_pool_page_says_why_a_pool_is_hidden_and_how_to_bring_it_back(settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = open_pool(tasks=40, reward="0.01")
    answers(pool=pool, count=20, seconds=9)
    pools_pay_refresh()
    client = browser_for(pool.requester)
    page = client.get(f"/pools/{pool.pk}/").content.decode()
    assert "This pool is hidden from workers" in page and "0.02</strong> or more clears it" in page
    response = client.post(f"/pools/{pool.pk}/reward/", {"reward": "0.02"}, follow=True)
    assert "back on the feed" in response.content.decode()
    overview = client.get("/fair-pay/").content.decode()
    assert "8.00/h" in overview and "hidden: below the floor" not in overview


def test_staff_pages_and_blocks():
    staff, worker = StaffFactory(), WorkerFactory(username="wanda")
    client = browser_for(staff)
    client.post("/staff/fairness/blocks/", {"username": "wanda", "reason": "Scripted answers on 3 pools."})
    assert Decision.objects.get(worker=worker).created_by == staff
    assert "Scripted answers" in client.get("/staff/fairness/blocks/").content.decode()
    assert "Scripted answers" in client.get("/staff/fairness/audit/?q=wanda").content.decode()
    assert "Nothing found" in client.get("/staff/fairness/audit/?q=nobody-here").content.decode()
    assert browser_for(worker).get("/staff/fairness/audit/").status_code == 403
    assert "Scripted answers on 3 pools." in browser_for(worker).get("/decisions/").content.decode()


def test_my_data_download_and_account_deletion():
    worker = WorkerFactory()
    client = Client()
    assert client.login(username=worker.username, password=PASSWORD)
    response = client.get("/me/data/export/")
    assert response["Content-Type"] == "application/zip"
    assert "answers.csv" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    wrong = client.post("/me/delete/", {"password": "nope"}, follow=True).content.decode()
    assert "That is not your password." in wrong
    client.post("/me/delete/", {"password": PASSWORD})
    worker.refresh_from_db()
    assert worker.username.startswith("deleted-") and not worker.is_active
    assert client.get("/decisions/").status_code == 302  # logged out


def test_blocked_worker_is_told_and_the_rating_page_needs_ten_answers():
    worker = WorkerFactory()
    block_create(staff=StaffFactory(), worker=worker, reason="Sharing an account.")
    assert "Sharing an account." in browser_for(worker).get("/decisions/").content.decode()
    assert "Nobody to rate yet" in browser_for(WorkerFactory()).get("/ratings/").content.decode()
