"""SpotRates: float rates reused across updates, recomputed once the pool changed."""

from __future__ import annotations

from solarb.market import MarketState
from solarb.strategy import CycleFinder
from solarb.strategy.cycles import SpotRates
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


def test_rates_are_reused_until_forgotten_or_redecoded() -> None:
    m, _ = _setup()
    rates = SpotRates()
    entry = m.pools[P1.pool]
    first = rates.rate(entry, True)
    assert rates.rate(entry, True) == first and (rates.hits, rates.misses) == (1, 1)
    m.apply(P1.vault_update(False, 3 * R, slot=2))  # aux change: the finder is told, forgets
    rates.forget(P1.pool)
    second = rates.rate(entry, True)
    assert second != first and rates.misses == 2
    # a re-decoded pool (another state object) is never served from the cache
    old_state = entry.state
    m.add_pool(P1.pool_update(slot=4))
    assert m.pools[P1.pool].state is not old_state
    rates.rate(m.pools[P1.pool], True)
    assert rates.misses == 3


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
