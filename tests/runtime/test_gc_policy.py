"""The engine's GC policy: a soak over the real pipeline with cyclic garbage, and its time bound."""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections import deque
from collections.abc import Iterator

import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds.freshness import MarketFreshness
from solarb.market.state import MarketState
from solarb.risk.engine import RiskEngine, RiskLimits
from solarb.runtime.bench import _Wiring, bench_adapters
from solarb.runtime.bench_workload import Workload
from solarb.runtime.clock import SystemClock
from solarb.runtime.gc_policy import GcPolicy, GcSettings, updates_pending
from solarb.runtime.pipeline import Pipeline
from solarb.runtime.status import RunStats
from solarb.strategy.cycles import CycleFinder

SEC = 1_000_000_000


class _Cycle:
    """A piece of cyclic garbage (refers to itself) with a payload, counted while alive."""

    alive = 0

    def __init__(self) -> None:
        self.me = self
        self.payload = bytearray(256)
        _Cycle.alive += 1

    def __del__(self) -> None:
        _Cycle.alive -= 1


class _FakeNs:
    """A monotonic ns clock moved by hand."""

    def __init__(self) -> None:
        self.ns = 10 * SEC

    def __call__(self) -> int:
        return self.ns


@pytest.fixture()
def restore_gc() -> Iterator[None]:
    before = (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count())
    yield
    assert (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()) == before
    gc.collect()


class _Engine:
    """The bench's wiring over an in-process workload: frames -> PubSub parsing -> delivery ->
    ``Pipeline.on_update`` (market, finder, risk), as the node runs it."""

    def __init__(self, pools: int, seed: int) -> None:
        work = Workload(pools, seed, swaps_per_slot=200, inject_every=10)
        market = MarketState(bench_adapters())
        for row in work.accounts(work.pool_keys):
            market.add_pool(self._update(*row))
        aux = [k for k in market.watched_accounts() if k not in market.pools]
        for row in work.accounts(aux):
            market.apply(self._update(*row))
        sol = work.sol
        finder = CycleFinder(market, start_mints=[sol], max_hops=3, min_profit={sol: 20_000},
                             max_amount_in={sol: 50 * 10**9})
        finder.rebuild()
        risk = RiskEngine(RiskLimits(max_notional={sol: 50 * 10**9}, min_profit={sol: 20_000},
                                     max_in_flight=64, max_slot_lag=8))
        box: list[Pipeline] = []
        wiring = _Wiring(market.watched_accounts(), lambda s: box[0].on_slot(s))
        self.pipeline = Pipeline(market, finder, risk, 20_000, SystemClock(), RunStats(),
                                 MarketFreshness(market, wiring.feed))
        box.append(self.pipeline)
        work.watch(wiring.subs, wiring.slot_subs)
        self.work, self.wiring = work, wiring

    @staticmethod
    def _update(pk: bytes, owner: bytes, lamports: int, data: bytes, slot: int) -> AccountUpdate:
        return AccountUpdate(Pubkey.from_bytes(pk), slot, data, Pubkey.from_bytes(owner), lamports)

    def replay(self, n: int) -> None:
        """``n`` account frames through the hot path; orders and decisions consumed."""
        p = self.pipeline
        delivery = self.wiring.feed.delivery
        frames = self.work.frames(n)
        # the generator's Bank keeps every transaction's record; in the bench it lives in the
        # child process, not in the engine's heap measured here
        self.work.bank._records.clear()
        for index, is_account, frame in frames:
            self.wiring.conns[index]._dispatch(frame)
            if is_account:
                delivery.drain_now(p.on_update)
            while not p.orders.empty():
                p.orders.get_nowait()
                p.in_flight -= 1
            while not p.decisions.empty():
                p.decisions.get_nowait()


class _RoundClock:
    """A monotonic ns clock the test moves by hand that also ticks 1 us on every read."""

    def __init__(self) -> None:
        self.ns = 10 * SEC

    def __call__(self) -> int:
        self.ns += 1_000
        return self.ns


def _unfrozen() -> int:
    return sum(len(gc.get_objects(g)) for g in range(3))


def test_soak_memory_stays_bounded_and_cycles_are_collected(restore_gc: None) -> None:
    engine = _Engine(pools=15, seed=11)
    settings = GcSettings(young_min=2_000, young_interval_s=0.2, freeze_interval_s=0.5,
                          deep_interval_s=1.5, max_delay_s=0.2, deep_max_delay_s=1.0,
                          young_limit=50_000)
    # the policy's time moves 50 ms a round, whatever the machine's speed (on a fast one the 60
    # rounds took less than one deep interval of wall time); +1 us a read: pauses are > 0
    clock = _RoundClock()
    policy = GcPolicy(settings, now_ns=clock)
    _Cycle.alive = 0
    policy.start()
    try:
        assert policy.started and gc.get_threshold() == (50_000, 1 << 30, 1 << 30)
        kept: deque[_Cycle] = deque()
        peak_alive = 0
        sizes = []
        rounds = 60
        for r in range(rounds):
            engine.replay(60)
            for _ in range(100):  # short-lived cyclic garbage: dies before any collection
                _Cycle()
            kept.append(_Cycle())  # long-lived: outlives freeze collections, then dies
            if len(kept) > 8:
                kept.popleft()
            peak_alive = max(peak_alive, _Cycle.alive)
            clock.ns += 50_000_000
            policy.poll(idle=True)
            if r in (rounds // 3, rounds - 1):
                policy.collect("freeze")
                sizes.append(_unfrozen() + gc.get_freeze_count())
        assert engine.pipeline.stats.updates == 60 * rounds
        # without collections 100 cycles a round would pile up to ~6,000; a young collection
        # runs at least every 2,000 new containers, a deep one frees the frozen long-lived ones
        assert peak_alive < 1_500
        # the heap does not grow with the run: the last third adds little to what the first had
        assert sizes[1] - sizes[0] < 0.1 * sizes[0], sizes
        st = policy.stats
        assert st.young >= 5 and st.freeze >= 2 and st.automatic == 0 and st.forced == 0
        assert st.collected >= 100 * (rounds - 10)  # the short-lived cycles were found
        policy.collect("deep")
        assert _Cycle.alive == len(kept)  # nothing but the live ones is left
        assert st.deep >= 2 and st.max_pause_ns > 0 and st.total_ns >= st.max_pause_ns
    finally:
        policy.stop()
    assert not policy.started


def test_cycles_pile_up_without_the_policy(restore_gc: None) -> None:
    # the control for the soak's bound: with the collector off the same garbage stays
    gc.disable()
    try:
        _Cycle.alive = 0
        for _ in range(3_000):
            _Cycle()
        assert _Cycle.alive == 3_000
    finally:
        gc.enable()
    gc.collect()
    assert _Cycle.alive == 0


def test_each_tier_collects_what_it_scans(restore_gc: None) -> None:
    policy = GcPolicy(GcSettings())
    _Cycle.alive = 0
    policy.start()
    try:
        _Cycle()
        policy.collect("young")  # died young: found by the young collection
        assert _Cycle.alive == 0
        survivor = _Cycle()
        policy.collect("young")  # survives into generation 1
        del survivor
        policy.collect("young")
        assert _Cycle.alive == 1  # a young collection scans generation 0 only
        policy.collect("freeze")
        assert _Cycle.alive == 0  # the freeze collection scans 0-1
        frozen = _Cycle()
        policy.collect("freeze")  # it survives and is frozen
        del frozen
        policy.collect("freeze")
        assert _Cycle.alive == 1  # nothing but a deep collection scans frozen objects
        policy.collect("deep")
        assert _Cycle.alive == 0
        assert policy.stats.young == 3 and policy.stats.freeze == 3 and policy.stats.deep == 1
    finally:
        policy.stop()


def test_time_bound_when_never_idle(restore_gc: None) -> None:
    clock = _FakeNs()
    s = GcSettings(young_interval_s=1.0, freeze_interval_s=5.0, max_delay_s=0.5,
                   deep_interval_s=100.0, deep_max_delay_s=20.0)
    policy = GcPolicy(s, now_ns=clock)
    policy.start()
    try:
        runs: list[tuple[int, str]] = []
        step = SEC // 20
        for _ in range(3_000):  # 150 s of a busy engine polled every 50 ms
            clock.ns += step
            kind = policy.poll(idle=False)
            if kind:
                runs.append((clock.ns, kind))
        times = [10 * SEC] + [t for t, _ in runs]
        assert max(b - a for a, b in itertools.pairwise(times)) <= int(1.5 * SEC) + step
        for kind, bound in (("freeze", 5.5), ("deep", 120.0)):  # interval + max delay
            ts = [10 * SEC] + [t for t, k in runs if k in (kind, "deep")]
            assert max(b - a for a, b in itertools.pairwise(ts)) <= int(bound * SEC) + step
        assert sum(k == "young" for _, k in runs) >= 60
        assert sum(k == "freeze" for _, k in runs) >= 20
        assert sum(k == "deep" for _, k in runs) == 1
        assert policy.stats.forced == len(runs)
    finally:
        policy.stop()


def test_idle_polls_collect_when_due(restore_gc: None) -> None:
    clock = _FakeNs()
    policy = GcPolicy(GcSettings(young_min=1_000, young_interval_s=1.0, freeze_min=2_500,
                                 deep_interval_s=10.0), now_ns=clock)
    policy.start()
    try:
        clock.ns += SEC // 2
        assert policy.poll(idle=True) is None  # nothing due yet
        junk = [[] for _ in range(2_000)]  # new containers past young_min
        assert policy.poll(idle=True) == "young"
        del junk
        clock.ns += SEC
        assert policy.poll(idle=False) is None  # due, but busy and not overdue
        assert policy.poll(idle=True) == "young"
        clock.ns += 10 * SEC
        assert policy.poll(idle=True) == "deep"
        assert policy.stats.forced == 0
        keep = [[] for _ in range(1_500)]
        assert policy.poll(idle=True) == "young"  # 1,500 survivors: below freeze_min
        keep += [[] for _ in range(1_500)]
        assert policy.poll(idle=True) == "young"
        assert policy.poll(idle=True) == "freeze"  # 3,000 kept since the freeze: its turn
        assert policy.poll(idle=True) is None
        junk = [[] for _ in range(policy.settings.young_limit // 2)]
        assert policy.poll(idle=False) == "young"  # busy, but before the automatic net
        assert policy.stats.forced == 1 and policy.stats.automatic == 0
        del junk, keep
    finally:
        policy.stop()


def test_automatic_safety_net_is_young_only(restore_gc: None) -> None:
    policy = GcPolicy(GcSettings(young_min=500, young_limit=1_000))
    policy.start()
    try:
        keep = [[] for _ in range(20_000)]  # past young_limit many times, never polled
        assert policy.stats.automatic >= 10
        assert policy.stats.young == policy.stats.deep == 0
        del keep
    finally:
        policy.stop()


async def test_node_task_bound_holds_in_real_time(restore_gc: None) -> None:
    s = GcSettings(young_interval_s=0.05, max_delay_s=0.05, check_interval_s=0.01)
    policy = GcPolicy(s)
    policy.start()
    seen: list[int] = []
    try:
        task = asyncio.create_task(policy.run(lambda: True))  # never idle
        for _ in range(60):
            await asyncio.sleep(0.01)
            if not seen or policy.stats.last_ns != seen[-1]:
                seen.append(policy.stats.last_ns)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        policy.stop(final=False)
    assert policy.stats.forced >= 3
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert gaps and max(gaps) < 0.25 * SEC  # 0.1 s bound + a poll, with slack for a busy box


def test_updates_pending_reads_the_feed_delivery() -> None:
    engine = _Engine(pools=10, seed=2)
    busy = updates_pending(engine.wiring.feed)
    assert not busy()
    frames = engine.work.frames(5)
    for index, is_account, frame in frames:
        engine.wiring.conns[index]._dispatch(frame)
    assert busy()
    engine.wiring.feed.delivery.drain_now(engine.pipeline.on_update)
    assert not busy()
    assert updates_pending(object())() is False


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        GcSettings(young_min=0)
    with pytest.raises(ValueError):
        GcSettings(young_min=10, young_limit=5)
    with pytest.raises(ValueError):
        GcSettings(check_interval_s=0)
    with pytest.raises(ValueError):
        GcSettings(freeze_min=0)
    with pytest.raises(ValueError):
        GcSettings(max_delay_s=-1)
    with pytest.raises(ValueError):
        GcPolicy().collect("full")


async def _polls_in(policy: GcPolicy, busy: bool, seconds: float) -> int:
    """How many times the node task polls ``policy`` in ``seconds`` of real time."""
    polls = 0
    poll = policy.poll

    def counted(idle: bool = True) -> str | None:
        nonlocal polls
        polls += 1
        return poll(idle)

    policy.poll = counted  # type: ignore[method-assign]
    task = asyncio.create_task(policy.run(lambda: busy))
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return polls


async def test_node_task_backs_off_while_idle_and_quiet_only(restore_gc: None) -> None:
    s = GcSettings(check_interval_s=0.01, idle_check_interval_s=0.08, young_interval_s=60.0)
    policy = GcPolicy(s)
    policy.start()
    try:
        idle = await _polls_in(policy, busy=False, seconds=0.8)
        busy = await _polls_in(policy, busy=True, seconds=0.8)
    finally:
        policy.stop(final=False)
    assert idle <= 20  # ~10 at the longest wait, plus the first doublings
    assert busy >= 40  # ~80 at check_interval_s: pending updates keep it short
