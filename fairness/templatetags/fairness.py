"""Template helpers for fair work: human durations, the pool page's floor notice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings

from fairness import pay
from fairness.selectors import pool_fairness
from tasks.models import Pool

register = template.Library()


@register.filter
def duration_human(seconds: int | float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


@register.inclusion_tag("fairness/_pool_pay.html", takes_context=True)
def pool_pay_notice(context: template.Context, pool: Pool) -> dict[str, Any]:
    """The requester's pool page: measured pay against the floor, and the way back if it is below."""
    return {
        "pool": pool,
        "fair": pool_fairness(pool=pool),
        "floor": pay.floor(),
        "min_answers": pay.min_answers(),
        "currency": context.get("currency", ""),
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def pay_floor() -> Decimal:
    return pay.floor()


@register.simple_tag
def floor_min_answers() -> int:
    return pay.min_answers()


# The figures behind a decision in plain words; any other key is shown as its words ("golden_answered").
FIGURE_LABELS = {
    "task_id": "Task",
    "label": "Your answer",
    "reward": f"Reward ({settings.PLATFORM_CURRENCY})",
    "submitted_at": "Submitted",
    "duration_seconds": "Time you took (seconds)",
}


@register.filter
def figure_label(key: object) -> str:
    """ "duration_seconds" -> "Time you took (seconds)": the figures' keys as words."""
    return FIGURE_LABELS.get(str(key)) or str(key).replace("_", " ").capitalize()
