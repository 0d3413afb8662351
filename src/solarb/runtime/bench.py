"""``solarb bench``: the hot path under a synthetic but realistic account-update stream.

Workload (generated in a child process, never timed, so the engine's peak RSS is its own):
N pools over all five DEXes (20 % each: Raydium AMM v4 and CPMM, 60 % concentrated: Orca
Whirlpool, Raydium CLMM, Meteora DLMM, each with positions or bins over at least three tick or
bin arrays) built by the sim factories into a :class:`~solarb.sim.bank.Bank`. Every token pairs
with SOL (twice) and USDC, plus a few SOL/USDC hub pools, so 2- and 3-hop cycles from SOL exist.
Noise traders send real signed swaps through the Bank (mean-reverting towards a reference price;
a few large "injected" swaps dislocate a pool); a Bank listener turns each write of a watched
account (pools, vaults, tick/bin arrays, the Clock) into an ``accountNotification`` frame (JSON
text, base64 data, the subscription id) and each new slot into ``slotNotification`` frames.

Replay (timed, in this process), through the objects :mod:`solarb.runtime.node` builds:
``PubSubConnection._dispatch`` (orjson) -> the shard's ``on_account`` (``_ShardNotes``: base64
decode, dedupe) -> ``Delivery.drain_now`` -> :meth:`Pipeline.on_update` (``MarketState.apply``,
``CycleFinder.on_pool_changed``, ``RiskEngine``) -> for approved orders ``TxBuilder.build_raw``
(compile + sign a v0 transaction against the lookup tables the node would create: every pool
route's static accounts, :mod:`solarb.execution.route_tables`; ``tx_bytes`` in the result).
Detection latency is frame handed over -> ``on_update`` returned (the decision taken);
build+sign is timed on its own; then, untimed, ``Pipeline.settle`` frees what detection retired
(as the node's ``Delivery.on_idle`` has it done after the order's build). The cyclic GC runs the
node's policy (:mod:`solarb.runtime.gc_policy`): started once loaded, polled between chunks of frames (no
frame pending: an idle moment; its collections count in the replay's time and CPU, not in any
update's latency); ``gc`` in the result has its counters. Before the replay, untimed, the node's
warm-up (:mod:`solarb.runtime.warm`: every quoter bound, the rate table filled, every freshness
group laid out); ``warm`` in the result has its time and resident memory before/after.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gc
import itertools
import multiprocessing
import resource
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex.base import DexAdapter
from solarb.dex.registry import ADAPTERS
from solarb.errors import Fatal
from solarb.events import AccountUpdate
from solarb.execution.builder import TxBuilder
from solarb.execution.errors import BuildError
from solarb.execution.route_tables import route_addresses, tables_of
from solarb.feeds.freshness import MarketFreshness, pool_accounts
from solarb.feeds.pubsub import PubSubFeed
from solarb.feeds.pubsub_shards import _ShardNotes
from solarb.market.state import MarketState
from solarb.native import status as native_status
from solarb.risk.engine import RiskEngine, RiskLimits
from solarb.rpc.ws import PubSubConnection
from solarb.runtime.clock import SystemClock
from solarb.runtime.gc_policy import GcPolicy, updates_pending
from solarb.runtime.killswitch import watch_stop
from solarb.runtime.pipeline import Pipeline
from solarb.runtime.status import RunStats
from solarb.runtime.warm import warm_up
from solarb.strategy.cycles import CycleFinder

__all__ = ["BenchConfig", "BenchError", "bench_adapters", "run_bench"]

_DEX_MODULES = (raydium_amm_v4, raydium_cpmm, orca_whirlpool, raydium_clmm, meteora_dlmm)
_CHUNK = 250  # frames fetched from the generator per round trip (harness memory: ~0.6 MB)
_SUBS_PER_CONNECTION = 1_000


class BenchError(Fatal):
    """The workload could not be generated or loaded."""


@dataclass(slots=True, frozen=True)
class BenchConfig:
    """Workload size and shape. ``updates`` counts account notifications (slot frames extra)."""

    pools: int = 1_000
    updates: int = 100_000
    seed: int = 7
    swaps_per_slot: int = 400  # a new slot (Clock write + slot frames) after this many swaps
    inject_every: int = 50  # one dislocating swap per this many swaps (0: none)
    max_notional: int = 50 * 10**9  # SOL base units
    min_profit: int = 20_000
    gc_policy: bool = True  # the node's collector policy (runtime.gc_policy); False: defaults
    warm: bool = True  # the node's warm-up (runtime.warm) before the replay; False: cold caches
    idle_seconds: float = 2.0  # then the engine's consumer tasks idle this long (CPU measured)


def bench_adapters() -> dict[Pubkey, DexAdapter]:
    """Every DEX adapter: the registry's plus the five modules (until all are registered)."""
    out: dict[Pubkey, DexAdapter] = {m.PROGRAM_ID: m for m in _DEX_MODULES}  # type: ignore[misc]
    out.update(ADAPTERS)
    return out


# ----------------------------------------------------------------------------- replay side


def _percentiles(samples: array, qs: tuple[float, ...]) -> list[float]:
    data = sorted(samples)
    if not data:
        return [0.0 for _ in qs]
    return [round(data[min(len(data) - 1, int(q * len(data)))] / 1000, 1) for q in qs]


def _summary(samples: array) -> dict[str, float]:
    p50, p99, pmax = _percentiles(samples, (0.5, 0.99, 1.0))
    return {"p50": p50, "p99": p99, "max": pmax, "updates": len(samples)}


def _update(pk: bytes, owner: bytes, lamports: int, data: bytes, slot: int) -> AccountUpdate:
    return AccountUpdate(Pubkey.from_bytes(pk), slot, data, Pubkey.from_bytes(owner), lamports)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


class _Wiring:
    """The feed's parsing objects with their subscriptions set as a live session leaves them."""

    def __init__(
        self, keys: Iterable[Pubkey | tuple[Pubkey, ...]], on_slot: Callable[[int], None]
    ) -> None:
        feed = PubSubFeed("ws://bench.invalid", None,  # type: ignore[arg-type]
                          subscriptions_per_connection=_SUBS_PER_CONNECTION, ping_interval=None)
        feed.watch(keys)
        feed._on_slot = on_slot  # what run() installs
        self.feed = feed
        self.conns: list[PubSubConnection] = []
        self.subs: list[tuple[bytes, int, int]] = []  # (pubkey, sub id, connection index)
        self.slot_subs: list[tuple[int, int]] = []  # (sub id, connection index)
        sub_ids = itertools.count(1)
        for shard in feed.endpoints[0].shards:
            conn = PubSubConnection(feed.endpoints[0].url, on_account=_ShardNotes(feed, shard))
            index = len(self.conns)
            self.conns.append(conn)
            shard.conn = conn
            shard.live = True
            sid = next(sub_ids)
            conn._subs[sid] = functools.partial(feed._on_slot_note, shard)
            self.slot_subs.append((sid, index))
            for pk in shard.keys:
                sid = next(sub_ids)
                conn._subs[sid] = pk  # routed to on_account, as _add_pending subscribes
                shard.subs[pk] = sid
                self.subs.append((bytes(pk), sid, index))
            shard.pending_add.clear()
        feed._update_fresh_flag()


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Generate the workload in a child process, replay it through the hot path, and return the
    figures (see the module docstring and ``solarb bench --help``)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_generator_main, args=(child, cfg), daemon=True)
    proc.start()
    child.close()
    try:
        return _replay(parent, cfg)
    finally:
        try:
            parent.send(("stop",))
        except (BrokenPipeError, OSError):
            pass
        parent.close()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def _ask(conn: Any, *msg: Any) -> Any:
    conn.send(msg)
    reply = conn.recv()
    if isinstance(reply, tuple) and reply and reply[0] == "error":
        raise BenchError(f"bench generator failed: {reply[1]}")
    return reply


def _replay(conn: Any, cfg: BenchConfig) -> dict[str, Any]:
    gen_started = time.monotonic()
    info = _ask(conn, "info")
    sol = Pubkey.from_bytes(info["sol"])
    market = MarketState(bench_adapters())
    pool_keys = [Pubkey.from_bytes(k) for k in info["pools"]]
    for i in range(0, len(pool_keys), 500):
        for row in _ask(conn, "get", [bytes(k) for k in pool_keys[i:i + 500]]):
            market.add_pool(_update(*row))
    aux = [k for k in market.watched_accounts() if k not in market.pools]
    for i in range(0, len(aux), 500):
        for row in _ask(conn, "get", [bytes(k) for k in aux[i:i + 500]]):
            market.apply(_update(*row))
    not_ready = [p for p, e in market.pools.items() if not e.ready]
    if not_ready:
        raise BenchError(f"{len(not_ready)} pools not fully loaded (first {not_ready[0]})")

    finder = CycleFinder(market, start_mints=[sol], max_hops=3, min_profit={sol: cfg.min_profit},
                         max_amount_in={sol: cfg.max_notional})
    finder.rebuild()
    limits = RiskLimits(max_notional={sol: cfg.max_notional}, min_profit={sol: cfg.min_profit},
                        max_in_flight=64, max_slot_lag=8)
    risk = RiskEngine(limits)
    stats = RunStats()
    pipeline_box: list[Pipeline] = []
    wiring = _Wiring(pool_accounts(market), lambda s: pipeline_box[0].on_slot(s))
    freshness = MarketFreshness(market, wiring.feed)
    pipeline = Pipeline(market, finder, risk, cfg.min_profit, SystemClock(), stats, freshness)
    pipeline_box.append(pipeline)
    payer = Keypair.from_seed(bytes(range(32)))
    # the lookup tables the node creates at start-up (every pool route's static accounts), here
    # as table accounts in memory: the messages have the node's size and compile path
    addresses = route_addresses(
        payer.pubkey(), ((e.adapter, e.state, market.aux(p)) for p, e in market.pools.items()))
    tables = tables_of(payer.pubkey(), addresses)
    builder = TxBuilder(payer,
                        lambda p: (market.pool(p).adapter, market.pool(p).state, market.aux(p)),
                        compute_unit_limit=600_000, priority_fee_micro_lamports=10_000,
                        min_profit=cfg.min_profit, lookup_tables=tables)
    blockhash = Hash(bytes(32))
    _ask(conn, "watch", wiring.subs, wiring.slot_subs)
    watched = len(wiring.subs)
    wiring.subs = []  # the harness's list for the generator, not engine memory: free it
    gen_s = time.monotonic() - gen_started
    # untimed, as the node does once loaded: bind every quoter, fill the rate table, lay out
    # every freshness group (the feed's subscriptions are set above)
    warmed = warm_up(finder, freshness, builder=builder) if cfg.warm else None

    n = cfg.updates
    detect = array("q", bytes(8 * n))
    build_ns = array("q")
    quiet = array("q")  # updates where no cycle passed the float filter
    busy = array("q")  # updates that sized at least one cycle exactly
    dispatch = [c._dispatch for c in wiring.conns]
    conns = wiring.conns
    delivery = wiring.feed.delivery
    on_update = pipeline.on_update
    settle = pipeline.settle
    delivery.on_idle = pipeline.settle_soon  # the node's hook (the idle figure's loop calls it)
    orders = pipeline.orders
    decisions = pipeline.decisions
    now = time.perf_counter_ns
    mono = time.monotonic_ns
    policy = GcPolicy()
    if cfg.gc_policy:
        policy.start()  # as the node does once loaded: collect, freeze, old generations manual
    poll = policy.poll
    done = 0
    slot_frames = 0
    built = build_errors = 0
    tx_bytes = tx_bytes_max = 0
    busy_ns = 0
    cpu_ns = 0
    fetch_s = 0.0
    frame_bytes = 0
    while done < n:
        t_fetch = time.monotonic()
        frames = _ask(conn, "frames", min(_CHUNK, n - done))
        fetch_s += time.monotonic() - t_fetch
        wall0 = now()
        cpu0 = time.process_time_ns()
        for index, is_account, frame in frames:
            frame_bytes += len(frame)
            c = conns[index]
            t0 = mono()
            c.frame_recv_ns = t0
            dispatch[index](frame)
            if not is_account:
                slot_frames += 1
                continue
            sized0 = finder.sized
            delivery.drain_now(on_update)
            ns = mono() - t0
            detect[done] = ns
            done += 1
            (quiet if finder.sized == sized0 else busy).append(ns)
            while not orders.empty():
                order = orders.get_nowait()
                b0 = now()
                try:
                    size = len(builder.build_raw(order, blockhash))  # what the executor sends
                    build_ns.append(now() - b0)
                    built += 1
                    tx_bytes += size
                    tx_bytes_max = max(tx_bytes_max, size)
                except BuildError:
                    build_errors += 1
                pipeline.in_flight -= 1
            while not decisions.empty():
                decisions.get_nowait()
            settle()  # as the node's Delivery.on_idle has it done: after the order's build
        poll()  # between chunks nothing is pending: an idle moment, as the node's GC task sees
        busy_ns += now() - wall0
        cpu_ns += time.process_time_ns() - cpu0
    gc_figures = policy.snapshot()  # the collections during the replay
    if policy.started:  # untimed: the freeze collection a node would run next (what is new since
        # the last freeze), the idle engine with the policy's task, then the deep collection of
        # stop (its "collected": cyclic garbage left among the frozen objects)
        unfrozen = len(gc.get_objects(0)) + len(gc.get_objects(1)) + len(gc.get_objects(2))
        freeze_ns = policy.collect("freeze")
        idle_pct = asyncio.run(_idle_cpu_pct(pipeline, wiring.feed, cfg.idle_seconds, policy))
        collected = policy.stats.collected
        t0 = now()
        policy.stop()
        gc_figures["after_replay"] = {"unfrozen": unfrozen, "freeze_ms": round(freeze_ns / 1e6, 2),
                                      "deep_ms": round((now() - t0) / 1e6, 2),
                                      "deep_collected": policy.stats.collected - collected}
    else:
        gc.collect()
        idle_pct = asyncio.run(_idle_cpu_pct(pipeline, wiring.feed, cfg.idle_seconds, None))
    gen_info = _ask(conn, "stats")
    p50, p99, pmax = _percentiles(detect, (0.5, 0.99, 1.0))
    b50, b99 = _percentiles(build_ns, (0.5, 0.99))
    by_dex: dict[str, int] = {}
    for entry in market.pools.values():
        by_dex[entry.adapter.NAME] = by_dex.get(entry.adapter.NAME, 0) + 1
    return {
        "pools": len(market.pools),
        "pools_by_dex": by_dex,
        "watched_accounts": watched,
        "cycles": finder.cycles,
        "updates": done,
        "slot_frames": slot_frames,
        "updates_per_s": round(done / (busy_ns / 1e9)) if busy_ns else 0,
        "detect_latency_us": {"p50": p50, "p99": p99, "max": pmax},
        "build_sign_us": {"p50": b50, "p99": b99},
        "detect_filtered_only_us": _summary(quiet),
        "detect_with_sizing_us": _summary(busy),
        "cpu_us_per_update": round(cpu_ns / 1000 / done, 2) if done else 0.0,
        "rss_mb": _peak_rss_mb(),
        "idle_cpu_pct": idle_pct,
        "mean_frame_bytes": round(frame_bytes / max(1, done + slot_frames)),
        "pool_changes": stats.pool_changes,
        "evaluations": finder.evaluations,
        "sized": finder.sized,
        "sizing": {"passed_filter": finder.passed, "skipped": finder.skipped,
                   "quotes": finder.quotes, "fallbacks": finder.fallbacks,
                   "quote_faults": finder.quote_faults,
                   "quotes_per_sizing": round(finder.quotes / finder.sized, 2) if finder.sized else 0},
        "opportunities": stats.opportunities,
        "decisions": stats.orders + stats.rejected,
        "approved": stats.orders,
        "rejected": stats.rejected,
        "rejections": dict(risk.rejections),
        "built": built,
        "build_errors": build_errors,
        "tx_bytes": {"mean": round(tx_bytes / built) if built else 0, "max": tx_bytes_max},
        "lookup_tables": {"tables": len(tables), "addresses": len(addresses)},
        "feed": _feed_counts(wiring.feed),
        "market": {"decode_errors": market.decode_errors, "stale_updates": market.stale_updates,
                   "unknown_updates": market.unknown_updates},
        "generator": gen_info,
        "setup_s": round(gen_s, 2),
        "generate_s": round(fetch_s, 2),
        "replay_s": round(busy_ns / 1e9, 3),
        "gc": gc_figures,
        "warm": None if warmed is None else warmed.figures(),
        "warm_s": None if warmed is None else round(warmed.seconds, 3),
        "native": native_status(),
    }


async def _idle_cpu_pct(pipeline: Pipeline, feed: PubSubFeed, seconds: float,
                        policy: GcPolicy | None) -> float:
    """CPU share of one core used by the engine's consumer tasks while no frame arrives: the
    delivery loop, the journal and order consumers, the kill-switch watcher and the GC policy's
    task, as node runs them."""
    if seconds <= 0:
        return 0.0

    async def drain(queue: asyncio.Queue[Any]) -> None:
        while True:
            await queue.get()

    with tempfile.TemporaryDirectory() as tmp:
        tasks = [
            asyncio.create_task(feed.delivery.run(pipeline.on_update)),
            asyncio.create_task(drain(pipeline.decisions)),
            asyncio.create_task(drain(pipeline.orders)),
            asyncio.create_task(watch_stop(Path(tmp), lambda reason: None)),
        ]
        if policy is not None:
            tasks.append(asyncio.create_task(policy.run(updates_pending(feed))))
        await asyncio.sleep(0.05)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return round(100 * cpu / wall, 2)


def _feed_counts(feed: PubSubFeed) -> dict[str, int]:
    c = feed.counters
    return {"notifications": c.notifications, "delivered": c.delivered, "duplicates": c.duplicates,
            "dropped_stale": c.dropped_stale, "coalesced": c.coalesced, "garbled": c.garbled,
            "slots": c.slots}


# ----------------------------------------------------------------------------- generator side


def _generator_main(conn: Any, cfg: BenchConfig) -> None:
    from solarb.runtime.bench_workload import Workload  # the Bank and models: child only

    try:
        work = Workload(cfg.pools, cfg.seed, cfg.swaps_per_slot, cfg.inject_every)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises
        conn.recv()
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        try:
            if msg[0] == "stop":
                return
            if msg[0] == "info":
                conn.send({"sol": bytes(work.sol), "pools": [bytes(p) for p in work.pool_keys]})
            elif msg[0] == "get":
                conn.send(work.accounts([Pubkey.from_bytes(k) for k in msg[1]]))
            elif msg[0] == "watch":
                work.watch(msg[1], msg[2])
                conn.send("ok")
            elif msg[0] == "frames":
                conn.send(work.frames(msg[1]))
            elif msg[0] == "stats":
                conn.send(work.stats())
        except Exception as e:  # noqa: BLE001 - reported to the parent, which raises
            conn.send(("error", f"{type(e).__name__}: {e}"))
            return


def encode_account_frame(sub_id: int, slot: int, lamports: int, owner: str, data: bytes) -> bytes:
    """An ``accountNotification`` frame as a Solana node sends it (base64 encoding)."""
    return orjson.dumps({
        "jsonrpc": "2.0", "method": "accountNotification",
        "params": {"result": {"context": {"slot": slot}, "value": {
            "lamports": lamports, "data": [base64.b64encode(data).decode(), "base64"],
            "owner": owner, "executable": False, "rentEpoch": 18446744073709551615,
            "space": len(data)}}, "subscription": sub_id},
    })


def encode_slot_frame(sub_id: int, slot: int) -> bytes:
    """A ``slotNotification`` frame."""
    return orjson.dumps({"jsonrpc": "2.0", "method": "slotNotification",
                         "params": {"result": {"parent": slot - 1, "root": max(0, slot - 32),
                                               "slot": slot}, "subscription": sub_id}})

