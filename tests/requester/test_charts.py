"""The pool page's charts carry their values as text, escaped, for screen readers and for reading the figures."""

from __future__ import annotations

import re

from requester import charts


def _cells(html: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", html)


def test_a_bar_chart_lists_every_bar_in_a_table_with_its_column_names():
    html = charts.bar_chart(
        values=[3, 0, 12],
        labels=["13:00", "14:00", "15:00"],
        title="Answers per hour",
        headers=("Hour", "Answers"),
    )
    assert '<th scope="col">Hour</th><th scope="col">Answers</th>' in html
    assert _cells(html) == ["13:00", "3", "14:00", "0", "15:00", "12"]
    assert "<caption" in html and "Answers per hour" in html


def test_a_label_chart_gives_each_label_its_count_and_share():
    html = charts.hbar_chart(items=[("OK", 3), ("<b>Bad</b>", 1)], title="Answers per label")
    assert _cells(html) == ["OK", "3 (75%)", "&lt;b&gt;Bad&lt;/b&gt;", "1 (25%)"]


def test_the_progress_line_says_how_far_the_pool_has_come():
    html = charts.line_chart(
        points=[(0.0, 0), (0.5, 40), (1.0, 120)],
        target=300,
        first_label="Dec 03 09:00",
        last_label="Dec 03 11:00",
        title="Progress",
    )
    assert "120 of the 300 answers collected between Dec 03 09:00 and Dec 03 11:00." in html


def test_an_empty_chart_says_so_and_has_no_table():
    html = charts.bar_chart(values=[0, 0], labels=["a", "b"], title="Skill", empty="No golden answers yet")
    assert "No golden answers yet" in html and "<table" not in html
