"""Rate limits: token buckets by key (a consumer, a client address).

Each bucket holds up to ``burst`` tokens and gains ``rate`` per second; a
call takes one or is refused with the seconds until one is there. Buckets
live in this process (a limit per worker: N workers admit N times the rate)
— unlike the rest of the service's state, which is in the database, since a
counter written on every call would cost more than the calls it protects.
Wrong PINs are counted in the database (:mod:`msign_soap.instruments.pin_counter`);
this only slows down whoever tries them quickly.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by strings.

    :param rate: tokens gained per second (a bucket's sustained calls per second).
    :param burst: the most tokens a bucket holds (calls admitted at once after a pause).
    :param max_keys: buckets kept; the least recently used beyond that are
        forgotten (full again), so many addresses cannot exhaust memory.
    """

    def __init__(
        self, rate: float, burst: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Take a token from ``key``'s bucket: 0 if taken, else the whole
        seconds to wait before one is there (for ``Retry-After``)."""
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            wait = 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.rate))
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait
