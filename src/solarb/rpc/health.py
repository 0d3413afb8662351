"""Endpoint health: latency (EWMA and a recent-window p95), error rate, slot lag, circuit breaker.

Pure bookkeeping over an injected monotonic clock (seconds); no I/O. The pool records each
attempt's outcome here and asks :meth:`EndpointHealth.usable` and :meth:`EndpointHealth.score`
when it routes.

Circuit breaker states::

    closed --(failure_threshold consecutive failures)--> open
    open --(reset_timeout elapsed)--> half_open   (exactly one probe request let through)
    half_open --success--> closed      half_open --failure--> open (timeout doubled, capped)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum

__all__ = ["BreakerState", "CircuitBreaker", "EndpointHealth", "Ewma", "LatencyWindow"]


class Ewma:
    """Exponentially weighted moving average; ``value`` is None until the first sample."""

    __slots__ = ("alpha", "value")

    def __init__(self, alpha: float, initial: float | None = None) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.value = initial

    def add(self, sample: float) -> float:
        """Fold ``sample`` in and return the new average."""
        v = self.value
        self.value = sample if v is None else v + self.alpha * (sample - v)
        return self.value


class LatencyWindow:
    """The last ``size`` latencies (seconds) for a percentile estimate (cached between samples)."""

    __slots__ = ("_samples", "_sorted")

    def __init__(self, size: int = 128) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._sorted: list[float] | None = None

    def add(self, seconds: float) -> None:
        """Record one latency."""
        self._samples.append(seconds)
        self._sorted = None

    def __len__(self) -> int:
        return len(self._samples)

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) of the window, None when empty (nearest-rank)."""
        if not self._samples:
            return None
        if self._sorted is None:
            self._sorted = sorted(self._samples)
        idx = min(len(self._sorted) - 1, max(0, int(q * len(self._sorted) + 0.5) - 1))
        return self._sorted[idx]


class BreakerState(str, Enum):
    """Circuit breaker state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Per-endpoint breaker: opens after ``failure_threshold`` consecutive failures.

    After ``reset_timeout`` seconds open, one probe is let through (half-open); its success
    closes the breaker, its failure re-opens it with the timeout doubled (up to ``max_timeout``).
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 1.0,
        max_timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.base_timeout = reset_timeout
        self.max_timeout = max_timeout
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._timeout = reset_timeout
        self._opened_at = 0.0
        self._probe_out = False
        self.opened = 0  # times the breaker opened (metrics)

    @property
    def state(self) -> BreakerState:
        """Current state (an open breaker whose timeout elapsed reports half-open)."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._timeout:
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a request go to this endpoint now? (Peek only; :meth:`acquire` takes the probe.)"""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and not self._probe_out

    def acquire(self) -> bool:
        """Like :meth:`allow`, but a half-open breaker hands out its single probe slot."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_out:
            self._state = BreakerState.HALF_OPEN
            self._probe_out = True
            return True
        return False

    def retry_in(self) -> float:
        """Seconds until the breaker lets a probe through (0 when it allows now)."""
        if self.allow():
            return 0.0
        if self._state is BreakerState.OPEN:
            return max(0.0, self._opened_at + self._timeout - self._clock())
        return self._timeout  # half-open with the probe out: wait for its verdict

    def cancel_probe(self) -> None:
        """The half-open probe request was cancelled before any verdict: let another one go."""
        self._probe_out = False

    def record_success(self) -> None:
        """A request succeeded: close the breaker."""
        self._failures = 0
        self._probe_out = False
        self._timeout = self.base_timeout
        self._state = BreakerState.CLOSED

    def record_failure(self) -> None:
        """A request failed: count it; open (or re-open) the breaker when due."""
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self.state is BreakerState.HALF_OPEN:
            self._timeout = min(self.max_timeout, self._timeout * 2)
            self._open()
        elif self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_out = False
        self.opened += 1


class EndpointHealth:
    """Everything the router knows about one endpoint.

    ``latency`` EWMA and ``errors`` EWMA (of 0/1 outcomes) use ``alpha``; ``slot`` is the
    highest slot the endpoint reported. ``cooldown_until`` is set by a 429's Retry-After.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.2,
        failure_threshold: int = 5,
        reset_timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.latency = Ewma(alpha)
        self.window = LatencyWindow()
        self.errors = Ewma(alpha, 0.0)
        self.breaker = CircuitBreaker(failure_threshold, reset_timeout, clock=clock)
        self.slot = -1
        self.slot_seen_at = 0.0
        self.last_lag = 0
        self.in_flight = 0

    def record_success(self, latency_s: float) -> None:
        """A good answer after ``latency_s`` seconds."""
        self.latency.add(latency_s)
        self.window.add(latency_s)
        self.errors.add(0.0)
        self.breaker.record_success()

    def record_failure(self, latency_s: float | None = None, *, breaker: bool = True) -> None:
        """A failed attempt; ``breaker`` False when it says nothing about liveness (429)."""
        if latency_s is not None:
            self.latency.add(latency_s)
        self.errors.add(1.0)
        if breaker:
            self.breaker.record_failure()
        elif self.breaker.state is BreakerState.HALF_OPEN:
            self.breaker.record_success()  # it answered: alive

    def observe_slot(self, slot: int, cluster_slot: int) -> int:
        """The endpoint reported ``slot`` (a getSlot answer or a reply's context) while the
        highest slot known anywhere was ``cluster_slot``. Returns (and keeps) its lag then:
        measured at the observation, so an endpoint that is merely quiet does not look behind."""
        self.last_lag = max(0, cluster_slot - slot) if cluster_slot >= 0 else 0
        if slot > self.slot:
            self.slot = slot
            self.slot_seen_at = self._clock()
        return self.last_lag

    def lag(self) -> int:
        """Slots this endpoint was behind the cluster at its latest slot report."""
        return self.last_lag

    def p95(self, default: float) -> float:
        """Recent 95th-percentile latency, ``default`` until 8 samples exist."""
        if len(self.window) < 8:
            return default
        return self.window.percentile(0.95) or default

    def usable(self) -> bool:
        """Breaker allows a request now."""
        return self.breaker.allow()

    def score(self, weight: float, default_latency: float) -> float:
        """Higher is better: weight / (latency * (1 + 8 * error_rate))."""
        lat = self.latency.value if self.latency.value is not None else default_latency
        err = self.errors.value or 0.0
        return weight / (max(lat, 1e-4) * (1.0 + 8.0 * err) * (1 + 0.25 * self.in_flight))
