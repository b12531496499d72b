"""The staff quality pages of a pool of each task type in Chromium: the type's golden figures, no WCAG 2.1 A/AA
problem, a phone's width; screenshots of each for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.browser.test_accessibility import AXE, MEASURE, WCAG21_A_AA
from tests.factories import StaffFactory
from tests.quality.test_type_parity import REGISTERED, STAFF_CASES, staff_pool_with_golden_answers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _as_staff(new_page: Any, live_server: Any, **options: Any) -> Any:
    client = Client()
    client.force_login(StaffFactory())
    page = new_page(**options)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return page


def _axe_problems(page: Any) -> list[str]:
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG21_A_AA,
    )
    return [f"{v['id']} at {v['nodes'][0]['target']}" for v in result["violations"]]


@pytest.mark.parametrize("task_type", REGISTERED)
def test_the_staff_pages_of_each_type_show_its_figures(new_page, live_server, shots, task_type):
    pool, _, careless = staff_pool_with_golden_answers(task_type)
    _, name, mean = STAFF_CASES[task_type]
    page = _as_staff(new_page, live_server)
    page.goto(f"/staff/quality/pools/{pool.pk}/")
    golden = page.locator("#golden")
    assert golden.locator("li", has_text=name).locator("strong").inner_text() == mean
    if task_type == "pairwise":
        assert page.locator("#ranking tbody tr").first.inner_text().split("\t")[:2] == ["1", "result 0"]
    assert _axe_problems(page) == []
    page.screenshot(path=str(shots / f"staff-{task_type}.png"), full_page=True)

    phone = _as_staff(new_page, live_server, viewport={"width": 360, "height": 740}, has_touch=True)
    phone.goto(f"/staff/quality/pools/{pool.pk}/")
    assert phone.evaluate(MEASURE) == []
    phone.screenshot(path=str(shots / f"staff-{task_type}-phone.png"), full_page=True)

    page.goto(f"/staff/quality/workers/{careless.pk}/")
    card = (
        page.locator(f"#type-figures-{pool.pk}")
        if task_type != "single_choice"
        else page.locator(".confusion")
    )
    assert card.count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # long answers wrap
    assert _axe_problems(page) == []
    page.screenshot(path=str(shots / f"staff-{task_type}-worker.png"), full_page=True)


def test_the_calibration_card_reads_on_a_desk_and_a_phone(new_page, live_server, shots):
    from quality.services import pool_aggregate
    from tests.quality.test_calibrated_runs import split_crowd

    pool, _ = split_crowd()
    pool_aggregate(pool=pool)
    page = _as_staff(new_page, live_server)
    page.goto(f"/staff/quality/pools/{pool.pk}/")
    card = page.locator("#calibration")
    assert "Calibrated by temperature" in card.inner_text()
    assert card.locator("svg circle.before").count() >= 2 and card.locator("svg circle.after").count() >= 2
    assert _axe_problems(page) == []
    card.screenshot(path=str(shots / "staff-calibration.png"))

    phone = _as_staff(new_page, live_server, viewport={"width": 360, "height": 740}, has_touch=True)
    phone.goto(f"/staff/quality/pools/{pool.pk}/")
    assert phone.evaluate(MEASURE) == []
    phone.locator("#calibration").screenshot(path=str(shots / "staff-calibration-phone.png"))


def test_the_requester_reads_which_method_ran_and_how_sure_it_is(new_page, live_server, shots):
    from quality.services import pool_aggregate
    from tests.quality.test_calibrated_runs import split_crowd

    pool, _ = split_crowd()
    pool.aggregation_method = "auto"
    pool.save(update_fields=["aggregation_method"])
    pool_aggregate(pool=pool)
    client = Client()
    client.force_login(pool.requester)
    for name, options in (
        ("desk", {}),
        ("phone", {"viewport": {"width": 360, "height": 740}, "has_touch": True}),
    ):
        page = new_page(**options)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page.goto(f"/pools/{pool.pk}/")
        summary = page.locator(".method-summary")
        assert "chosen by the pool's golden items" in summary.inner_text()
        assert page.evaluate(MEASURE) == []
        summary.locator("xpath=..").screenshot(path=str(shots / f"requester-method-{name}.png"))
