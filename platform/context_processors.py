from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from fairlabel.money import money_str
from payouts.selectors import balance_for_user


def platform(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {"currency": settings.PLATFORM_CURRENCY}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not user.is_staff:
        balance = balance_for_user(user=user)
        context["balance"] = {
            "available": money_str(balance.available),
            "reserved": money_str(balance.reserved),
        }
    return context
