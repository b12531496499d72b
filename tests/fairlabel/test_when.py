"""Moments on pages are <time> elements in UTC that the reader's browser shows in their own zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from django.template import Context, Template


def _render(value: object, precision: str = "") -> str:
    source = "{% load when %}{{ value|when" + (f':"{precision}"' if precision else "") + " }}"
    return Template(source).render(Context({"value": value}))


def test_a_moment_becomes_a_time_element_in_utc_whatever_its_zone():
    moment = datetime(2026, 12, 2, 18, 47, 50, 721958, tzinfo=timezone(timedelta(hours=2)))
    assert _render(moment) == (
        '<time datetime="2026-12-02T16:47:50+00:00" data-precision="minutes">2026-12-02 16:47 UTC</time>'
    )
    assert ">2026-12-02 16:47:50 UTC<" in _render(moment, "seconds")
    assert ">2026-12-02<" in _render(moment, "date")


def test_the_iso_text_a_decision_keeps_is_read_as_a_moment_too():
    html = _render("2026-12-02T16:47:50.721958+00:00", "seconds")
    assert 'datetime="2026-12-02T16:47:50+00:00"' in html and "721958" not in html


def test_nothing_and_text_that_is_no_moment_are_shown_plainly():
    assert _render(None) == "—"
    assert _render("soon") == "soon"
    assert _render(datetime(2026, 1, 1, tzinfo=UTC), "time").endswith(">00:00:00 UTC</time>")
