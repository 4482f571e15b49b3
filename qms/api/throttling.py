"""Rate limits for machine clients, per token (users are not throttled: they are few and interactive).

A fixed-window counter in the shared cache (Redis in production, so every web replica counts the same window):
one atomic increment per request. DRF's SimpleRateThrottle keeps a list of every request time in the cache, which
at thousands of requests a minute means reading and writing a large list on the MES hot path.
The rate comes from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["machine"] (env API_MACHINE_RATE), read per request.
"""
from __future__ import annotations

import math
import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from qms.auth.permissions import request_token

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """"6000/min" → (6000, 60); the period is read from its first letter (s, m, h, d), as DRF does."""
    number, _slash, period = rate.partition("/")
    try:
        return int(number), _PERIODS[period.strip()[:1]]
    except (ValueError, KeyError) as exc:
        raise ValueError(f"invalid throttle rate {rate!r}: expected e.g. '6000/min'") from exc


class MachineClientThrottle(BaseThrottle):
    scope = "machine"

    def __init__(self):
        self._wait: float | None = None

    def rate(self) -> tuple[int | None, int | None]:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if not rate:
            return None, None
        return parse_rate(rate)

    def allow_request(self, request, view) -> bool:
        token = request_token(request)
        if token is None:
            return True
        limit, period = self.rate()
        if limit is None:
            return True
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{token.pk}:{token.prefix}:{period}:{window}"
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # the window expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
        if count <= limit:
            return True
        self._wait = max(1.0, (window + 1) * period - now)
        return False

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
