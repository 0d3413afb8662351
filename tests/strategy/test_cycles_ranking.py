"""CycleFinder.max_sized: rank by spot-rate product, size the best few, stop on the profit bound."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey

from solarb.errors import ConfigError
from solarb.events import Opportunity
from solarb.market import MarketState
from solarb.strategy import DEFAULT_MAX_SIZED, CycleFinder
from tests.support import cp_adapter as cp

S, A = cp.key("mint/S"), cp.key("mint/A")
X = cp.spec("x", S, A)  # the pool that changes: it sells A cheap
Q = [cp.spec(f"q{i}", S, A) for i in range(3)]  # each buys A back at its own price
R = 10**12
CAP = 10**10


def _market(premiums_ppm: list[int]) -> MarketState:
    """X at 1 S : 1 A (then moved), the Q pools pricing A ``premium`` dearer, all equally deep."""
    m = MarketState({cp.PROGRAM_ID: cp})
    cp.load(m, X, R, R, fee=(0, 10_000))
    for q, premium in zip(Q, premiums_ppm):
        cp.load(m, q, R * (1_000_000 + premium) // 1_000_000, R, fee=(0, 10_000))
    return m


def _finder(m: MarketState, max_sized: int | None) -> CycleFinder:
    f = CycleFinder(m, start_mints=[S], min_profit={S: 1_000}, max_amount_in={S: CAP},
                    max_sized=max_sized)  # fmt: skip
    f.rebuild()
    return f


def _changed(f: CycleFinder) -> list[Opportunity]:
    return f.on_pool_changed(X.pool, slot=2, ts_recv_ns=0, now_ns=0)


def test_full_sizing_is_kept_with_none() -> None:
    f = _finder(_market([20_000, 10_000, 30_000]), None)
    opps = _changed(f)
    assert f.evaluations == 6  # 3 loops through X, each direction
    assert f.passed == 3 and f.sized == 3 and f.skipped == 0
    assert f.found == len(opps) == 3
    assert [o.profit for o in opps] == sorted((o.profit for o in opps), reverse=True)
    assert [o.hops[1].pool for o in opps] == [Q[2].pool, Q[0].pool, Q[1].pool]
    assert f.quotes > 0 and f.fallbacks == 0  # constant-product loops: the model holds


def test_max_sized_sizes_the_highest_rates_only() -> None:
    full = _changed(_finder(_market([20_000, 10_000, 30_000]), None))
    f = _finder(_market([20_000, 10_000, 30_000]), 1)
    opps = _changed(f)
    assert f.evaluations == 6 and f.passed == 3
    assert f.sized == 1 and f.skipped == 2
    assert len(opps) == 1 and opps[0].hops[1].pool == Q[2].pool  # the highest rate
    assert (opps[0].amount_in, opps[0].amount_out) == (full[0].amount_in, full[0].amount_out)
    two = _finder(_market([20_000, 10_000, 30_000]), 2)
    assert [o.hops[1].pool for o in _changed(two)] == [Q[2].pool, Q[0].pool]
    assert two.sized == 2 and two.skipped == 1


def test_profit_bound_stops_sizing_cycles_that_cannot_win() -> None:
    # Q[1]'s edge is 20 ppm: (rate - 1) * CAP = 2e5 is far below the best profit found first
    f = _finder(_market([30_000, 20, 20_000]), 3)
    opps = _changed(f)
    assert f.passed == 3 and f.sized == 2 and f.skipped == 1
    assert [o.hops[1].pool for o in opps] == [Q[0].pool, Q[2].pool]
    # size-all keeps sizing it (it passes the float filter, then falls below min_profit)
    g = _finder(_market([30_000, 20, 20_000]), None)
    assert len(_changed(g)) == 2 and g.sized == 3


def test_default_and_validation() -> None:
    m = _market([20_000, 10_000, 30_000])
    f = CycleFinder(m, start_mints=[S], min_profit={S: 1}, max_amount_in={S: CAP})
    assert f.max_sized == DEFAULT_MAX_SIZED >= 1
    for bad in (0, -1):
        with pytest.raises(ConfigError):
            CycleFinder(m, start_mints=[S], min_profit={S: 1}, max_amount_in={S: CAP},
                        max_sized=bad)  # fmt: skip


def test_unprofitable_cycles_are_not_sized_and_pubkeys_stay_exact() -> None:
    f = _finder(_market([0, 0, 0]), 2)
    assert _changed(f) == []
    assert f.evaluations == 6 and f.passed == 0 and f.sized == 0 and f.skipped == 0
    assert isinstance(X.pool, Pubkey)


def test_best_only_builds_the_first_opportunity_with_the_same_ids_and_counts() -> None:
    full = _finder(_market([20_000, 10_000, 30_000]), None)
    best = _finder(_market([20_000, 10_000, 30_000]), None)
    for slot in (2, 3):
        opps = full.on_pool_changed(X.pool, slot=slot, ts_recv_ns=0, now_ns=0)
        only = best.on_pool_changed(X.pool, slot=slot, ts_recv_ns=0, now_ns=0, best_only=True)
        assert len(opps) == 3 and only == opps[:1] and only[0].id == opps[0].id
        assert best.found == full.found
