"""The Content-Security-Policy in a real browser: it blocks inline code, and the pages work under it.

Every browser test fails on a blocked script, style or image (tests/browser/conftest.py); these tests check that
the watch itself works, and look at the pages that depend most on scripts and styles, on a desktop and a phone.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, StaffFactory, TaskFactory, WorkerFactory, fund
from workflows import assignments as assignments_flow
from workflows import pools as pools_flow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


def test_inline_code_is_blocked_and_reported(new_page):
    page = new_page()
    response = page.goto("/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    page.evaluate(
        """() => document.body.insertAdjacentHTML('beforeend',
            '<img src="https://tracker.example/pixel.gif" onerror="window.ran = 1">' +
            '<p id="styled" style="color: rgb(255, 0, 0)">red?</p>')"""
    )
    page.wait_for_function("() => true")  # let the browser report
    time.sleep(0.3)
    assert page.evaluate("() => window.ran") is None
    assert (
        page.evaluate("() => getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    )
    blocked = " ".join(new_page.violations)
    assert "img-src" in blocked and "tracker.example" in blocked
    assert "script-src" in blocked and "style-src" in blocked
    new_page.violations.clear()  # seen on purpose: the test passes


def _answer_in_background(pool_id: int, workers: list, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        try:
            for worker in workers:
                if stop.is_set():
                    return
                assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool_id)
                if assignment is not None:
                    assignments_flow.assignment_submit(
                        worker=worker, assignment_id=assignment.pk, answer="OK"
                    )
                time.sleep(0.3)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_annotator_and_dashboard_work_under_the_policy(new_page, shots, device):
    options = PHONE if device == "phone" else {}
    pool = PoolFactory(name="Listings", labels=["OK", "Counterfeit"])
    TaskFactory.create_batch(12, pool=pool, data={"title": "Brass desk lamp", "price": "12 EUR"})
    fund(pool.requester, "50")
    pools_flow.pool_open(pool=pool)

    worker = WorkerFactory()
    annotator = new_page(**options)
    login(annotator, worker.username, PASSWORD)
    response = annotator.goto(f"/work/?pool={pool.pk}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    annotator.wait_for_selector(".label-btn")
    first = annotator.inner_text(".task-data")
    annotator.keyboard.press("1")  # the keyboard shortcut: static/annotator.js
    annotator.wait_for_function(
        "() => !document.querySelector('#balance').innerText.trim().startsWith('0.00')"
    )
    balance = annotator.inner_text("#balance")
    annotator.click(".label-btn >> nth=1")  # a tap or click submits through htmx
    annotator.wait_for_function(
        "before => document.querySelector('#balance').innerText !== before", arg=balance
    )
    assert annotator.evaluate("() => performance.getEntriesByType('navigation').length") == 1, "no reload"
    assert worker.answers.count() == 2 and first
    annotator.screenshot(path=shots / f"csp-annotator-{device}.png", full_page=True)

    requester_page = new_page(**options)
    login(requester_page, pool.requester.username, PASSWORD)
    requester_page.goto(f"/pools/{pool.pk}/")
    requester_page.wait_for_selector("#pool-charts svg")
    before = int(requester_page.get_attribute("#pool-progress-bar", "aria-valuenow"))
    stop = threading.Event()
    thread = _answer_in_background(pool.pk, [WorkerFactory() for _ in range(6)], stop)
    try:
        requester_page.wait_for_function(
            f"() => Number(document.querySelector('#pool-progress-bar')"
            f".getAttribute('aria-valuenow')) > {before}",
            timeout=20_000,
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    # The bar is drawn to its share without an inline style: the SVG rect's width follows aria-valuenow.
    share = requester_page.evaluate(
        """() => {
            const bar = document.querySelector('#pool-progress-bar');
            return bar.querySelector('rect').getBoundingClientRect().width / bar.getBoundingClientRect().width;
        }"""
    )
    percent = int(requester_page.get_attribute("#pool-progress-bar", "aria-valuenow"))
    assert abs(share * 100 - percent) < 2
    assert requester_page.locator("#pool-charts svg").count() == 4
    requester_page.screenshot(path=shots / f"csp-pool-page-{device}.png", full_page=True)


def test_staff_pages_and_api_docs_render_under_their_policy(new_page, shots):
    staff = StaffFactory()
    page = new_page()
    login(page, staff.username, PASSWORD)
    page.goto("/staff/quality/")
    page.wait_for_selector("h1")
    page.goto("/admin/accounts/user/")
    page.wait_for_selector("#changelist")
    page.goto(f"/admin/accounts/user/{staff.pk}/change/")
    page.wait_for_selector("#user_form")
    response = page.goto("/api/docs/")
    assert (
        "unsafe-inline" in response.headers["content-security-policy"]
    )  # Redoc's own styles, this page only
    page.wait_for_selector("text=Fairlabel API", timeout=30_000)
    page.wait_for_selector("[role=navigation], .menu-content", timeout=30_000)
    page.screenshot(path=shots / "csp-api-docs.png")
    # Redoc's "API docs by Redocly" link shows its logo from Redocly's CDN: the policy keeps that request from
    # leaving the browser, which is what it is for; nothing else may be blocked.
    branding = [v for v in new_page.violations if v.startswith("img-src blocked https://cdn.redoc.ly/")]
    assert len(branding) == len(new_page.violations)
    new_page.violations.clear()
