"""Stats API rate limits per API key: an hourly budget and a short burst window.

Fixed windows counted with `cache.add` + `cache.incr` (atomic on Redis, the production cache), so
many web workers share one count. A fixed window lets a client spend up to twice a budget across a
window boundary; the burst window keeps that spike short. Limits come from settings
(STATS_API_RATE_PER_HOUR, STATS_API_BURST per STATS_API_BURST_SECONDS), read on every request so
tests can lower them. If the cache is down the request is let through: analytics reads are not worth
an outage.
"""

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)


def limits():
    """[(requests, window seconds, how to say it)], the strictest window first."""
    burst, burst_seconds = settings.STATS_API_BURST, settings.STATS_API_BURST_SECONDS
    hourly = settings.STATS_API_RATE_PER_HOUR
    return [
        (burst, burst_seconds, f"{burst} requests per {burst_seconds} seconds"),
        (hourly, 3600, f"{hourly} requests per hour"),
    ]


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self):
        self.retry_after = None
        self.exceeded = ""

    def allow_request(self, request, view):
        api_key = request.auth
        if api_key is None:
            return True  # unauthenticated requests never get this far
        now = time.time()
        for allowed, seconds, description in limits():
            window = int(now // seconds)
            key = f"statsapi:rate:{api_key.pk}:{seconds}:{window}"
            try:
                cache.add(key, 0, timeout=seconds + 5)
                count = cache.incr(key)
            except ValueError:  # evicted between add and incr: start the window again
                cache.set(key, 1, timeout=seconds + 5)
                count = 1
            except Exception:  # the cache is down: fail open, loudly
                logger.warning("Stats API rate limit skipped: the cache did not answer", exc_info=True)
                return True
            if count > allowed:
                self.retry_after = max(1, math.ceil((window + 1) * seconds - now))
                self.exceeded = description
                return False
        return True

    def wait(self):
        return self.retry_after
