"""Moments on pages: `{{ value|when }}` renders a <time> that app.js shows in the reader's own zone and format."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# What the page says before app.js has run (or without script): UTC, unambiguous in every language.
_FALLBACK = {
    "minutes": "%Y-%m-%d %H:%M UTC",
    "seconds": "%Y-%m-%d %H:%M:%S UTC",
    "date": "%Y-%m-%d",
    "time": "%H:%M:%S UTC",
}


@register.filter
def when(value: datetime | str | None, precision: str = "minutes") -> SafeString | str:
    """`precision`: minutes (the default), seconds, date or time."""
    if value is None or value == "":
        return "—"
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" data-precision="{}">{}</time>',
        moment.isoformat(timespec="seconds"),
        precision,
        moment.strftime(_FALLBACK[precision]),
    )
