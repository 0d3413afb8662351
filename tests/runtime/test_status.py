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


def test_status_line_shows_the_gc_pause_when_given() -> None:
    import io

    from solarb.runtime.status import StatusLine

    out = io.StringIO()
    line = StatusLine(out, {})
    stats = RunStats()
    line.show(stats, 1.0, 1.0, {}, 1.37)
    line.show(stats, 2.0, 1.0, {})  # not a tty: one line in five is written
    for _ in range(4):
        line.show(stats, 3.0, 1.0, {})
    first, second = out.getvalue().splitlines()
    assert first.endswith("| gc max 1.4 ms")
    assert "gc" not in second


def test_summary_names_the_gc_collections() -> None:
    from solarb.runtime.status import format_summary

    summary = {
        "duration_s": 1.0, "updates": 3, "opportunities": 1, "orders": 0, "confirmed": 0,
        "failed": 0, "detect_latency_us": {"p50": 1.0, "p99": 2.0}, "start_balances": {},
        "end_balances": {}, "pnl": {},
        "gc": {"young": 16, "freeze": 1, "deep": 0, "automatic": 0, "max_pause_ms": 1.37},
    }
    text = format_summary(summary)
    assert "gc: 16 young, 1 freeze, 0 deep, 0 automatic collections; max pause 1.37 ms" in text
    assert "gc:" not in format_summary(summary | {"gc": None})
