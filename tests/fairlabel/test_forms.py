"""The project's form renderer: whatever a screen reader is pointed at exists, and errors are summarised."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.factories import RequesterFactory


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.described_by: list[str] = []
        self.label_for: list[str] = []
        self.summary_links: list[str] = []
        self.legends: list[str] = []
        self._in_legend = False
        self._in_summary = False
        self._summary_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        self.described_by += (a.get("aria-describedby") or "").split()
        if tag == "label" and a.get("for"):
            self.label_for.append(str(a["for"]))
        if a.get("id") == "error-summary":
            self._in_summary = True
        if self._in_summary and tag == "div":
            self._summary_depth += 1
        if tag == "a" and self._in_summary:
            self.summary_links.append(str(a.get("href", "")).removeprefix("#"))
        self._in_legend = tag == "legend"

    def handle_endtag(self, tag: str) -> None:
        if self._in_summary and tag == "div":
            self._summary_depth -= 1
            self._in_summary = self._summary_depth > 0

    def handle_data(self, data: str) -> None:
        if self._in_legend and data.strip():
            self.legends.append(data.strip())
            self._in_legend = False


def _parse(html: bytes) -> _Page:
    page = _Page()
    page.feed(html.decode())
    return page


@pytest.mark.django_db
def test_signup_errors_are_summarised_linked_and_described():
    response = Client().post("/signup/", {"username": "newcomer", "role": "worker"})
    page = _parse(response.content)

    assert response.status_code == 200
    assert "Choose a password." in response.content.decode()
    # Both password fields are missing: the summary links to each, and each link lands on an input.
    assert page.summary_links == ["id_password1", "id_password2"]
    assert set(page.summary_links) <= page.ids
    # Every aria-describedby and every label points at something on the page.
    assert page.described_by and set(page.described_by) <= page.ids
    assert "id_password1_error" in page.described_by
    assert set(page.label_for) <= page.ids
    # The role radios are a group with its question as the legend.
    assert page.legends == ["What brings you here?"]


VALID_POOL = {
    "name": "Listings",
    "labels": "OK\nBad",
    "reward": "0.03",
    "overlap": "3",
    "priority": "50",
    "golden_rate": "0.1",
    "assignment_ttl": "600",
}


def _post_new_pool(**changes: str):
    client = Client()
    client.force_login(RequesterFactory.create())
    return client.post("/pools/new/", {**VALID_POOL, **changes})


@pytest.mark.django_db
def test_pool_form_says_what_is_wrong_in_the_requesters_words():
    response = _post_new_pool(reward="0,05", golden_rate="0.9", assignment_ttl="5")
    html = response.content.decode()
    page = _parse(response.content)

    assert response.status_code == 200
    assert "Enter an amount in USD such as 0.03" in html
    assert "Share of golden items must be a number from 0 to 0.5." in html
    assert "Time to answer a task (seconds) must be a whole number from 10 to 86400." in html
    # The API's own names of the fields are not what a person reads.
    text = re.sub(r"<[^>]+>", " ", html)
    assert "golden_rate" not in text and "assignment_ttl" not in text
    assert page.summary_links == ["id_reward", "id_golden_rate", "id_assignment_ttl"]
    assert set(page.described_by) <= page.ids


@pytest.mark.django_db
def test_too_few_labels_is_said_plainly():
    response = _post_new_pool(name="x", labels="Only one")

    assert "Enter at least 2 labels, one per line." in response.content.decode()
    assert "Ensure this field" not in response.content.decode()
