"""The three journeys (worker, requester, staff) in a real browser, each step photographed into the `shots` folder.

a) a worker signs up, labels with the keyboard only, watches the balance grow and cashes out;
b) a requester signs up, is funded, creates a pool, uploads a CSV, opens it, watches it progress while simulated
   workers answer, and downloads the results;
c) staff restrict a worker with a reason, the worker appeals, staff uphold the appeal and the restriction is lifted.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from accounts.models import User
from fairness.models import Appeal
from payouts.models import Withdrawal
from payouts.services import deposit_create
from quality.models import Restriction
from tasks.models import Answer, Pool
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, StaffFactory, TaskFactory, WorkerFactory, fund
from workflows.assignments import assignment_next, assignment_submit
from workflows.pools import pool_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Quiet-harbour-2719"


def _signup(page, shots, *, username: str, role: str, shot: str) -> None:
    page.goto("/signup/")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.org")
    page.check(f"input[name=role][value={role}]")
    page.fill("#id_password1", NEW_PASSWORD)
    page.fill("#id_password2", NEW_PASSWORD)
    page.screenshot(path=shots / shot, full_page=True)
    page.click("button[type=submit]")
    page.wait_for_selector(f"text=Welcome, {username}.")


def _balance_is(page, prefix: str) -> None:
    page.wait_for_function(
        "prefix => document.querySelector('#balance').innerText.trim().startsWith(prefix)", arg=prefix
    )


def test_a_worker_signs_up_labels_with_the_keyboard_and_cashes_out(page, shots):
    pool = PoolFactory(
        name="Listings", reward=Decimal("0.50"), labels=["OK", "Restricted", "Prohibited"], overlap=1
    )
    for title in ["Oak dining table", "Hunting knife", "Replica watch", "Desk lamp"]:
        TaskFactory(pool=pool, data={"title": title, "price": "45.00 EUR"})
    fund(pool.requester, "20")
    pool_open(pool=pool)

    _signup(page, shots, username="wren", role="worker", shot="journey-a-1-signup.png")
    worker = User.objects.get(username="wren")
    assert worker.role == "worker"
    page.goto("/feed/")
    page.screenshot(path=shots / "journey-a-2-feed.png", full_page=True)
    page.click("text=Start")
    page.wait_for_selector(".label-btn")
    _balance_is(page, "0.00")
    page.screenshot(path=shots / "journey-a-3-annotator.png", full_page=True)

    # Keyboard only from here: 2, 1, S (skip), 3.
    first = page.inner_text(".task-data")
    page.keyboard.press("2")
    _balance_is(page, "0.50")
    assert page.inner_text(".task-data") != first
    page.screenshot(path=shots / "journey-a-4-first-answer.png", full_page=True)
    page.keyboard.press("1")
    _balance_is(page, "1.00")
    before_skip = page.inner_text(".task-data")
    page.keyboard.press("s")
    page.wait_for_function(
        "before => document.querySelector('.task-data') && "
        "document.querySelector('.task-data').innerText !== before",
        arg=before_skip,
    )
    page.keyboard.press("3")
    _balance_is(page, "1.50")
    page.wait_for_selector("text=No more tasks for you in this pool")
    page.screenshot(path=shots / "journey-a-5-done.png", full_page=True)
    assert sorted(Answer.objects.filter(worker=worker).values_list("label", flat=True)) == [
        "OK",
        "Prohibited",
        "Restricted",
    ]

    page.goto("/earnings/")
    assert page.inner_text("#earnings-available").startswith("1.50")
    page.screenshot(path=shots / "journey-a-6-earnings.png", full_page=True)
    page.fill("#cash-out-amount", "1.20")
    page.click("form.cash-out button[type=submit]")
    page.wait_for_selector("text=Cash-out of 1.20")
    page.wait_for_selector("[id^=withdrawal-]")
    page.screenshot(path=shots / "journey-a-7-cashed-out.png", full_page=True)
    withdrawal = Withdrawal.objects.get(worker=worker)
    assert withdrawal.amount == Decimal("1.20")
    assert page.inner_text("#earnings-available").startswith("0.30")
    _balance_is(page, "0.30")


def test_b_a_requester_signs_up_creates_a_pool_watches_it_fill_and_downloads_results(page, shots):
    """There is no self-service deposit page (money comes in with `manage.py deposit`), so the test funds the
    new requester with payouts.services.deposit_create, as that command does."""
    _signup(page, shots, username="rhea", role="requester", shot="journey-b-1-signup.png")
    requester = User.objects.get(username="rhea")
    assert requester.role == "requester"
    deposit_create(user=requester, amount=Decimal("25"))

    page.goto("/pools/new/")
    page.fill("#id_name", "Street signs")
    page.fill("#id_instructions", "Which sign is in the photo?")
    page.fill("#id_labels", "Stop\nYield\nSpeed limit")
    page.fill("#id_reward", "0.10")
    page.fill("#id_overlap", "2")
    page.fill("#id_golden_rate", "0")
    page.screenshot(path=shots / "journey-b-2-new-pool.png", full_page=True)
    page.click("text=Create pool")
    page.wait_for_url("**/pools/*/")
    pool = Pool.objects.get(requester=requester, name="Street signs")

    rows = [("external_id", "title"), *[(f"s{i}", f"Sign photo {i}") for i in range(1, 5)]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "signs.csv", "mimeType": "text/csv", "buffer": buffer.getvalue().encode()}],
    )
    page.click("text=Upload tasks")
    page.wait_for_selector("text=4 tasks imported from signs.csv")
    page.screenshot(path=shots / "journey-b-3-uploaded.png", full_page=True)
    page.click("text=Open pool")
    page.wait_for_selector("text=The pool is open")
    assert page.inner_text("#completed-count").replace(" ", "") == "0/4"
    page.screenshot(path=shots / "journey-b-4-open.png", full_page=True)

    # Simulated workers answer from the test thread; the pool page shows them between rounds.
    workers = WorkerFactory.create_batch(2)
    labels = ["Stop", "Yield", "Speed limit"]
    for round_, worker in enumerate(workers):
        for i in range(4):
            assignment = assignment_next(worker=worker, pool_id=pool.pk)
            assert assignment is not None
            assignment_submit(worker=worker, assignment_id=assignment.pk, answer=labels[i % 2])
        page.goto(f"/pools/{pool.pk}/")
        expected = "0/4" if round_ == 0 else "4/4"
        assert page.inner_text("#completed-count").replace(" ", "") == expected
        page.screenshot(path=shots / f"journey-b-5-progress-{round_ + 1}.png", full_page=True)
    page.goto("/pools/")
    assert "Street signs" in page.content()
    page.screenshot(path=shots / "journey-b-6-pool-list.png", full_page=True)

    page.goto(f"/pools/{pool.pk}/")
    with page.expect_download() as info:
        page.click(f"a[href='/pools/{pool.pk}/download/results/?format=csv']")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8") as file:
        results = list(csv.DictReader(file))
    assert len(results) == 4
    text = str(results)
    for i in range(1, 5):
        assert f"s{i}" in text
    assert {"Stop", "Yield"} <= {value for row in results for value in row.values()}


def test_c_staff_restrict_a_worker_who_appeals_and_staff_uphold_it(new_page, shots):
    pool = PoolFactory(name="Bird photos", reward=Decimal("0.05"), labels=["Bird", "No bird"], overlap=1)
    TaskFactory.create_batch(6, pool=pool)
    fund(pool.requester, "10")
    pool_open(pool=pool)
    worker = WorkerFactory(username="finch")
    staff = StaffFactory(username="sam")
    for _ in range(3):
        assignment = assignment_next(worker=worker, pool_id=pool.pk)
        assignment_submit(worker=worker, assignment_id=assignment.pk, answer="Bird")

    staff_page = new_page(viewport={"width": 1280, "height": 900})
    login(staff_page, staff.username, PASSWORD)
    staff_page.goto("/staff/quality/")
    staff_page.wait_for_selector(f"a[href='/staff/quality/workers/{worker.pk}/']")
    staff_page.screenshot(path=shots / "journey-c-1-staff-quality.png", full_page=True)
    staff_page.click(f"a[href='/staff/quality/workers/{worker.pk}/']")
    staff_page.wait_for_url(f"**/staff/quality/workers/{worker.pk}/")
    staff_page.screenshot(path=shots / "journey-c-2-worker-review.png", full_page=True)
    staff_page.select_option("#id_pool", str(pool.pk))
    reason = "Every answer is 'Bird', three in 4 seconds; the photos differ."
    staff_page.fill("#id_reason", reason)
    staff_page.click("button:has-text('Restrict')")
    staff_page.wait_for_selector(f"text={worker.username} is restricted from {pool.name}")
    staff_page.screenshot(path=shots / "journey-c-3-restricted.png", full_page=True)
    restriction = Restriction.objects.get(worker=worker, pool=pool)
    assert restriction.lifted_at is None
    assert assignment_next(worker=worker, pool_id=pool.pk) is None

    worker_page = new_page(viewport={"width": 1280, "height": 900})
    login(worker_page, worker.username, PASSWORD)
    worker_page.goto("/quality/")
    assert reason in worker_page.inner_text(f"#restriction-{restriction.pk}")
    worker_page.screenshot(path=shots / "journey-c-4-worker-sees-restriction.png", full_page=True)
    worker_page.goto("/decisions/")
    worker_page.wait_for_selector(".decision")
    assert reason in worker_page.inner_text(".decision .reason")
    worker_page.fill(".decision textarea", "I looked at each photo: all three show a bird, check them.")
    worker_page.screenshot(path=shots / "journey-c-5-appeal.png", full_page=True)
    worker_page.click("text=Send appeal")
    worker_page.wait_for_selector("text=waiting for a decision")

    staff_page.goto("/staff/fairness/appeals/")
    staff_page.wait_for_selector(".appeal-row")
    assert "all three show a bird" in staff_page.inner_text(".appeal-row")
    staff_page.screenshot(path=shots / "journey-c-6-staff-appeals.png", full_page=True)
    staff_page.fill(".appeal-row textarea", "Checked: they are birds. The restriction is lifted.")
    staff_page.click("text=Uphold: reverse the decision")
    staff_page.wait_for_selector("text=Appeal upheld")
    staff_page.screenshot(path=shots / "journey-c-7-upheld.png", full_page=True)

    restriction.refresh_from_db()
    assert restriction.lifted_at is not None
    assert Appeal.objects.get(decision__restriction_id=restriction.pk).status == "upheld"
    worker_page.goto("/decisions/")
    assert "reversed" in worker_page.inner_text(".decision h2")
    assert "Checked: they are birds." in worker_page.inner_text(".decision .response")
    worker_page.goto("/quality/")
    assert worker_page.locator(f"#restriction-{restriction.pk}").count() == 0
    worker_page.screenshot(path=shots / "journey-c-8-lifted.png", full_page=True)
    assert assignment_next(worker=worker, pool_id=pool.pk) is not None
