"""A form that failed, by keyboard: the summary takes focus, and its links lead to the fields."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.factories import PASSWORD, RequesterFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_pool_form_with_errors_by_keyboard(page, shots):
    requester = RequesterFactory.create()
    login(page, requester.username, PASSWORD)
    page.goto("/pools/new/")
    page.fill("#id_name", "Listings")
    page.fill("#id_labels", "OK\nRestricted")
    page.fill("#id_reward", "five cents")
    page.fill("#id_overlap", "0")
    page.focus("#id_content_warning")
    page.keyboard.press("Tab")  # to the submit button
    page.keyboard.press("Enter")

    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    summary = page.inner_text("#error-summary")
    assert "There are 2 problems" in summary
    assert "Enter an amount in USD such as 0.03" in summary
    assert "Answers per task must be a whole number from 1 to 100." in summary
    # What was typed is still there, and each field says what is wrong with it to a screen reader.
    assert page.input_value("#id_reward") == "five cents"
    assert page.get_attribute("#id_reward", "aria-invalid") == "true"
    described = page.get_attribute("#id_reward", "aria-describedby").split()
    assert page.inner_text(f"#{described[-1]}").startswith("Enter an amount in USD")
    page.screenshot(path=str(shots / "pool-form-errors.png"), full_page=True)

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").startswith("Enter an amount")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "id_reward"

    page.fill("#id_reward", "0.05")
    page.fill("#id_overlap", "3")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Pool created")
    assert page.locator("h1").inner_text().startswith("Listings")
