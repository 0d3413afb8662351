"""``CycleFinder.warm``: every (pool, direction) the cycles use is bound and kept and the rate
table filled before any change, so the first change of a pool binds only what the market wrote
since (no plan built from nothing), and a warmed finder decides exactly as a cold one."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import raydium_clmm_plan
from solarb.dex.base import Quote
from solarb.events import AccountUpdate
from solarb.market.state import PoolEntry
from solarb.runtime.bench_workload import Workload
from solarb.strategy import bound_quoters as bq
from solarb.strategy.cycles import DEFAULT_MAX_SIZED
from tests.strategy.test_cycles_kept_quoters import (
    _counters,
    _finder,
    _load,
    _recorded,
    _register_again,
    _stale_kept,
    _view,
)


def _spy_bindings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Pubkey, bool]]:
    """Every (pool, a_to_b) :func:`bound_quote` binds from now on (the finder's hot path)."""
    bound: list[tuple[Pubkey, bool]] = []
    real = bq.bound_quote

    def counting(entry: PoolEntry, a_to_b: bool) -> Callable[[int], Quote]:
        bound.append((entry.address, a_to_b))
        return real(entry, a_to_b)

    monkeypatch.setattr(bq, "bound_quote", counting)
    return bound


def test_warm_binds_every_leg_and_fills_the_rate_table() -> None:
    w = Workload(30, 5, 3, 4)
    market = _load(w)
    finder = _finder(market, w.sol, True)
    quoters, rates = finder.warm()
    legs = {(leg.pool, leg.a_to_b) for c in finder.all_cycles() for leg in c.legs}
    assert quoters == len(legs) == len(finder._quoters) and set(finder._quoters) == legs
    assert rates == len(finder._plans) > 0
    for key, (entry, revision, _q) in finder._quoters.items():
        assert entry is market.pools[key[0]] and revision == entry.revision
    for pool, plan in finder._plans.items():
        assert finder._revs[plan.own] == market.pools[pool].rate_revision
    assert not _stale_kept(finder)  # each quotes as a binding made now
    assert finder.warm() == (0, 0)  # nothing written since: nothing to do
    assert finder.evaluations == finder.sized == finder.found == 0  # warming decides nothing


def test_warm_of_some_pools_binds_their_cycles_legs_only() -> None:
    w = Workload(30, 5, 3, 4)
    market = _load(w)
    finder = _finder(market, w.sol, True)
    pool = next(iter(market.pools))
    finder.warm([pool])
    legs = {(leg.pool, leg.a_to_b) for c in finder.cycles_through(pool) for leg in c.legs}
    assert legs and set(finder._quoters) == legs
    cold = _finder(market, w.sol, False)
    assert cold.warm() == (len({(lg.pool, lg.a_to_b) for c in cold.all_cycles() for lg in c.legs}),
                           len(cold._plans))  # fmt: skip
    assert not cold._quoters  # keep_quoters=False binds anew on every change: nothing kept


def test_first_change_after_warm_binds_only_what_the_market_wrote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every cycle passes the filter and is sized: the cold finder binds the other legs of each
    changed pool's cycles on their first use, the warmed one only (pool, direction)s whose entry
    the market wrote since the warm-up, and no Raydium CLMM plan is built from nothing."""
    w, rec = _recorded(30, 13, 3, 4)
    mw, mc = _load(w), _load(w)
    warm = _finder(mw, w.sol, True, epsilon=-0.9, max_sized=None)
    cold = _finder(mc, w.sol, True, epsilon=-0.9, max_sized=None)
    warm.warm()
    written_at_warm = {p: e.revision for p, e in mw.pools.items()}
    fresh_plans: list[Pubkey] = []
    real_plan_entry = raydium_clmm_plan.plan_entry

    def plan_entry(state: Any, aux: Any, a_to_b: bool, prev: Any) -> Any:
        if prev is None:
            fresh_plans.append(state.address)
        return real_plan_entry(state, aux, a_to_b, prev)

    monkeypatch.setattr(raydium_clmm_plan, "plan_entry", plan_entry)
    bound = _spy_bindings(monkeypatch)
    cold_unwritten = changes = 0
    for _ in range(30):  # swaps until 30 pool changes were evaluated
        rec.updates.clear()
        while not rec.updates:
            w.frames(1)
        for u in rec.updates:
            changed = mw.apply(u)
            assert mc.apply(u) == changed
            for pool in changed:
                del bound[:]
                a = warm.on_pool_changed(pool, slot=u.slot, ts_recv_ns=0, now_ns=0)
                assert all(mw.pools[k[0]].revision != written_at_warm[k[0]] for k in bound), bound
                del bound[:]
                b = cold.on_pool_changed(pool, slot=u.slot, ts_recv_ns=0, now_ns=0)
                cold_unwritten += sum(mc.pools[k[0]].revision == mw.pools[k[0]].revision
                                      and mw.pools[k[0]].revision == written_at_warm[k[0]]
                                      for k in bound)  # fmt: skip
                assert _view(a) == _view(b)
                changes += 1
    assert changes >= 30 and cold_unwritten > 0
    assert not fresh_plans
    assert _counters(warm) == _counters(cold)


@pytest.mark.parametrize("max_sized", [DEFAULT_MAX_SIZED, None])
def test_a_warmed_finder_decides_as_a_cold_one(max_sized: int | None) -> None:
    """Two markets fed the same updates (swaps, Clock jumps, a pool removed and registered
    again), one finder warmed before the stream and again after each re-registration, one
    never: the same opportunities at every step and the same counters at the end."""
    w, rec = _recorded(40, 17, 6, 7)
    mw, mc = _load(w), _load(w)
    warm = _finder(mw, w.sol, True, max_sized=max_sized)
    cold = _finder(mc, w.sol, True, max_sized=max_sized)
    warm.warm()
    rng = random.Random(3)
    found = 0
    for step in range(300):
        rec.updates.clear()
        r = rng.random()
        if r < 0.03:
            w.bank.advance_slot(unix_timestamp=w.bank.unix_timestamp + rng.choice((3, 40, 700)))
        elif r < 0.05:  # a new entry for a pool (the index is rebuilt), warmed as a node would
            pool = rng.choice(w.pool_keys)
            _register_again(w, pool, (mw, mc))
            warm.warm([pool])
        else:
            while not rec.updates:
                w.frames(1)
        updates: list[AccountUpdate] = list(rec.updates)
        for u in updates:
            changed = mw.apply(u)
            assert mc.apply(u) == changed
            for pool in changed:
                a = warm.on_pool_changed(pool, slot=u.slot, ts_recv_ns=step, now_ns=0)
                b = cold.on_pool_changed(pool, slot=u.slot, ts_recv_ns=step, now_ns=0)
                assert _view(a) == _view(b), (step, pool)
                found += len(a)
    assert _counters(warm) == _counters(cold)
    assert warm.sized > 200 and found > 20, (warm.sized, found)
    assert not _stale_kept(warm)
