"""CycleFinder: enumeration, incremental evaluation, exact opportunities (cp test adapter)."""

from __future__ import annotations

import itertools

import pytest

from solarb.errors import ConfigError
from solarb.market import MarketState
from solarb.strategy import CycleFinder, enumerate_cycles, evaluate_cycle
from tests.support import cp_adapter as cp

S, A, B, C = (cp.key(f"mint/{n}") for n in "SABC")
P1, P2, P3, P4, P5 = (cp.spec(f"p{i}", *pair) for i, pair in enumerate(
    [(S, A), (S, A), (S, B), (A, B), (B, C)], start=1
))
R = 10**9  # reserves large enough that rounding is negligible


def _aligned_market() -> MarketState:
    """Prices S:A = 1:2, S:B = 1:3, A:B = 2:3 on every pool: no cycle can profit."""
    m = MarketState({cp.PROGRAM_ID: cp})
    cp.load(m, P1, R, 2 * R)
    cp.load(m, P2, 3 * R, 6 * R)
    cp.load(m, P3, R, 3 * R)
    cp.load(m, P4, 2 * R, 3 * R)
    cp.load(m, P5, R, 5 * R)
    return m


def _finder(m: MarketState, **kw: object) -> CycleFinder:
    args: dict[str, object] = {
        "start_mints": [S], "min_profit": {S: 1}, "max_amount_in": {S: 10**8}
    }
    args.update(kw)
    f = CycleFinder(m, **args)  # type: ignore[arg-type]
    f.rebuild()
    return f


def _changed(f: CycleFinder, pool: object, slot: int = 2) -> list:  # type: ignore[type-arg]
    return f.on_pool_changed(pool, slot=slot, ts_recv_ns=100, now_ns=200)  # type: ignore[arg-type]


def test_enumeration_counts_on_a_small_graph() -> None:
    m = _aligned_market()
    three = _finder(m)
    # 2-hop: S-A via (p1,p2) and (p2,p1). 3-hop: S->A(p1|p2)->B(p4)->S(p3) and the reverse: 2+2.
    assert three.cycles == 6
    assert _finder(m, max_hops=2).cycles == 2
    assert len(three.cycles_through(P1.pool)) == 4  # 2 loops + 2 triangles
    assert len(three.cycles_through(P3.pool)) == 4
    assert len(three.cycles_through(P4.pool)) == 4
    assert three.cycles_through(P5.pool) == []  # C is a dead end
    for cycle in three.all_cycles():
        legs = cycle.legs
        assert legs[0].mint_in == legs[-1].mint_out == S
        assert all(x.mint_out == y.mint_in for x, y in itertools.pairwise(legs))
        assert len(set(cycle.pools)) == len(legs)
    # two start mints: the S-A loops also start from A (2) and the triangles from A (4)
    assert len(enumerate_cycles(m, [S, A], 3)) == 12


def test_no_opportunity_when_prices_are_aligned() -> None:
    m = _aligned_market()
    f = _finder(m)
    for p in (P1, P2, P3, P4, P5):
        assert _changed(f, p.pool) == []
    assert f.evaluations == 4 + 4 + 4 + 4 + 0
    assert f.sized == 0  # the float filter stopped every cycle


def test_mispriced_pool_yields_an_exact_opportunity() -> None:
    m = _aligned_market()
    f = _finder(m, min_profit={S: 1000})
    # p2 now sells A 2% cheaper: S->A on p2, A->S on p1 profits
    assert m.apply(P2.vault_update(False, int(6 * R * 1.02), slot=2)) == (P2.pool,)
    opps = _changed(f, P2.pool, slot=2)
    assert opps, "expected an opportunity"
    assert [o.profit for o in opps] == sorted((o.profit for o in opps), reverse=True)
    best = opps[0]
    assert best.id == "2-1" and best.slot == 2
    assert best.ts_recv_ns == 100 and best.ts_detect_ns == 200
    assert best.start_mint == S and best.profit >= 1000
    assert [h.pool for h in best.hops] == [P2.pool, P1.pool]
    assert [h.dex for h in best.hops] == ["cp_test", "cp_test"]
    # every hop amount is the exact quote of the previous hop's output
    x = best.amount_in
    for hop in best.hops:
        assert hop.amount_in == x
        x = m.quote(hop.pool, x, hop.a_to_b).amount_out
        assert hop.amount_out == x
    assert best.amount_out == x
    assert len({o.id for o in opps}) == len(opps)


def test_sized_cycle_matches_brute_force_on_small_reserves() -> None:
    m = MarketState({cp.PROGRAM_ID: cp})
    cp.load(m, P1, 40_000, 80_000)
    cp.load(m, P2, 30_000, 66_000)  # A 10% cheaper here
    f = _finder(m, max_hops=2)
    cycle = next(c for c in f.all_cycles() if c.pools == (P2.pool, P1.pool))
    hi = 3_000
    ev = evaluate_cycle(m, cycle, hi)
    assert ev is not None

    def profit(x: int) -> int:
        y = m.quote(P2.pool, x, True).amount_out
        return (m.quote(P1.pool, y, False).amount_out if y else 0) - x

    brute = max(profit(x) for x in range(1, hi + 1))
    assert ev.profit == brute
    assert ev.hops[0] == (ev.amount_in, ev.hops[1][0])


def test_only_cycles_through_the_changed_pool_are_evaluated() -> None:
    m = _aligned_market()
    f = _finder(m)
    before = f.evaluations
    _changed(f, P3.pool)
    assert f.evaluations - before == 4
    _changed(f, P5.pool)
    assert f.evaluations - before == 4  # P5 is in no cycle
    _changed(f, cp.key("not-a-pool"))
    assert f.evaluations - before == 4


def test_min_profit_threshold_filters() -> None:
    m = _aligned_market()
    m.apply(P2.vault_update(False, int(6 * R * 1.02), slot=2))
    assert _changed(_finder(m, min_profit={S: 1}), P2.pool)
    assert _changed(_finder(m, min_profit={S: 10**15}), P2.pool) == []


def test_quarantined_or_incomplete_pools_are_skipped() -> None:
    m = _aligned_market()
    m.apply(P2.vault_update(False, int(6 * R * 1.02), slot=2))
    f = _finder(m)
    m.apply(P1.pool_update(slot=3, data=b"bad"))
    assert m.pool(P1.pool).quarantined
    opps = _changed(f, P2.pool)
    assert opps  # the triangle through p2, p4, p3 still profits...
    assert all(P1.pool not in [h.pool for h in o.hops] for o in opps)  # ...p1 is excluded
    m.apply(P1.pool_update(slot=4))
    assert any(P1.pool in [h.pool for h in o.hops] for o in _changed(f, P2.pool))
    # a pool whose vault has not arrived yet cannot be part of an opportunity
    p6 = cp.spec("p6", S, A)
    m.add_pool(p6.pool_update())
    m.apply(p6.config_update(25, 10_000))
    m.apply(p6.vault_update(True, R))
    assert not m.pool(p6.pool).ready
    assert _changed(f, p6.pool) == []


def test_undecodable_aux_bytes_never_escape() -> None:
    m = _aligned_market()
    m.apply(P2.vault_update(False, int(6 * R * 1.02), slot=2))
    f = _finder(m)
    bad = P1.vault_update(True, R, slot=3)
    m.apply(type(bad)(bad.pubkey, 3, b"\x01" * 10, bad.owner, bad.lamports))
    opps = _changed(f, P2.pool)  # must not raise
    assert all(P1.pool not in [h.pool for h in o.hops] for o in opps)


def test_new_pool_triggers_rebuild() -> None:
    m = _aligned_market()
    f = _finder(m, max_hops=2)
    assert f.cycles == 2
    cp.load(m, cp.spec("p7", S, A), R, 2 * R)
    _changed(f, P1.pool)
    assert f.cycles == 6  # three S-A pools: 3*2 ordered pairs


def test_config_is_validated() -> None:
    m = _aligned_market()
    with pytest.raises(ConfigError):
        CycleFinder(m, start_mints=[S], max_hops=4, min_profit={S: 1}, max_amount_in={S: 1})
    with pytest.raises(ConfigError):
        CycleFinder(m, start_mints=[S, A], min_profit={S: 1}, max_amount_in={S: 1})
    with pytest.raises(ConfigError):
        CycleFinder(m, start_mints=[S], min_profit={S: 1}, max_amount_in={S: 0})
