"""The annotator with a keyboard, a screen reader's focus, a slow or broken network and an ended session."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session

from tasks.models import Answer
from tests.browser.conftest import login
from tests.factories import PASSWORD, PoolFactory, TaskFactory, WorkerFactory, fund
from workflows.assignments import assignment_next
from workflows.pools import pool_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pool(name: str, titles: list[str]):
    pool = PoolFactory(
        name=name,
        reward=Decimal("0.05"),
        labels=["OK", "Restricted"],
        overlap=1,
        instructions="Decide whether the listing may stay up.",
    )
    for title in titles:
        TaskFactory(pool=pool, data={"title": title})
    fund(pool.requester, "10")
    return pool_open(pool=pool)


@pytest.fixture
def worker():
    return WorkerFactory()


@pytest.fixture
def listings():
    return _pool("Listings", ["Oak table", "Desk lamp", "Sofa", "Kettle"])


def _annotate(page, worker, pool) -> None:
    login(page, worker.username, PASSWORD)
    page.goto(f"/work/?pool={pool.pk}")
    page.wait_for_selector(".label-btn")


def _answers(worker) -> list[str]:
    return list(Answer.objects.filter(worker=worker).order_by("pk").values_list("label", flat=True))


def test_after_an_answer_focus_is_on_the_new_task_the_label_is_named_and_nothing_moves(
    page, shots, worker, listings
):
    _annotate(page, worker, listings)
    assert page.inner_text("h1#task-heading") == "Listings"
    first = page.locator(".label-btn").first.bounding_box()
    page.keyboard.press("2")
    page.wait_for_selector("#notice:has-text('Saved “Restricted”')")
    assert "+0.05 USD earned" in page.inner_text("#notice")
    # Focus moves once the new task has settled, a moment after the notice shows.
    page.wait_for_function("document.activeElement.id === 'task-heading'", timeout=5000)
    assert page.locator(".label-btn").first.bounding_box()["y"] == first["y"]
    # A screen reader hears what was saved: the page's own live region says it.
    assert "Saved “Restricted”" in page.inner_text("#announce")
    page.screenshot(path=shots / "annotator-1-after-answer.png", full_page=True)
    # From the heading, one Tab reaches the task, not the top bar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#task') !== null")
    assert _answers(worker) == ["Restricted"]


def test_instructions_stay_open_from_one_task_to_the_next(page, worker, listings):
    _annotate(page, worker, listings)
    assert not page.eval_on_selector("details.instructions", "d => d.open")
    page.click("details.instructions summary")
    page.click(".label-btn[data-key='1']")
    page.wait_for_selector("#notice:has-text('Saved “OK”')")
    assert page.eval_on_selector("details.instructions", "d => d.open")
    page.reload()
    assert page.eval_on_selector("details.instructions", "d => d.open")


def test_shortcuts_do_not_fire_from_a_link_and_a_setting_turns_them_off(page, worker, listings):
    _annotate(page, worker, listings)
    page.focus("header a[href='/earnings/']")
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    assert _answers(worker) == []
    assert page.url.endswith(f"/work/?pool={listings.pk}")

    page.uncheck("#shortcuts-toggle")
    assert not page.is_visible(".label-btn kbd")
    page.focus("h1#task-heading")
    page.keyboard.press("1")
    page.keyboard.press("s")
    page.wait_for_timeout(300)
    assert _answers(worker) == []
    # The setting is kept: after a reload the keys still do nothing until it is turned back on.
    page.reload()
    assert not page.is_checked("#shortcuts-toggle")
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    assert _answers(worker) == []
    page.check("#shortcuts-toggle")
    page.focus("h1#task-heading")
    page.keyboard.press("1")
    page.wait_for_selector("#notice:has-text('Saved “OK”')")
    assert _answers(worker) == ["OK"]


def test_a_slow_answer_shows_work_and_a_failed_one_says_it_was_not_saved(page, shots, worker, listings):
    _annotate(page, worker, listings)
    task_text = page.inner_text(".task-data")
    top = page.locator(".label-btn").first.bounding_box()["y"]
    held = {"route": None}
    page.route("**/work/*/submit/", lambda route: held.update(route=route))
    page.click(".label-btn[data-key='1']")
    page.wait_for_function("() => document.querySelector('#task').getAttribute('aria-busy') === 'true'")
    assert page.eval_on_selector_all("form.labels button", "bs => bs.every(b => b.disabled)")
    assert page.is_visible("text=Saving…")
    page.screenshot(path=shots / "annotator-2-saving.png", full_page=True)
    held["route"].abort("internetdisconnected")
    page.wait_for_selector("#notice.task-error:has-text('Not saved: the connection failed')")
    assert page.locator(".label-btn").first.bounding_box()["y"] == top
    assert page.eval_on_selector_all("form.labels button", "bs => bs.every(b => !b.disabled)")
    assert page.inner_text(".task-data") == task_text
    page.screenshot(path=shots / "annotator-3-not-saved.png", full_page=True)

    # A server error shows a sentence, never the server's error page inside the task.
    page.unroute("**/work/*/submit/")
    page.route(
        "**/work/*/submit/",
        lambda route: route.fulfill(status=500, body="<h1>Traceback (most recent call last)</h1>"),
    )
    page.click(".label-btn[data-key='2']")
    page.wait_for_selector("#notice.task-error:has-text('error 500')")
    assert "Traceback" not in page.inner_text("main")
    assert _answers(worker) == []

    # Once the network is back the same task is answered as usual.
    page.unroute("**/work/*/submit/")
    page.click(".label-btn[data-key='2']")
    page.wait_for_selector("#notice:has-text('Saved “Restricted”')")
    assert page.locator("#notice.task-error").count() == 0
    assert _answers(worker) == ["Restricted"]


def test_an_ended_session_sends_the_worker_to_log_in_and_back_to_the_annotator(page, worker, listings):
    _annotate(page, worker, listings)
    Session.objects.all().delete()
    page.click(".label-btn[data-key='1']")
    page.wait_for_url("**/login/**")
    assert "Traceback" not in page.content() and page.locator("header").count() == 1
    page.fill("#id_username", worker.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/work/?pool={listings.pk}")
    page.wait_for_selector(".label-btn")
    assert _answers(worker) == []


def test_the_chosen_pool_running_out_is_said_and_no_other_pool_is_served_silently(page, shots, worker):
    chosen = _pool("Chosen", ["Only task"])
    other = _pool("Other", ["Somewhere else"])
    _annotate(page, worker, chosen)
    page.keyboard.press("1")
    page.wait_for_selector("text=No more tasks for you in this pool")
    assert page.is_visible("a:has-text('Back to the pools')")
    assert not page.is_visible(".label-btn")
    page.screenshot(path=shots / "annotator-4-pool-done.png", full_page=True)
    page.click("a:has-text('A task from any pool')")
    page.wait_for_selector("h1#task-heading:has-text('Other')")
    assert _answers(worker) == ["OK"] and other.tasks.count() == 1


def test_a_task_held_in_another_pool_is_named_before_the_chosen_pool_follows(page, worker):
    chosen = _pool("Chosen", ["Chosen task"])
    other = _pool("Other", ["Held task"])
    held = assignment_next(worker=worker, pool_id=other.pk)
    assert held is not None
    _annotate(page, worker, chosen)
    assert page.inner_text("h1#task-heading") == "Other"
    assert page.is_visible("#held-elsewhere")
    page.keyboard.press("1")
    page.wait_for_selector("h1#task-heading:has-text('Chosen')")
    assert not page.is_visible("#held-elsewhere")
