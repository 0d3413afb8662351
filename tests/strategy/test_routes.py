"""The finder's flat cycles (:mod:`solarb.strategy.routes`): a :class:`CycleIndex` holds no
object per cycle or leg, yet gives back exactly :func:`enumerate_cycles`' cycles in the same
order (several start mints, 2 and 3 hops), their legs (one shared pair per direction) and
opportunities whose hops carry the cycle's pools, directions and mints; its arrays are
exact-size. On the cp test market and the bench workload's pools (all five DEXes)."""

from __future__ import annotations

import gc
import sys
from array import array

import pytest
from solders.pubkey import Pubkey

from solarb.market import MarketState
from solarb.runtime.bench_workload import Workload
from solarb.strategy import CycleFinder, enumerate_cycles, evaluate_cycle
from solarb.strategy.cycle_plan import PAD_SLOT, ROW_WIDTH, plan_routes
from solarb.strategy.routes import Cycle, Leg, build_index, routes
from tests.support import cp_adapter as cp
from tests.support.workload_pools import workload_market

S, A, B = (cp.key(f"mint/{n}") for n in "SAB")
PAIRS = [(S, A), (S, A), (A, S), (S, B), (B, S), (A, B), (A, B), (B, A)]
CAP = 50 * 10**9


def _cp_market() -> MarketState:
    m = MarketState({cp.PROGRAM_ID: cp})
    for i, (a, b) in enumerate(PAIRS):
        cp.load(m, cp.spec(f"t{i}", a, b), 10**9 + 7 * i, 2 * 10**9 - 11 * i)
    return m


@pytest.fixture(scope="module")
def workload() -> tuple[Workload, MarketState]:
    wl = Workload(150, 7, 4, 16)
    return wl, workload_market(wl)


def _finder(m: MarketState, starts: list[Pubkey], hops: int = 3, **kw: object) -> CycleFinder:
    f = CycleFinder(m, start_mints=starts, max_hops=hops, min_profit=dict.fromkeys(starts, 1),
                    max_amount_in=dict.fromkeys(starts, CAP), **kw)  # type: ignore[arg-type]  # fmt: skip
    f.rebuild()
    return f


def _same_as_objects(m: MarketState, starts: list[Pubkey], hops: int) -> list[Cycle]:
    """The finder's cycles equal enumerate_cycles', index for index, through every accessor."""
    f = _finder(m, starts, hops)
    want = enumerate_cycles(m, starts, hops)
    ix = f._index
    assert f.cycles == len(ix) == len(want) > 0
    assert f.all_cycles() == want
    assert [ix.cycle(i) for i in range(len(want))] == want
    for i, cycle in enumerate(want):
        assert ix.find(cycle) == i
        assert ix.hops(i) == [(g.pool, g.a_to_b, g.mint_in, g.mint_out) for g in cycle.legs]
        slots = [s for s in ix.rows[4 * i + 1 : 4 * i + 4] if s != PAD_SLOT]
        assert ix.slot_legs(i) == tuple(((g.pool, g.a_to_b), m.pools[g.pool], s)
                                        for g, s in zip(cycle.legs, slots))  # fmt: skip
        assert [ix.pools[(s - 1) >> 1] for s in slots] == [g.pool for g in cycle.legs]
        assert all(f._plans[g.pool].own + (not g.a_to_b) == s for g, s in zip(cycle.legs, slots))
    for pool in m.pools:
        assert f.cycles_through(pool) == [c for c in want if pool in c.pools]
    # the graph's own edges, in the same order
    got = [(k, tuple((e.pool, e.a_to_b) for e in edges))
           for k, edges in routes(m.graph, tuple(dict.fromkeys(starts)), hops)]  # fmt: skip
    assert got == [(starts.index(c.start_mint), tuple((g.pool, g.a_to_b) for g in c.legs))
                   for c in want]  # fmt: skip
    return want


def test_index_gives_back_enumerated_cycles_on_the_cp_market() -> None:
    m = _cp_market()
    for starts in ([S], [S, A], [B, S, A, S]):
        for hops in (2, 3):
            want = _same_as_objects(m, starts, hops)
            assert {c.start_mint for c in want} == set(starts)
            assert any(len(c.legs) == 3 for c in want) == (hops == 3)
            assert any(not g.a_to_b for c in want for g in c.legs)


def test_index_gives_back_enumerated_cycles_on_the_bench_workload(
    workload: tuple[Workload, MarketState],
) -> None:
    wl, market = workload
    assert len(_same_as_objects(market, [wl.sol], 3)) > 300


def test_find_and_warm_start_of_a_cycle_not_indexed() -> None:
    m = _cp_market()
    f = _finder(m, [S])
    cycle = f.all_cycles()[0]
    g = cycle.legs[0]
    other = Cycle(cycle.start_mint, (Leg(g.pool, g.a_to_b, g.mint_in, B), *cycle.legs[1:]))
    assert f._index.find(other) is None and f.warm_start(other) is None
    assert f._index.find(Cycle(S, ())) is None
    outside = Cycle(S, (Leg(cp.key("nowhere"), True, S, A),))
    assert f._index.find(outside) is None


def test_legs_share_one_pair_per_direction(workload: tuple[Workload, MarketState]) -> None:
    wl, market = workload
    ix = _finder(market, [wl.sol])._index
    first: dict[tuple[Pubkey, bool], object] = {}
    by_slot: dict[int, object] = {}
    for i in range(len(ix)):
        for leg in ix.slot_legs(i):
            assert first.setdefault(leg[0], leg) is leg
            assert by_slot.setdefault(leg[2], leg) is leg
    assert len(by_slot) == len(first) == sum(1 for p in ix._slot_at if p is not None) > 0


def test_arrays_are_exact_size(workload: tuple[Workload, MarketState]) -> None:
    wl, market = workload
    ix = build_index(market, [wl.sol], 3)

    def exact(a: array[int]) -> bool:  # no spare capacity from appending
        return sys.getsizeof(a) == sys.getsizeof(array(a.typecode, a))

    assert exact(ix.rows) and exact(ix.mints) and len(ix.rows) == ROW_WIDTH * len(ix)
    assert all(exact(plan.rows) for plan in ix.plans.values())
    planned = plan_routes(routes(market.graph, (wl.sol,), 3), market.pools)
    assert exact(planned.rows) and planned.rows == ix.rows


def test_opportunities_carry_the_cycles_mints(workload: tuple[Workload, MarketState]) -> None:
    """Every cycle sized (``max_sized=None``): the opportunities are evaluate_cycle's of the
    enumerated cycle objects, hop for hop (pool, direction, mints, amounts)."""
    wl, market = workload
    f = _finder(market, [wl.sol], max_sized=None)
    cycles = enumerate_cycles(market, [wl.sol], 3)
    n = 0
    for pool in list(market.pools)[:60]:
        want = []
        for c in cycles:  # warm-started as the finder does (from its last sizing of c)
            if pool not in c.pools:
                continue
            ev = evaluate_cycle(market, c, CAP, seed=f.warm_start(c))
            if ev is not None and ev.profit >= 1:
                hops = tuple((g.pool, g.a_to_b, g.mint_in, g.mint_out, x, y)
                             for g, (x, y) in zip(c.legs, ev.hops))  # fmt: skip
                want.append((-ev.profit, c.start_mint, hops))
        got = f.on_pool_changed(pool, slot=3, ts_recv_ns=0, now_ns=0)
        assert sorted(want, key=lambda w: w[0]) == [
            (-o.profit, o.start_mint,
             tuple((h.pool, h.a_to_b, h.mint_in, h.mint_out, h.amount_in, h.amount_out)
                   for h in o.hops))
            for o in got
        ]  # fmt: skip
        n += len(got)
    assert n > 0


def test_no_cycle_or_leg_object_outlives_a_call(workload: tuple[Workload, MarketState]) -> None:
    wl, market = workload
    f = _finder(market, [wl.sol])
    f.warm()
    found = sum(len(f.on_pool_changed(p, slot=3, ts_recv_ns=0, now_ns=0)) for p in market.pools)
    assert found > 0 and f.cycles > 300
    assert len(f.all_cycles()) == f.cycles  # made on request, then dropped
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) in (Cycle, Leg)]
