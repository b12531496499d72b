"""Quality in a real browser: a worker who misses the golden items is restricted and reads why; staff review
the worker (confusion heat map, answers beside the consensus) and lift the restriction with a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quality.models import Restriction
from quality.services import pool_aggregate
from tasks.models import Answer
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, StaffFactory, TaskFactory, WorkerFactory, fund
from workflows.pools import pool_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_worker_restricted_for_missing_golden_items_reads_the_reason_and_staff_lift_it(
    new_page, page, shots
):
    pool = PoolFactory(
        name="Marketplace listings",
        reward=Decimal("0.05"),
        labels=["OK", "Prohibited"],
        overlap=2,
        golden_rate=0.5,  # every other task is golden, so two come quickly
        min_golden=2,
        min_skill=0.7,
    )
    for title in ["Oak table", "Hunting knife", "Replica watch", "Bike", "Lamp", "Sofa", "Kettle", "Desk"]:
        TaskFactory(pool=pool, data={"title": title})
    for title in ["Used phone", "Garden chair", "Rice cooker", "Bookshelf"]:
        TaskFactory(pool=pool, data={"title": title}, golden_label="OK")
    fund(pool.requester, "20")
    pool_open(pool=pool)
    worker = WorkerFactory(username="dana")
    login(page, worker.username, PASSWORD)
    page.goto(f"/work/?pool={pool.pk}")
    # Dana answers "Prohibited" to everything: every golden item (all "OK") is missed.
    for _ in range(12):
        page.wait_for_selector(".label-btn, .empty")
        if page.locator(".empty").count():
            break
        action = page.get_attribute("form.labels", "action")
        page.keyboard.press("2")
        page.wait_for_function(
            "(action) => !document.querySelector('form.labels') "
            "|| document.querySelector('form.labels').getAttribute('action') !== action",
            arg=action,
        )
    page.wait_for_selector("text=No more tasks for you in this pool")
    page.screenshot(path=shots / "quality-1-no-more-tasks.png", full_page=True)
    restriction = Restriction.objects.get(worker=worker, pool=pool)
    assert restriction.figures["golden_answered"] == 2 and restriction.figures["golden_correct"] == 0
    assert Answer.objects.filter(worker=worker, is_golden=True).count() == 2

    page.goto("/quality/")
    card = page.locator(f"#restriction-{restriction.pk}")
    assert "You get no more tasks from “Marketplace listings”" in card.inner_text()
    assert "You answered 0 of 2 golden (known-answer) items correctly" in card.inner_text()
    assert "(0 + 1) / (2 + 2) = 0.25" in card.inner_text()
    page.screenshot(path=shots / "quality-2-worker-restricted.png", full_page=True)

    # Staff: the review, the worker's page with the heat map, and a lift with a reason.
    for helper in (WorkerFactory(), WorkerFactory()):
        from tests.quality.helpers import answer

        for task in pool.tasks.filter(golden_label__isnull=True).exclude(answers__worker=worker)[:3]:
            answer(helper, task, "OK")
    pool_aggregate(pool=pool)
    staff = StaffFactory(username="sam")
    staff_page = new_page(viewport={"width": 1280, "height": 900})
    login(staff_page, staff.username, PASSWORD)
    staff_page.goto("/staff/quality/")
    assert "dana" in staff_page.locator("#workers").inner_text()
    staff_page.screenshot(path=shots / "quality-3-staff-overview.png", full_page=True)
    staff_page.click("text=dana")
    staff_page.wait_for_selector("table.heatmap")
    assert "Prohibited" in staff_page.locator("table.heatmap").first.inner_text()
    assert staff_page.locator("#recent .disagree").count() >= 2
    staff_page.screenshot(path=shots / "quality-4-staff-worker.png", full_page=True)
    staff_page.fill(
        f"#restriction-{restriction.pk} textarea", "Golden item 'Used phone' had an ambiguous key."
    )
    staff_page.click(f"#restriction-{restriction.pk} button")
    staff_page.wait_for_selector("text=Restriction lifted")
    staff_page.close()

    page.goto("/quality/")
    assert "ambiguous key" in page.locator("#history").inner_text()
    assert page.locator(f"#restriction-{restriction.pk}").count() == 0
    # A fresh start: the skill rule counts golden answers given after the lift.
    skills = page.locator("#skills").inner_text()
    assert "counted since your restriction was lifted" in skills and "(0 + 1) / (0 + 2) = 0.50" in skills
    page.screenshot(path=shots / "quality-5-worker-lifted.png", full_page=True)
