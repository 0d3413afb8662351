"""Endpoint health: EWMA, p95 window, circuit breaker states, slot lag, routing score."""

from __future__ import annotations

import pytest

from solarb.rpc.health import BreakerState, CircuitBreaker, EndpointHealth, Ewma, LatencyWindow


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_ewma() -> None:
    e = Ewma(0.5)
    assert e.value is None
    assert e.add(10) == 10 and e.add(20) == 15 and e.add(15) == 15
    with pytest.raises(ValueError):
        Ewma(0)


def test_latency_window_p95_recent_only() -> None:
    w = LatencyWindow(size=100)
    assert w.percentile(0.95) is None
    for i in range(1, 101):
        w.add(i / 1000)
    assert w.percentile(0.95) == pytest.approx(0.095)
    for _ in range(100):  # old samples age out
        w.add(0.001)
    assert w.percentile(0.95) == pytest.approx(0.001)


def test_breaker_opens_half_opens_closes() -> None:
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=3, reset_timeout=1.0, clock=clock)
    for _ in range(2):
        b.record_failure()
    assert b.state is BreakerState.CLOSED and b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN and not b.allow() and b.retry_in() == pytest.approx(1.0)
    clock.t = 1.0
    assert b.state is BreakerState.HALF_OPEN
    assert b.acquire() and not b.acquire()  # exactly one probe
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.opened == 1


def test_breaker_failed_probe_reopens_with_longer_timeout() -> None:
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, max_timeout=3.0, clock=clock)
    b.record_failure()
    clock.t = 1.0
    assert b.acquire()
    b.record_failure()
    assert b.state is BreakerState.OPEN and b.retry_in() == pytest.approx(2.0)
    clock.t = 3.0
    assert b.acquire()
    b.record_failure()
    assert b.retry_in() == pytest.approx(3.0)  # capped
    assert b.opened == 3


def test_success_resets_failure_count() -> None:
    b = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    for _ in range(5):
        b.record_failure() if b.state is BreakerState.CLOSED else None
        b.record_success()
    assert b.state is BreakerState.CLOSED


def test_health_lag_measured_at_observation() -> None:
    h = EndpointHealth(clock=FakeClock())
    assert h.lag() == 0
    assert h.observe_slot(100, cluster_slot=160) == 60 and h.lag() == 60
    assert h.observe_slot(170, cluster_slot=170) == 0 and h.slot == 170
    assert h.observe_slot(5, cluster_slot=-1) == 0  # nothing known yet


def test_rate_limit_failure_does_not_trip_breaker_and_score_prefers_fast() -> None:
    clock = FakeClock()
    fast, slow = EndpointHealth(clock=clock), EndpointHealth(clock=clock)
    for _ in range(10):
        fast.record_success(0.002)
        slow.record_success(0.200)
        fast.record_failure(breaker=False)
    assert fast.breaker.state is BreakerState.CLOSED
    assert fast.errors.value is not None and fast.errors.value > 0.3
    assert fast.score(1.0, 0.05) > slow.score(1.0, 0.05)
    assert slow.score(200.0, 0.05) > fast.score(1.0, 0.05)  # weight counts
    assert slow.p95(0.05) == pytest.approx(0.2) and EndpointHealth().p95(0.05) == 0.05


def test_cancelled_probe_frees_the_half_open_slot() -> None:
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, clock=clock)
    b.record_failure()
    clock.t = 1.0
    assert b.acquire() and not b.allow()
    b.cancel_probe()
    assert b.allow() and b.acquire()
