"""CycleFinder.on_pool_changed's own path: no Evaluation per sized cycle, each cycle's legs bound
from entries cached per cycle (forgotten on rebuild), the best picked without sorting."""

from __future__ import annotations

from solarb.market import MarketState
from solarb.strategy import CycleFinder, evaluate_cycle
from tests.strategy.test_cycles_ranking import CAP, Q, R, S, X, _market
from tests.strategy.test_cycles_ranking import _finder as _ranked_finder
from tests.support import cp_adapter as cp


def _finder(m: MarketState) -> CycleFinder:
    """Every cycle sized (no ``max_sized`` bound)."""
    return _ranked_finder(m, None)


def test_opportunities_carry_what_evaluate_cycle_sizes() -> None:
    m = _market([20_000, 10_000, 30_000])
    f = _finder(m)
    opps = f.on_pool_changed(X.pool, slot=2, ts_recv_ns=5, now_ns=6)
    assert len(opps) == 3 and [o.id for o in opps] == ["2-1", "2-2", "2-3"]
    assert [o.profit for o in opps] == sorted((o.profit for o in opps), reverse=True)
    by_pools = {c.pools: c for c in f.cycles_through(X.pool)}
    for o in opps:
        cycle = by_pools[tuple(h.pool for h in o.hops)]
        ev = evaluate_cycle(m, cycle, CAP)
        assert ev is not None
        assert (o.amount_in, o.amount_out) == (ev.amount_in, ev.amount_out)
        assert tuple((h.amount_in, h.amount_out) for h in o.hops) == ev.hops
        assert tuple(h.arrays for h in o.hops) == ev.arrays
        assert [h.dex for h in o.hops] == [cp.NAME] * len(o.hops)
        assert (o.start_mint, o.slot, o.ts_recv_ns, o.ts_detect_ns) == (S, 2, 5, 6)


def test_best_only_keeps_the_first_of_equal_profits() -> None:
    """Two cycles with the same profit: best_only returns the one the full list puts first (the
    stable sort's), not the later one."""
    full = _finder(_market([20_000, 20_000, 10_000]))
    best = _finder(_market([20_000, 20_000, 10_000]))
    opps = full.on_pool_changed(X.pool, slot=2, ts_recv_ns=0, now_ns=0)
    only = best.on_pool_changed(X.pool, slot=2, ts_recv_ns=0, now_ns=0, best_only=True)
    assert opps[0].profit == opps[1].profit and opps[0].hops != opps[1].hops
    assert only == opps[:1] and only[0].hops == opps[0].hops


def test_cached_legs_are_forgotten_when_a_pool_is_replaced() -> None:
    """A pool removed and loaded again is a new entry: the finder's cached legs (entries bound
    per cycle) must not keep quoting the old one."""
    m = _market([20_000, 10_000, 30_000])
    f = _finder(m)
    before = f.on_pool_changed(X.pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert m.remove_pool(Q[2].pool)
    cp.load(m, Q[2], R * 1_050_000 // 1_000_000, R, fee=(0, 10_000))  # dearer: more profit
    after = f.on_pool_changed(X.pool, slot=3, ts_recv_ns=0, now_ns=0)
    fresh = _finder(m).on_pool_changed(X.pool, slot=3, ts_recv_ns=0, now_ns=0)
    assert [(o.hops, o.amount_in, o.amount_out) for o in after] == [
        (o.hops, o.amount_in, o.amount_out) for o in fresh
    ]
    assert after[0].profit > before[0].profit
