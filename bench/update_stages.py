"""Where a `solarb bench` update's time goes, the build and signing of its order included (issue #6).

    .venv/bin/python bench/update_stages.py [--pools 1000] [--updates 20000] [--seed 7]

Runs :func:`solarb.runtime.bench.run_bench` once with a wall-clock timer around each stage of the
replay and prints, per stage, its calls, its mean time per update and per call. Stages nest: the
frame dispatch (the C frame reader, base64, the feed's records) hands over to ``drain_now``, which
runs ``MarketState.apply``, ``CycleFinder.on_pool_changed`` (the exact sizing search inside it)
and the decision; ``TxBuilder.build_raw`` includes ``Signer.signed``. A timer adds ~0.1 us per call.
Only the replay is counted (the counters restart after the warm-up). :mod:`bench.filter_path`
splits the path that sizes nothing finer.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

from solarb.execution.builder import TxBuilder
from solarb.execution.signer import Signer
from solarb.feeds.delivery import Delivery
from solarb.market.state import MarketState
from solarb.rpc.ws import PubSubConnection
from solarb.runtime import bench
from solarb.runtime.pipeline import Pipeline
from solarb.strategy import cycles
from solarb.strategy.cycles import CycleFinder

_STAGES: list[tuple[Any, str, str]] = [
    (PubSubConnection, "_dispatch", "frame dispatch"),
    (Delivery, "drain_now", "drain_now (detection after dispatch)"),
    (MarketState, "apply", "  MarketState.apply"),
    (CycleFinder, "on_pool_changed", "  CycleFinder.on_pool_changed"),
    (cycles, "_search", "    exact sizing search"),
    (Pipeline, "_decide", "  risk and order"),
    (TxBuilder, "build_raw", "build and sign"),
    (Signer, "signed", "  signing"),
    (Pipeline, "settle", "settle"),
]


def _timed(fn: Callable[..., Any], label: str, ns: dict[str, int], calls: dict[str, int]) -> Any:
    clock = time.perf_counter_ns

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            ns[label] += clock() - t0
            calls[label] += 1

    return timed


def main() -> None:
    """Parse the arguments, run the bench with the stage timers, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pools", type=int, default=1_000)
    ap.add_argument("--updates", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    ns = dict.fromkeys((label for *_, label in _STAGES), 0)
    calls = dict(ns)
    for owner, name, label in _STAGES:
        setattr(owner, name, _timed(getattr(owner, name), label, ns, calls))
    warm = bench.warm_up

    def warm_then_reset(*a: Any, **kw: Any) -> Any:
        result = warm(*a, **kw)
        for label in ns:
            ns[label] = calls[label] = 0
        return result

    bench.warm_up = warm_then_reset
    out = bench.run_bench(bench.BenchConfig(pools=args.pools, updates=args.updates, seed=args.seed))
    n = out["updates"]
    print(
        f"{out['pools']} pools, {n} updates: {out['updates_per_s']} updates/s, "
        f"{out['cpu_us_per_update']} CPU us/update, detect p50 {out['detect_latency_us']['p50']} us"
    )
    print(f"{'stage':40s} {'calls':>8s} {'us/update':>10s} {'us/call':>9s}")
    for label in ns:
        if calls[label]:
            print(
                f"{label:40s} {calls[label]:8d} {ns[label] / 1e3 / n:10.2f} "
                f"{ns[label] / 1e3 / calls[label]:9.2f}"
            )


if __name__ == "__main__":
    main()
