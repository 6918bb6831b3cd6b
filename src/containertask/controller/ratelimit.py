"""A token bucket for the operator's own API calls (client-go's QPS and burst).

Each call reserves a token; when the bucket is empty the reservation is paid for by waiting, in
arrival order, so a burst of reconciles cannot flood the apiserver and nobody starves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """``qps`` tokens per second, at most ``burst`` saved; ``qps <= 0`` means no limit."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps = qps
        self.burst = max(burst, 1)
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()

    def reserve(self) -> float:
        """Take one token; return how long to wait before using it (0: at once)."""
        if self.qps <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.qps)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
