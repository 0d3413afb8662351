"""SpotRates and the finder's rate table: float rates reused across updates, recomputed once the
market wrote the pool's entry (its revision moved), whether or not anyone was told."""

from __future__ import annotations

from solarb.market import MarketState
from solarb.strategy import CycleFinder
from solarb.strategy.cycles import SpotRates, cycle_rate
from tests.support import cp_adapter as cp

S, A = cp.key("mint/S"), cp.key("mint/A")
P1, P2 = cp.spec("p1", S, A), cp.spec("p2", S, A)
R = 10**9


def _setup() -> tuple[MarketState, CycleFinder]:
    m = MarketState({cp.PROGRAM_ID: cp})
    cp.load(m, P1, R, 2 * R)
    cp.load(m, P2, R, 2 * R)
    f = CycleFinder(m, start_mints=[S], min_profit={S: 1}, max_amount_in={S: 10**8})
    f.rebuild()
    return m, f


def test_rates_are_reused_until_written_forgotten_or_redecoded() -> None:
    m, _ = _setup()
    rates = SpotRates()
    entry = m.pools[P1.pool]
    first = rates.rate(entry, True)
    assert rates.rate(entry, True) == first and (rates.hits, rates.misses) == (1, 1)
    # an aux write moves the entry's revision: re-rated without being told (was stale until
    # forget(): a missed or wasted sizing, never a wanted property)
    m.apply(P1.vault_update(False, 3 * R, slot=2))
    second = rates.rate(entry, True)
    assert second != first and rates.misses == 2
    assert rates.rate(entry, True) == second and rates.hits == 2
    rates.forget(P1.pool)
    assert rates.rate(entry, True) == second and rates.misses == 3
    # a re-decoded pool (another state object) is never served from the cache
    old_state = entry.state
    m.add_pool(P1.pool_update(slot=4))
    assert m.pools[P1.pool].state is not old_state
    rates.rate(m.pools[P1.pool], True)
    assert rates.misses == 4


def test_every_changed_pool_refreshes_its_rates_in_the_finder() -> None:
    m, f = _setup()
    assert f.on_pool_changed(P1.pool, slot=1, ts_recv_ns=0, now_ns=0) == []
    # P2 now sells A 2 % cheaper: S -> A on P2, A -> S on P1 profits; P2 is the changed pool
    assert m.apply(P2.vault_update(False, int(2 * R * 1.02), slot=2)) == (P2.pool,)
    opps = f.on_pool_changed(P2.pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert opps and opps[0].profit > 0
    # and back: the cached P2 rate is not reused after P2 changed again
    assert m.apply(P2.vault_update(False, 2 * R, slot=3)) == (P2.pool,)
    assert f.on_pool_changed(P2.pool, slot=3, ts_recv_ns=0, now_ns=0) == []


def test_a_shared_config_write_changes_the_filter_at_once() -> None:
    """P1 and P2 share a config: one write changes both pools' fees. The finder told of P1
    alone must rate P2 with its new fee too (before, P2's rate stayed at the old fee: the
    cycle failed the filter, a missed opportunity)."""
    config = cp.key("shared/config")
    p1, p2 = cp.spec("s1", S, A, config=config), cp.spec("s2", S, A, config=config)
    m = MarketState({cp.PROGRAM_ID: cp})
    fee = (300, 10_000)  # 3 %: a 2 % price gap does not pay two fees
    cp.load(m, p1, R, 2 * R, fee=fee)
    cp.load(m, p2, R, int(2 * R * 1.02), fee=fee)
    f = CycleFinder(m, start_mints=[S], min_profit={S: 1}, max_amount_in={S: 10**7})
    f.rebuild()
    rates = SpotRates()
    assert f.on_pool_changed(p1.pool, slot=1, ts_recv_ns=0, now_ns=0) == []
    assert f.on_pool_changed(p2.pool, slot=1, ts_recv_ns=0, now_ns=0) == []
    (cycle,) = [c for c in f.cycles_through(p1.pool) if c.legs[0].pool == p2.pool]
    old = cycle_rate(m, cycle, rates)
    assert old is not None and old[0] < 1.0
    passed = f.passed
    # the fee drops to 0.01 % for both readers; the finder hears of P1 only
    assert set(m.apply(p1.config_update(1, 10_000, slot=2))) == {p1.pool, p2.pool}
    opps = f.on_pool_changed(p1.pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert f.passed - passed == 1
    assert opps and opps[0].profit > 0 and opps[0].hops[0].pool == p2.pool
    new = cycle_rate(m, cycle, rates)  # the kept SpotRates re-rates both pools unasked
    assert new is not None and new[0] == cycle_rate(m, cycle)[0] > 1.0  # type: ignore[index]
    assert rates.misses == 4
