"""Per-caller token buckets: each API key may spend `rate` requests a second with bursts of `burst`.

The limit is per worker process: a key's total allowance is rate x workers x tasks, which the docs state. It bounds
what one authenticated caller can cost (endpoint capacity, feedback votes); AWS WAF's rate-based rule bounds each
client address before requests reach the tasks.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from .errors import GatewayError

MAX_TRACKED_CALLERS = 10_000


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # caller -> (tokens, updated)

    @property
    def rate(self) -> float:
        return self._rate

    def spend(self, caller: str) -> int:
        """Spend one token of `caller` and answer 0, or answer the whole seconds until the next one."""
        now = self._clock()
        tokens, updated = self._buckets.get(caller, (self._burst, now))
        tokens = min(self._burst, tokens + (now - updated) * self._rate)
        if tokens < 1.0:
            self._buckets[caller] = (tokens, now)
            return math.ceil((1.0 - tokens) / self._rate)
        self._buckets[caller] = (tokens - 1.0, now)
        self._buckets.move_to_end(caller)
        while len(self._buckets) > MAX_TRACKED_CALLERS:
            self._buckets.popitem(last=False)
        return 0

    def take(self, caller: str) -> None:
        """Spend one token of `caller`, or raise 429 with the seconds until the next one."""
        wait = self.spend(caller)
        if wait:
            raise GatewayError(
                429, "rate_limited", f"more than {self._rate:g} requests a second", {"Retry-After": str(wait)}
            )
