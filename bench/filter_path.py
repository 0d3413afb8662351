"""The per-update path that sizes nothing, split by stage (issue #6).

    .venv/bin/python bench/filter_path.py [--pools 1000] [--updates 3000] [--seed 7] [--profile]

Replays the ``solarb bench`` workload's frames (:mod:`solarb.runtime.bench_workload`, the same
seed gives the same frames; cached under the temp dir after the first run) through the objects
``solarb bench`` wires: ``PubSubConnection._dispatch`` -> the shard's ``on_account``
(``_ShardNotes``) -> ``Delivery.drain_now`` -> ``Pipeline.on_update`` (``MarketState.apply``,
``CycleFinder.on_pool_changed``). Exact sizing is stubbed out (the finder's ``_search`` returns
None; ``size_cycle`` is not on that path), so every update stops after the float filter
(``--sizing`` keeps it); updates where some cycle passed the filter (the bench sizes them) are
reported apart from the quiet ones, as the bench's ``detect_filtered_only_us`` does.

Two kinds of passes over the same frames, each on a freshly loaded market warmed as ``solarb
bench`` warms it (:func:`solarb.runtime.warm.warm_up`; ``--no-warm``: cold), ``--repeat`` times
each; every figure takes, per update (and stage), the fastest pass (the machine is shared):

1. plain: frame handed over -> ``drain_now`` returned, per update, no instrumentation;
2. staged: the same with timers around each stage, each charged its exclusive time (a timer
   adds ~0.3 us, charged to the stage that calls the timed one):
   ``parse`` (orjson.loads), ``dispatch`` (the rest of ``PubSubConnection._dispatch``; with
   the ``_notes`` kernel it reads an account frame whole, base64 included, so ``parse`` and
   ``base64`` then count only the frames it leaves to orjson), ``base64``, ``note`` (the rest of
   the subscription callback: field checks, ``AccountUpdate``),
   ``offer`` (dedupe + coalescing), ``drain`` (``drain_now`` minus ``on_update``), ``apply``
   (``MarketState.apply`` minus ``decode``), ``decode`` (the adapters' ``decode_pool``),
   ``filter`` (``on_pool_changed`` minus ``spot_rate``; with ``--sizing`` the sizing too),
   ``spot_rate`` (the adapters'), ``risk`` (``RiskEngine.evaluate`` minus ``freshness``, the
   stale-state rule's ``MarketFreshness.stale_pool`` call; both run only on updates that found an
   opportunity, so only with ``--sizing``), ``pipeline`` (the rest of ``on_update``). Stage means
   are reported over the quiet updates and, apart, over those that passed the filter.

``--profile`` runs the plain pass under cProfile and prints the top entries by own time.
``--feed-only`` times the feed stages alone (frame -> ``drain_now`` into a no-op consumer).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import pickle
import pstats
import tempfile
import time
import types
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

import solarb.rpc.ws as ws_module
import solarb.strategy.cycles as cycles_module
from solarb.feeds.freshness import MarketFreshness
from solarb.market.state import CLOCK_SYSVAR, MarketState
from solarb.risk.engine import RiskEngine, RiskLimits
from solarb.runtime.bench import BenchConfig, _percentiles, _update, _Wiring, bench_adapters
from solarb.runtime.clock import SystemClock
from solarb.runtime.pipeline import Pipeline
from solarb.runtime.status import RunStats
from solarb.runtime.warm import warm_up
from solarb.strategy.cycles import CycleFinder

STAGES = ("parse", "dispatch", "base64", "note", "offer", "drain", "apply", "decode", "filter",
          "spot_rate", "risk", "freshness", "pipeline")


# ----------------------------------------------------------------------------- workload


def load_workload(pools: int, updates: int, seed: int) -> dict[str, Any]:
    """Initial accounts, subscriptions and frames of the bench workload (cached on disk)."""
    path = Path(tempfile.gettempdir()) / f"solarb_filter_path_{pools}_{updates}_{seed}.pkl"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)  # our own cache file
    from solarb.runtime.bench_workload import Workload

    cfg = BenchConfig(pools=pools, updates=updates, seed=seed)
    work = Workload(cfg.pools, cfg.seed, cfg.swaps_per_slot, cfg.inject_every)
    pool_rows = work.accounts(list(work.pool_keys))
    market = MarketState(bench_adapters())
    for row in pool_rows:
        market.add_pool(_update(*row))
    aux = [k for k in market.watched_accounts() if k not in market.pools]
    aux_rows = work.accounts(aux)
    for row in aux_rows:
        market.apply(_update(*row))
    wiring = _Wiring(market.watched_accounts(), lambda s: None)
    work.watch(wiring.subs, wiring.slot_subs)
    frames = []
    while sum(f[1] for f in frames) < updates:
        frames.extend(work.frames(min(2000, updates - sum(f[1] for f in frames))))
    data = {"sol": bytes(work.sol), "pool_rows": pool_rows, "aux_rows": aux_rows,
            "subs": wiring.subs, "frames": frames}
    with path.open("wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    return data


class _Engine:
    """A freshly loaded market + finder + pipeline + feed wiring, as ``solarb bench`` builds."""

    def __init__(self, work: dict[str, Any], adapters: dict[Pubkey, Any], warm: bool) -> None:
        cfg = BenchConfig()
        sol = Pubkey.from_bytes(work["sol"])
        self.market = market = MarketState(adapters)
        for row in work["pool_rows"]:
            market.add_pool(_update(*row))
        for row in work["aux_rows"]:
            market.apply(_update(*row))
        self.finder = CycleFinder(market, start_mints=[sol], max_hops=3,
                                  min_profit={sol: cfg.min_profit},
                                  max_amount_in={sol: cfg.max_notional})
        self.finder.rebuild()
        limits = RiskLimits(max_notional={sol: cfg.max_notional},
                            min_profit={sol: cfg.min_profit}, max_in_flight=64, max_slot_lag=8)
        box: list[Pipeline] = []
        self.wiring = _Wiring(market.watched_accounts(), lambda s: box[0].on_slot(s))
        if self.wiring.subs != work["subs"]:
            raise SystemExit("cached workload does not match this market's subscriptions; "
                             "delete the cache file")
        freshness = MarketFreshness(market, self.wiring.feed)
        self.pipeline = Pipeline(market, self.finder, RiskEngine(limits), cfg.min_profit,
                                 SystemClock(), RunStats(), freshness)
        box.append(self.pipeline)
        if warm:  # as solarb bench does by default (quoters, rate table, freshness groups)
            warm_up(self.finder, freshness)


# ----------------------------------------------------------------------------- passes


def _summary(samples: list[int]) -> dict[str, float]:
    p50, p99 = _percentiles(samples, (0.5, 0.99))  # type: ignore[arg-type]
    mean = sum(samples) / len(samples) / 1000 if samples else 0.0
    return {"mean": round(mean, 2), "p50": p50, "p99": p99, "n": len(samples)}


def replay(work: dict[str, Any], staged: bool, profile: cProfile.Profile | None = None,
           sizing: bool = False, warm: bool = True) -> dict[str, Any]:
    """One pass over the frames on a fresh engine; per-update figures (see module doc)."""
    acc = dict.fromkeys(STAGES, 0)  # ns of the current update, per stage
    patches: list[tuple[Any, str, Any]] = []

    def patch(obj: Any, name: str, value: Any) -> None:
        patches.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    child = [0]  # ns spent in timed calls below the running one

    def timed(fn: Callable[..., Any], stage: str) -> Callable[..., Any]:
        """``fn`` charging its exclusive time (minus the timed calls it makes) to ``stage``."""
        now = time.perf_counter_ns

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            saved = child[0]
            child[0] = 0
            t0 = now()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = now() - t0
                acc[stage] += elapsed - child[0]
                child[0] = saved + elapsed
        return wrapper

    adapters = bench_adapters()
    if staged:
        wrapped: dict[Pubkey, Any] = {}
        for pid, mod in adapters.items():
            ns = types.SimpleNamespace(**{k: v for k, v in vars(mod).items()
                                          if not k.startswith("__")})
            ns.decode_pool = timed(mod.decode_pool, "decode")
            ns.spot_rate = timed(mod.spot_rate, "spot_rate")
            wrapped[pid] = ns
        adapters = wrapped
    if not sizing:
        patch(cycles_module, "_search", lambda *a, **k: None)  # sizing never runs
    try:
        eng = _Engine(work, adapters, warm)
        feed = eng.wiring.feed
        delivery = feed.delivery
        finder = eng.finder
        on_update = eng.pipeline.on_update
        if staged:
            import solarb.rpc.client as client_module  # decode_account: every feed's decoder
            patch(client_module, "b64decode", timed(client_module.b64decode, "base64"))
            fake_orjson = types.SimpleNamespace(loads=timed(ws_module.orjson.loads, "parse"),
                                                JSONDecodeError=ws_module.orjson.JSONDecodeError,
                                                dumps=ws_module.orjson.dumps)
            patch(ws_module, "orjson", fake_orjson)
            delivery.offer = timed(delivery.offer, "offer")
            for conn in eng.wiring.conns:  # each shard's account notifications (_ShardNotes)
                conn.on_account = timed(conn.on_account, "note")
            eng.market.apply = timed(eng.market.apply, "apply")  # type: ignore[method-assign]
            finder.on_pool_changed = timed(  # type: ignore[method-assign]
                finder.on_pool_changed, "filter")
            risk = eng.pipeline.risk
            risk.evaluate = timed(risk.evaluate, "risk")  # type: ignore[method-assign]
            view = eng.pipeline.view
            view.stale_pool = timed(view.stale_pool, "freshness")  # type: ignore[method-assign]
            on_update = timed(on_update, "pipeline")
            drain_now = timed(delivery.drain_now, "drain")
        else:
            drain_now = delivery.drain_now
        conns = eng.wiring.conns
        dispatch = [timed(c._dispatch, "dispatch") if staged else c._dispatch for c in conns]
        frames = work["frames"]
        settle = eng.pipeline.settle
        pools = eng.market.pools
        total = array("q")
        quiet_idx: list[int] = []
        kinds: list[str] = []
        per_stage = {s: array("q") for s in STAGES}
        mono = time.monotonic_ns
        gc.collect()
        gc.freeze()
        if profile is not None:
            profile.enable()
        for index, is_account, frame in frames:
            if staged:
                for s in STAGES:
                    acc[s] = 0
            c = conns[index]
            t0 = mono()
            c.frame_recv_ns = t0
            dispatch[index](frame)
            if not is_account:
                continue
            sized0 = finder.sized
            drain_now(on_update)
            total.append(mono() - t0)
            settle()  # untimed, as solarb bench (the node: Delivery.on_idle, settle_soon)
            if finder.sized == sized0:
                quiet_idx.append(len(total) - 1)
            if staged:
                for s in STAGES:
                    per_stage[s].append(acc[s])
        if profile is not None:
            profile.disable()
        gc.unfreeze()
        # kinds, from the frames' subscriptions (after the pass: not timed)
        sub_key = {sid: pk for pk, sid, _ in work["subs"]}
        import orjson
        for _, is_account, frame in frames:
            if is_account:
                pk = Pubkey.from_bytes(sub_key[orjson.loads(frame)["params"]["subscription"]])
                kinds.append("pool" if pk in pools else "clock" if pk == CLOCK_SYSVAR
                             else "array" if len(frame) > 4000 else "vault/other")
    finally:
        for obj, name, old in reversed(patches):
            setattr(obj, name, old)
    return {"samples_ns": total, "stages_ns": per_stage, "quiet_idx": quiet_idx,
            "kinds": kinds, "evaluations": finder.evaluations, "passed": finder.passed,
            "delivered": feed.counters.delivered, "garbled": feed.counters.garbled}


def _min_over(passes: list[list[int]] | list[array]) -> list[int]:
    """Per update, the fastest of the passes (same frames, same state): robust against the
    preemption spikes of a shared machine."""
    return [min(col) for col in zip(*passes)]


def report(plains: list[dict[str, Any]], stageds: list[dict[str, Any]]) -> dict[str, Any]:
    """Summaries over the passes (see the module doc)."""
    first = plains[0]
    quiet_idx, kinds = first["quiet_idx"], first["kinds"]
    quiet = set(quiet_idx)
    best = _min_over([p["samples_ns"] for p in plains])
    passed_idx = [i for i in range(len(best)) if i not in quiet]
    by_kind: dict[str, list[int]] = {}
    for i in quiet_idx:
        by_kind.setdefault(kinds[i], []).append(best[i])
    out: dict[str, Any] = {
        "passes": len(plains),
        "updates": len(best),
        "quiet_updates": len(quiet_idx),
        "evaluations": first["evaluations"], "passed_filter": first["passed"],
        "delivered": first["delivered"], "garbled": first["garbled"],
        "first_pass_quiet_us": _summary([first["samples_ns"][i] for i in quiet_idx]),
        "quiet_us": _summary([best[i] for i in quiet_idx]),
        "passed_filter_us": _summary([best[i] for i in passed_idx]),
        "all_us": _summary(best),
        "quiet_by_kind_us": {k: _summary(v) for k, v in sorted(by_kind.items())},
    }
    if stageds:
        stages = {st: _min_over([p["stages_ns"][st] for p in stageds]) for st in STAGES}

        def means(idx: list[int]) -> dict[str, float]:
            n = max(1, len(idx))
            row = {st: round(sum(stages[st][i] for i in idx) / n / 1000, 2) for st in STAGES}
            row["sum"] = round(sum(row.values()), 2)
            return row

        out["stages_quiet_mean_us"] = means(quiet_idx)
        out["stages_passed_filter_mean_us"] = means(passed_idx)
        out["stages_quiet_by_kind_mean_us"] = {
            k: means([i for i in quiet_idx if kinds[i] == k]) for k in sorted(by_kind)}
    return out


def feed_only(work: dict[str, Any], passes: int) -> dict[str, float]:
    """The feed alone (``_dispatch`` -> ``drain_now`` into a no-op consumer) over the account
    frames, us per update: the fastest of ``passes`` passes, and orjson.loads alone for scale."""
    import orjson

    keys = [Pubkey.from_bytes(pk) for pk, _, _ in work["subs"]]
    wiring = _Wiring(keys, lambda s: None)
    conns = wiring.conns
    delivery = wiring.feed.delivery
    frames = [(conns[i], conns[i]._dispatch, f)
              for i, is_account, f in work["frames"] if is_account]

    def consume(upd: Any) -> None:
        return None

    best = best_parse = float("inf")
    gc.collect()
    gc.freeze()  # as solarb bench does
    for _ in range(passes):
        for ep in wiring.feed.endpoints:  # same frames again: forget what was delivered
            ep.stats.seen.clear()
        delivery._delivered.clear()
        t0 = time.perf_counter_ns()
        for conn, dispatch, frame in frames:
            conn.frame_recv_ns = t0
            dispatch(frame)
            delivery.drain_now(consume)
        best = min(best, time.perf_counter_ns() - t0)
        t0 = time.perf_counter_ns()
        for _, _, frame in frames:
            orjson.loads(frame)
        best_parse = min(best_parse, time.perf_counter_ns() - t0)
    gc.unfreeze()
    n = len(frames)
    if wiring.feed.counters.garbled or wiring.feed.counters.delivered != n * passes:
        raise SystemExit("feed-only pass did not deliver every frame")
    return {"feed_us_per_update": round(best / n / 1000, 2),
            "orjson_loads_us": round(best_parse / n / 1000, 2), "passes": passes}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load the workload, run both passes and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, default=1000)
    ap.add_argument("--updates", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="cProfile the plain pass")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--sizing", action="store_true",
                    help="keep exact sizing (as solarb bench): quiet updates then share the "
                         "process with it (caches, GC)")
    ap.add_argument("--feed-only", action="store_true",
                    help="only the feed stages (parse, base64, AccountUpdate, dedupe, drain)")
    ap.add_argument("--no-warm", action="store_true",
                    help="skip the warm-up solarb bench runs before its replay (cold caches)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="passes of each kind; per update (and stage) the fastest is reported")
    args = ap.parse_args(argv)
    work = load_workload(args.pools, args.updates, args.seed)
    frames = work["frames"]
    print(f"workload: {args.pools} pools, {sum(f[1] for f in frames)} account frames, "
          f"{sum(not f[1] for f in frames)} slot frames, mean frame "
          f"{sum(len(f[2]) for f in frames) // len(frames)} B")
    import orjson
    if args.feed_only:
        print(orjson.dumps(feed_only(work, max(args.repeat, 5))).decode())
        return
    warm = not args.no_warm
    plains = [replay(work, staged=False, sizing=args.sizing, warm=warm)
              for _ in range(args.repeat)]
    stageds = [replay(work, staged=True, sizing=args.sizing, warm=warm)
               for _ in range(args.repeat)]
    print(orjson.dumps(report(plains, stageds), option=orjson.OPT_INDENT_2).decode())
    if args.profile:
        prof = cProfile.Profile()
        replay(work, staged=False, profile=prof, sizing=args.sizing, warm=warm)
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(args.top)
        print(buf.getvalue())


if __name__ == "__main__":
    main()
