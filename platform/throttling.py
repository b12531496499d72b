"""API rate limits: per account for authenticated calls, per client address for anonymous ones.

DRF's own SimpleRateThrottle keeps a list of every request time in the cache and rewrites it on each call: at the
generous rate the benchmarks need that list holds thousands of entries, and two concurrent requests overwrite
each other's. A fixed window counted atomically never loses a count; its price is that a client may spend one
window's allowance at its end and the next at its start.

With Redis (production) the count is one round trip: SET NX EX and INCR sent together. Django's cache API
would make it three (add; incr asks whether the key exists, then increments), on every API request.
"""

from __future__ import annotations

import logging
import math
import time
from functools import cache as cache_function
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'6000/min' -> (6000, 60). The period is read from its first letter, as DRF does."""
    count, _, period = rate.partition("/")
    try:
        return int(count), _PERIODS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ValueError(f"A rate looks like 6000/min or 60/s, not {rate!r}") from None


def client_ip(request: HttpRequest) -> str:
    """The caller's address as the reverse proxy saw it.

    With PROXY_COUNT proxies in front, each appends the address it received the request from to
    X-Forwarded-For, so the client is the PROXY_COUNT-th entry from the right; anything further left was written
    by the client and can be forged. Login lockouts (django-axes) and anonymous rate limits both use this.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies: int = settings.PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in str(forwarded).split(",") if hop.strip()]
    return hops[-min(proxies, len(hops))] if hops else remote


# A client of our own: Django's RedisCache keeps its client private, and its public API is what costs the
# three round trips. Keyed by the location, so a test pointing the cache elsewhere gets a client for it.
@cache_function
def _redis_client(location: str) -> Any:
    import redis

    return redis.Redis.from_url(location)


def _count(key: str, *, timeout: int) -> int:
    """Add one to the window's count and return it; the count expires `timeout` seconds after it began."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):  # one process's memory: development and most tests
        backend.add(key, 0, timeout=timeout)
        return int(backend.incr(key))
    client = _redis_client(str(settings.CACHES["default"]["LOCATION"]))
    full_key = backend.make_key(key)
    pipe = client.pipeline(transaction=False)
    pipe.set(full_key, 0, ex=timeout, nx=True)
    pipe.incr(full_key)
    return int(pipe.execute()[1])


class _FixedWindowThrottle(BaseThrottle):
    scope = ""

    def __init__(self) -> None:
        self._wait = 0.0

    def ident(self, request: Any) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        # Read on every call rather than at import, so a test (or a settings override) can change the rate.
        limit, period = parse_rate(str(api_settings.DEFAULT_THROTTLE_RATES[self.scope]))
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{ident}:{period}:{window}"
        try:
            count = _count(key, timeout=period + 1)
        except Exception:
            # A cache outage must not take the API down with it: rate limiting is a protection, not
            # correctness, so fail open and say so in the log.
            log.warning("rate limit cache unavailable; request allowed", exc_info=True)
            return True
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float:
        # Retry-After is written as whole seconds; never tell a client to retry at once.
        return float(max(1, math.ceil(self._wait)))


class AccountRateThrottle(_FixedWindowThrottle):
    """Authenticated calls, counted per account. An account has one token, so this is the per-token limit, and
    regenerating the token does not start a fresh count."""

    scope = "account"

    def ident(self, request: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return str(user.pk)


class AnonymousRateThrottle(_FixedWindowThrottle):
    """Anonymous calls (the token endpoint, the schema), counted per client address."""

    scope = "anon"

    def ident(self, request: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return client_ip(request) or "unknown"
