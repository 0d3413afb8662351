"""TokenBucket: rate, burst, Retry-After blocking; on an injected clock."""

from __future__ import annotations

import pytest

from solarb.rpc.limits import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_burst_then_rate() -> None:
    clock = FakeClock()
    b = TokenBucket(10, burst=3, clock=clock)
    assert [b.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert b.wait_time() == pytest.approx(0.1)
    clock.t += 0.05
    assert not b.try_acquire()
    clock.t += 0.05
    assert b.try_acquire() and not b.try_acquire()


def test_refill_caps_at_burst() -> None:
    clock = FakeClock()
    b = TokenBucket(100, burst=5, clock=clock)
    for _ in range(5):
        assert b.try_acquire()
    clock.t += 60
    assert b.available() == 5
    assert sum(b.try_acquire() for _ in range(10)) == 5


def test_block_for_retry_after_then_resume() -> None:
    clock = FakeClock()
    b = TokenBucket(10, burst=10, clock=clock)
    b.block_for(2.0)
    assert not b.try_acquire() and b.wait_time() == pytest.approx(2.0)
    clock.t += 1.99
    assert not b.try_acquire()
    clock.t += 0.02
    assert b.try_acquire()  # tokens refilled during the block (rate * time)


def test_unlimited_bucket_only_refuses_when_blocked() -> None:
    clock = FakeClock()
    b = TokenBucket(0, clock=clock)
    assert b.unlimited and all(b.try_acquire() for _ in range(1000))
    b.block_for(1.0)
    assert not b.try_acquire() and b.wait_time() == pytest.approx(1.0)
    clock.t += 1.0
    assert b.try_acquire() and b.wait_time() == 0.0


def test_bad_burst_rejected() -> None:
    with pytest.raises(ValueError):
        TokenBucket(5, burst=0.5)
