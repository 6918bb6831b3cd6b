"""Flow control for the operator's own API calls.

:class:`TokenBucket` is client-go's QPS and burst, so a burst of reconciles cannot flood the
apiserver. :class:`PriorityGate` admits calls within that rate and a bound on calls in flight,
urgent ones (creating a task's pod) before routine ones (status, events), so under load a new
task's pod is not queued behind the status writes and events of older tasks.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class TokenBucket:
    """``qps`` tokens per second, at most ``burst`` saved; ``qps <= 0`` means no limit."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps = qps
        self.burst = max(burst, 1)
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.qps)
        self._updated = now

    def available_in(self) -> float:
        """Seconds until a token is there to take (0: now)."""
        if self.qps <= 0:
            return 0.0
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.qps

    def reserve(self) -> float:
        """Take one token; return how long to wait before using it (0: at once)."""
        if self.qps <= 0:
            return 0.0
        self._refill()
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


class PriorityGate:
    """At most ``limit`` holders at once, admitted no faster than ``bucket`` allows; waiters
    enter by priority (lower first), then in order. Under the rate limit, the most urgent call
    waits for the next token, not behind every call queued before it."""

    def __init__(self, limit: int, bucket: TokenBucket | None = None) -> None:
        self._free = max(limit, 1)
        self._bucket = bucket or TokenBucket(0, 1)
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[None]:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), turn))
        self._admit()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # admitted just as we were cancelled
            raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self._free += 1
        self._admit()

    def _admit(self) -> None:
        """Let in the most urgent waiters while slots and tokens last; when only tokens are
        short, look again when the next one is due."""
        while self._waiting and self._free > 0:
            if self._waiting[0][2].done():  # cancelled while waiting
                heapq.heappop(self._waiting)
                continue
            wait = self._bucket.available_in()
            if wait > 0:
                if self._timer is None:
                    self._timer = asyncio.get_running_loop().call_later(wait, self._on_timer)
                return
            _, _, turn = heapq.heappop(self._waiting)
            self._bucket.reserve()
            self._free -= 1
            turn.set_result(None)

    def _on_timer(self) -> None:
        self._timer = None
        self._admit()
