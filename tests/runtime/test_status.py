"""RunStats: the latency window keeps the most recent samples in bounded memory."""

from __future__ import annotations

from solarb.runtime.status import LATENCY_WINDOW, RunStats


def test_latency_empty() -> None:
    assert RunStats().latency_us() == {"p50": 0.0, "p99": 0.0, "max": 0.0, "samples": 0}


def test_latency_percentiles_of_few_samples() -> None:
    stats = RunStats()
    for us in (5, 1, 3, 2, 4):
        stats.record_latency(us * 1000)
    assert stats.latency_us() == {"p50": 3.0, "p99": 5.0, "max": 5.0, "samples": 5}


def test_latency_window_keeps_the_most_recent() -> None:
    stats = RunStats()
    size = stats.latencies_ns.buffer_info()[1]
    for _ in range(LATENCY_WINDOW):  # an old burst of slow decisions
        stats.record_latency(9_000_000)
    for i in range(LATENCY_WINDOW):  # then a full window of fast ones
        stats.record_latency(1_000 + i % 7)
    summary = stats.latency_us()
    assert summary["samples"] == LATENCY_WINDOW
    assert summary["max"] == 1.0  # the slow burst left the window
    assert stats.latency_samples == 2 * LATENCY_WINDOW
    assert stats.latencies_ns.buffer_info()[1] == size  # no growth
