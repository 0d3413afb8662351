"""Pipeline decisions over the bench's wiring: the orders and verdicts it hands over, the clock
it reads (a manual one, and one swapped in later)."""

from __future__ import annotations

import asyncio

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate, Order, Verdict
from solarb.feeds.freshness import MarketFreshness
from solarb.market.state import MarketState
from solarb.risk.engine import RiskEngine, RiskLimits
from solarb.runtime.bench import _Wiring, bench_adapters
from solarb.runtime.bench_workload import Workload
from solarb.runtime.clock import ManualClock
from solarb.runtime.pipeline import Pipeline
from solarb.runtime.status import RunStats
from solarb.strategy.cycles import CycleFinder

MIN_PROFIT = 20_000


def _update(pk: bytes, owner: bytes, lamports: int, data: bytes, slot: int) -> AccountUpdate:
    return AccountUpdate(Pubkey.from_bytes(pk), slot, data, Pubkey.from_bytes(owner), lamports)


def _wired(max_in_flight: int, clock: ManualClock) -> tuple[Pipeline, Workload, _Wiring]:
    work = Workload(12, 5, swaps_per_slot=200, inject_every=4)
    market = MarketState(bench_adapters())
    for row in work.accounts(work.pool_keys):
        market.add_pool(_update(*row))
    for row in work.accounts([k for k in market.watched_accounts() if k not in market.pools]):
        market.apply(_update(*row))
    sol = work.sol
    finder = CycleFinder(market, start_mints=[sol], max_hops=3, min_profit={sol: MIN_PROFIT},
                         max_amount_in={sol: 50 * 10**9})
    finder.rebuild()
    risk = RiskEngine(RiskLimits(max_notional={sol: 50 * 10**9}, min_profit={sol: MIN_PROFIT},
                                 max_in_flight=max_in_flight, max_slot_lag=8))
    box: list[Pipeline] = []
    wiring = _Wiring(market.watched_accounts(), lambda s: box[0].on_slot(s))
    pipeline = Pipeline(market, finder, risk, MIN_PROFIT, clock, RunStats(),
                        MarketFreshness(market, wiring.feed))
    box.append(pipeline)
    work.watch(wiring.subs, wiring.slot_subs)
    return pipeline, work, wiring


def _replay(pipeline: Pipeline, work: Workload, wiring: _Wiring, n: int, recv_ns: int) -> None:
    delivery = wiring.feed.delivery
    for index, is_account, frame in work.frames(n):
        conn = wiring.conns[index]
        conn.frame_recv_ns = recv_ns
        conn._dispatch(frame)
        if is_account:
            delivery.drain_now(pipeline.on_update)


def test_orders_and_verdicts_handed_over() -> None:
    clock = ManualClock(start_ns=5_000)
    pipeline, work, wiring = _wired(max_in_flight=3, clock=clock)  # orders never resolved
    _replay(pipeline, work, wiring, 400, recv_ns=1_000)
    stats = pipeline.stats
    decisions = []
    while not pipeline.decisions.empty():
        decisions.append(pipeline.decisions.get_nowait())
    orders = []
    while not pipeline.orders.empty():
        orders.append(pipeline.orders.get_nowait())
    assert stats.orders == len(orders) == pipeline.in_flight == 3
    assert stats.rejected == len(decisions) - 3 > 0
    approved = [opp for opp, v in decisions if v.approved]
    for (opp, verdict) in decisions:
        assert type(verdict) is Verdict and verdict.opportunity_id == opp.id
        assert verdict == (Verdict(opp.id, True, "") if verdict.approved else
                           Verdict(opp.id, False, "max_in_flight: 3 in flight, limit 3"))
    for opp, order in zip(approved, orders, strict=True):
        assert type(order) is Order and order.opportunity is opp
        assert order == Order(opp.id, opp, min_out=opp.amount_in + MIN_PROFIT)
    assert pipeline.risk.rejections == {"max_in_flight": stats.rejected}
    # every sample is the manual clock's time minus the frame's receive time
    n = min(stats.latency_samples, 50)
    assert n > 0 and set(stats.latencies_ns[:n]) == {4_000}


def test_a_clock_swapped_in_is_read() -> None:
    pipeline, work, wiring = _wired(max_in_flight=64, clock=ManualClock(start_ns=5_000))
    _replay(pipeline, work, wiring, 40, recv_ns=1_000)
    first = pipeline.stats.latency_samples
    assert first > 0
    later = ManualClock(start_ns=9_000)
    pipeline.clock = later
    assert pipeline.clock is later
    _replay(pipeline, work, wiring, 40, recv_ns=1_000)
    samples = pipeline.stats.latency_samples
    assert samples > first
    assert set(pipeline.stats.latencies_ns[first:samples]) == {8_000}


def _decided(pipeline: Pipeline) -> list[tuple[int, int, bool]]:
    out = []
    while not pipeline.decisions.empty():
        opp, verdict = pipeline.decisions.get_nowait()
        out.append((opp.amount_in, opp.amount_out, verdict.approved))
    return out


def test_settle_frees_what_detection_retired_and_changes_no_decision() -> None:
    """``settle`` after each update (as the node's ``Delivery.on_idle``) frees the changed pools'
    replaced quoters the finder kept off the detection path, and the decisions are those of a
    pipeline that never settles (its finder frees them at its next change)."""
    plain, work, wiring = _wired(max_in_flight=64, clock=ManualClock(start_ns=5_000))
    _replay(plain, work, wiring, 300, recv_ns=1_000)
    settled, work2, wiring2 = _wired(max_in_flight=64, clock=ManualClock(start_ns=5_000))
    delivery = wiring2.feed.delivery
    freed = []
    for index, is_account, frame in work2.frames(300):
        wiring2.conns[index].frame_recv_ns = 1_000
        wiring2.conns[index]._dispatch(frame)
        if is_account:
            delivery.drain_now(settled.on_update)
            freed.append(settled.settle())
            assert settled.settle() == 0  # nothing is held once settled
    assert sum(n > 0 for n in freed) > 10
    assert _decided(settled) == _decided(plain) != []
    assert settled.stats.orders == plain.stats.orders > 0


def test_settle_soon_runs_after_what_the_update_woke() -> None:
    """The node's ``Delivery.on_idle`` (``settle_soon``) frees what detection retired only after
    the tasks the update woke (the executor's build) have run, not in the delivery's own step."""
    pipeline, work, wiring = _wired(max_in_flight=64, clock=ManualClock(start_ns=5_000))
    _replay(pipeline, work, wiring, 60, recv_ns=1_000)
    events: list[str] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(events.append, "build")  # woken before the delivery's idle hook runs
        held = pipeline.finder.release  # what settle frees, counted
        pipeline.finder.release = lambda: events.append("settle") or held()  # type: ignore[method-assign]
        pipeline.settle_soon()
        events.append("idle hook returned")
        await asyncio.sleep(0)

    asyncio.run(go())
    assert events == ["idle hook returned", "build", "settle"]
