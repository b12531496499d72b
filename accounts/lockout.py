"""Two log-in limits: per username and address, and per username from anywhere.

django-axes compares one count (the largest over its lockout parameters: here the username's failures from every
address) with one limit. A per-username lock at the pair's low limit would let anyone lock a real user out with
five wrong passwords; no per-username lock at all lets a rotating address guess forever. So the limit itself
depends on the pair: once this address has failed LOGIN_FAILURE_LIMIT times for the username, the limit is what
the username has already reached (locked); otherwise it is the higher LOGIN_USERNAME_FAILURE_LIMIT.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def _failures(**filters: Any) -> int:
    total = AccessAttempt.objects.filter(**filters).aggregate(n=Sum("failures_since_start"))["n"]
    return int(total or 0)


def failure_limit(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    username = get_client_username(request, credentials)
    per_username: int = settings.LOGIN_USERNAME_FAILURE_LIMIT
    address = getattr(request, "axes_ip_address", None)
    if not username or address is None:
        return per_username
    if _failures(username=username, ip_address=address) >= settings.LOGIN_FAILURE_LIMIT:
        return max(1, _failures(username=username))
    return per_username
