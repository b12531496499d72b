"""Fair work in a real browser: a worker appeals a rejection and staff give the money back; the data export."""

from __future__ import annotations

import csv
import io
import json
import struct
import zipfile
import zlib
from decimal import Decimal

import pytest

from fairness.services import care_preferences_save, pools_pay_refresh
from tasks.models import Answer
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, StaffFactory, TaskFactory, WorkerFactory, fund
from workflows.assignments import assignment_next, assignment_submit
from workflows.pools import pool_open
from workflows.reviews import answer_reject

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _png(width: int = 360, height: int = 200) -> bytes:
    """A small striped PNG, so the blurred image in the screenshot is a real picture."""
    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes((x % 256, (y * 2) % 256, 160 if (x // 30 + y // 30) % 2 else 40)) for x in range(width)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _review_pool(**extra):
    pool = PoolFactory(
        name="Lamp listings", reward=Decimal("0.05"), labels=["Lamp", "Chair"], acceptance="review", **extra
    )
    for title in ["Brass desk lamp", "Oak chair", "Floor lamp"]:
        TaskFactory(pool=pool, data={"title": title})
    fund(pool.requester, "10")
    return pool_open(pool=pool)


def _answered_and_rejected(worker, pool):
    assignment = assignment_next(worker=worker, pool_id=pool.pk)
    given = assignment_submit(worker=worker, assignment_id=assignment.pk, answer="Lamp")
    answer_reject(
        requester=pool.requester, answer_id=given.pk, reason="This listing shows a chair, not a lamp."
    )
    return given


def test_worker_appeals_a_rejection_and_staff_uphold_it_and_the_money_comes_back(new_page, shots):
    pool = _review_pool()
    worker = WorkerFactory(username="ada")
    staff = StaffFactory(username="sam")
    given = _answered_and_rejected(worker, pool)

    worker_page = new_page(viewport={"width": 1280, "height": 900})
    login(worker_page, worker.username, PASSWORD)
    worker_page.goto("/decisions/")
    worker_page.wait_for_selector(".decision")
    assert "This listing shows a chair, not a lamp." in worker_page.inner_text(".decision .reason")
    assert worker_page.inner_text("#balance").startswith("0.00")
    worker_page.screenshot(path=shots / "fairness-1-decision.png", full_page=True)
    worker_page.fill(".decision textarea", "The photo is a brass desk lamp; the title says so too.")
    worker_page.click("text=Send appeal")
    worker_page.wait_for_selector("text=waiting for a decision")
    worker_page.screenshot(path=shots / "fairness-2-appealed.png", full_page=True)

    staff_page = new_page(viewport={"width": 1280, "height": 900})
    login(staff_page, staff.username, PASSWORD)
    staff_page.goto("/staff/fairness/appeals/")
    staff_page.wait_for_selector(".appeal-row")
    row = staff_page.inner_text(".appeal-row")
    assert "The photo is a brass desk lamp" in row and worker.pseudonym in row and "Rejected" in row
    staff_page.screenshot(path=shots / "fairness-3-staff-queue.png", full_page=True)
    staff_page.fill(".appeal-row textarea", "Checked the photo: it is a lamp. The rejection is reversed.")
    staff_page.click("text=Uphold: reverse the decision and pay the answer")
    staff_page.wait_for_selector("text=Appeal upheld")
    staff_page.goto(f"/staff/fairness/audit/?q={worker.username}")
    assert "Appeal upheld by sam" in staff_page.inner_text("#audit")
    staff_page.screenshot(path=shots / "fairness-4-audit.png", full_page=True)

    worker_page.goto("/decisions/")
    assert "Checked the photo: it is a lamp." in worker_page.inner_text(".decision .response")
    assert "reversed" in worker_page.inner_text(".decision h2")
    assert worker_page.inner_text("#balance").startswith("0.05")  # the money came back
    worker_page.screenshot(path=shots / "fairness-5-upheld.png", full_page=True)
    given.refresh_from_db()
    assert given.status == "accepted"


def test_worker_downloads_their_data_and_it_holds_their_answers(page, shots):
    pool = PoolFactory(name="Listings", reward=Decimal("0.04"), labels=["OK", "Bad"])
    TaskFactory.create_batch(2, pool=pool)
    fund(pool.requester, "10")
    pool_open(pool=pool)
    worker = WorkerFactory(username="grace", email="grace@example.org")
    for label in ["OK", "Bad"]:
        assignment = assignment_next(worker=worker, pool_id=pool.pk)
        assignment_submit(worker=worker, assignment_id=assignment.pk, answer=label)
    login(page, worker.username, PASSWORD)
    page.goto("/me/data/")
    page.screenshot(path=shots / "fairness-6-my-data.png", full_page=True)
    with page.expect_download() as info:
        page.click("#export")
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    with open(download.path(), "rb") as file:
        archive = zipfile.ZipFile(io.BytesIO(file.read()))
    profile = json.loads(archive.read("profile.json"))
    assert profile["username"] == "grace" and profile["email"] == "grace@example.org"
    rows = list(csv.DictReader(io.StringIO(archive.read("answers.csv").decode())))
    assert sorted(r["label"] for r in rows) == ["Bad", "OK"]
    assert {r["pool_id"] for r in rows} == {str(pool.pk)} and {r["reward"] for r in rows} == {"0.04"}
    assert sorted(r["task_id"] for r in rows) == sorted(
        str(t) for t in Answer.objects.filter(worker=worker).values_list("task_id", flat=True)
    )
    earnings = list(csv.DictReader(io.StringIO(archive.read("earnings.csv").decode())))
    assert [e["amount"] for e in earnings] == ["0.04", "0.04"]
    data = json.loads(archive.read("data.json"))
    assert len(data["answers"]) == 2 and data["profile"]["pseudonym"] == worker.pseudonym


def test_feed_and_annotator_with_care_and_the_pay_floor(page, shots, settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    fair = PoolFactory(name="Product photos", reward=Decimal("0.05"), labels=["OK", "Bad"])
    TaskFactory.create_batch(5, pool=fair)
    warned = PoolFactory(
        name="Reported images",
        reward=Decimal("0.08"),
        labels=["Allowed", "Remove"],
        content_warning="violence",
    )
    settings.TASK_IMAGE_HOSTS = ["images.example.org"]  # the operator allows the team's image host
    # The browser gets the image from the test itself, so nothing leaves the machine.
    page.route("**/reported.png", lambda route: route.fulfill(body=_png(), content_type="image/png"))
    for _ in range(3):
        TaskFactory(
            pool=warned,
            data={"image": "https://images.example.org/reported.png", "caption": "A reported post"},
        )
    for pool in (fair, warned):
        fund(pool.requester, "20")
        pool_open(pool=pool)
    others = [WorkerFactory() for _ in range(3)]
    for other in others:
        assignment = assignment_next(worker=other, pool_id=fair.pk)
        assignment_submit(worker=other, assignment_id=assignment.pk, answer="OK")
    Answer.objects.filter(pool=fair).update(duration_ms=12_000)  # 15.00/h
    pools_pay_refresh()
    worker = WorkerFactory()
    care_preferences_save(worker=worker, categories=["violence"], daily_cap=5)
    login(page, worker.username, PASSWORD)
    page.goto("/feed/")
    page.wait_for_selector("#feed")
    feed = page.inner_text("#feed")
    assert (
        "Product photos" in feed
        and "15.00 USD/h" in feed
        and "Reported images" in feed
        and "Violence" in feed
    )
    page.screenshot(path=shots / "fairness-7-feed.png", full_page=True)
    page.goto(f"/work/?pool={warned.pk}")
    page.wait_for_selector(".reveal")
    blur = page.eval_on_selector(".reveal img", "img => getComputedStyle(img).filter")
    assert "blur" in blur
    page.screenshot(path=shots / "fairness-8-blurred.png", full_page=True)
    page.click(".reveal")
    page.wait_for_function("() => getComputedStyle(document.querySelector('.reveal img')).filter === 'none'")
    page.screenshot(path=shots / "fairness-9-revealed.png", full_page=True)


def test_requester_learns_why_a_pool_left_the_feed_and_raises_the_reward(page, shots, settings):
    settings.MIN_HOURLY_PAY = Decimal("8.00")
    pool = PoolFactory(name="Receipts", reward=Decimal("0.01"), labels=["Food", "Other"])
    TaskFactory.create_batch(30, pool=pool)
    fund(pool.requester, "10")
    pool_open(pool=pool)
    for _ in range(20):
        other = WorkerFactory()
        assignment = assignment_next(worker=other, pool_id=pool.pk)
        assignment_submit(worker=other, assignment_id=assignment.pk, answer="Food")
    Answer.objects.filter(pool=pool).update(duration_ms=9_000)  # 4.00/h
    pools_pay_refresh()
    login(page, pool.requester.username, PASSWORD)
    page.goto(f"/pools/{pool.pk}/")
    notice = page.inner_text("#pool-pay")
    assert (
        "This pool is hidden from workers" in notice and "4.00 USD/h" in notice and "0.02 or more" in notice
    )
    page.screenshot(path=shots / "fairness-10-pool-below-floor.png", full_page=True)
    page.click("#pool-pay button")
    page.wait_for_selector("text=back on the feed")
    assert "8.00 USD/h" in page.inner_text("#pool-pay")
    page.screenshot(path=shots / "fairness-11-pool-raised.png", full_page=True)
    page.goto("/fair-pay/")
    page.screenshot(path=shots / "fairness-12-fair-pay.png", full_page=True)


def test_worker_sees_their_skill_explained_and_the_golden_items_they_missed(page, shots):
    pool = PoolFactory(name="Spam or not", reward=Decimal("0.03"), labels=["Spam", "Fine"], golden_rate=0.5)
    TaskFactory.create_batch(4, pool=pool, data={"text": "Win a free phone now"})
    TaskFactory.create_batch(4, pool=pool, golden_label="Spam", data={"text": "Claim your prize, click here"})
    fund(pool.requester, "10")
    pool_open(pool=pool)
    worker = WorkerFactory()
    while (assignment := assignment_next(worker=worker, pool_id=pool.pk)) is not None:
        assignment_submit(worker=worker, assignment_id=assignment.pk, answer="Fine")
    from workflows.pools import pool_close

    pool_close(pool=pool)
    missed = Answer.objects.filter(worker=worker, is_golden=True, correct=False).count()
    assert missed >= 1
    login(page, worker.username, PASSWORD)
    page.goto("/skill/")
    skills = page.inner_text("#skills")
    assert "Spam or not" in skills and f"0 / {missed}" in skills and f"(0 + 1) / ({missed} + 2)" in skills
    rows = page.inner_text("#missed")
    assert "Claim your prize" in rows and "Spam" in rows and "Fine" in rows
    page.screenshot(path=shots / "fairness-13-skill.png", full_page=True)
    page.goto("/care/")
    page.check("input[value=violence]")
    page.fill("#daily_cap", "12")
    page.click("text=Save")
    page.wait_for_selector("text=Saved.")
    assert page.is_checked("input[value=violence]") and page.input_value("#daily_cap") == "12"
    page.screenshot(path=shots / "fairness-14-care.png", full_page=True)
