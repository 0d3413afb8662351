"""Client-side rate limits: a token bucket per endpoint (requests/s with a burst).

The bucket never sleeps by itself: :meth:`TokenBucket.try_acquire` takes a token or says no, and
:meth:`TokenBucket.wait_time` says how long until one is free, so the pool can pick another
endpoint instead of queueing behind a limit. Time comes from an injected monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked. ``rate`` <= 0 means unlimited.

    ``clock`` returns monotonic seconds (``time.monotonic`` by default).
    """

    __slots__ = ("rate", "burst", "_tokens", "_stamp", "_clock", "_blocked_until")

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        if self.burst < 1.0:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._blocked_until = 0.0

    @property
    def unlimited(self) -> bool:
        """True when the bucket never refuses (rate <= 0)."""
        return self.rate <= 0

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def try_acquire(self, n: float = 1.0) -> bool:
        """Take ``n`` tokens if they are available now; False (nothing taken) otherwise."""
        now = self._clock()
        if now < self._blocked_until:
            return False
        if self.unlimited:
            return True
        self._refill(now)
        if self._tokens >= n - 1e-9:  # float dust from refill arithmetic
            self._tokens -= n
            return True
        return False

    def wait_time(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are available (0.0 if now)."""
        now = self._clock()
        blocked = max(0.0, self._blocked_until - now)
        if self.unlimited:
            return blocked
        self._refill(now)
        missing = n - self._tokens
        return max(blocked, missing / self.rate if missing > 0 else 0.0)

    def block_for(self, seconds: float) -> None:
        """Refuse every request for ``seconds`` (a 429 with Retry-After) and drain the bank."""
        now = self._clock()
        self._blocked_until = max(self._blocked_until, now + max(0.0, seconds))
        self._tokens = 0.0
        self._stamp = max(self._stamp, now)

    def available(self) -> float:
        """Tokens available now (``inf`` when unlimited and not blocked)."""
        now = self._clock()
        if now < self._blocked_until:
            return 0.0
        if self.unlimited:
            return float("inf")
        self._refill(now)
        return self._tokens
