"""Model-seeded sizing on real adapters: a Whirlpool whose optimal trade crosses ticks, against a
CPMM pool at another price (pools from the program models' factories, real layouts)."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey

from solarb.market.state import MarketState
from solarb.sim.programs import orca_whirlpool as whirlpool_model
from solarb.strategy import CycleFinder, evaluate_cycle
from solarb.strategy.cycles import cycle_rate
from solarb.strategy.sizing import maximize_profit
from tests.support.markets import MINT_A, MINT_B, add_cpmm_and_mints, load_market

L_NARROW = 10**12
NARROW = 128  # ticks each side of price 1: 1.0001^128 = +1.29 %


def _market(premium_ppm: int) -> tuple[MarketState, Pubkey, Pubkey]:
    """Whirlpool at price 1: deep +-1.29 % around it, thin outside; CPMM pool pricing B
    ``premium_ppm`` dearer (so A -> B on CPMM, B -> A on the Whirlpool profits, or the reverse)."""
    whirl, accounts = whirlpool_model.create_pool(
        mint_a=MINT_A, mint_b=MINT_B, tick_spacing=64, fee_rate=500, price=1, decimals_a=6,
        decimals_b=6, positions=[(-NARROW, NARROW, L_NARROW), (-6400, 6400, L_NARROW // 50)],
    )  # fmt: skip
    cpmm = add_cpmm_and_mints(accounts, premium_ppm)
    market = load_market(accounts, (whirl, cpmm))
    assert market.pool(whirl).tradable and market.pool(cpmm).tradable
    return market, whirl, cpmm


def _reference(market: MarketState, cycle: object, cap: int) -> int:
    """The full golden search down to 8 units plus the neighbouring-step climb."""
    legs = cycle.legs  # type: ignore[attr-defined]

    def out(x: int) -> int:
        for leg in legs:
            x = market.quote(leg.pool, x, leg.a_to_b).amount_out
            if x <= 0:
                return 0
        return x

    ref = maximize_profit(out, cap, climb_rounds=8)
    assert ref is not None
    return ref.profit


@pytest.mark.parametrize("premium_ppm", [8_000, 30_000, 60_000])
def test_tick_crossing_cycle_matches_the_full_golden_search(premium_ppm: int) -> None:
    market, whirl, _ = _market(premium_ppm)
    finder = CycleFinder(market, start_mints=[MINT_A], min_profit={MINT_A: 1},
                         max_amount_in={MINT_A: 10**12}, max_sized=None)  # fmt: skip
    finder.rebuild()
    best = None
    for cycle in finder.all_cycles():
        ev = evaluate_cycle(market, cycle, 10**12)
        if ev is None or ev.profit <= 0:
            continue
        golden = evaluate_cycle(market, cycle, 10**12, sizer="golden")
        assert golden is not None
        ref = _reference(market, cycle, 10**12)
        # within rounding noise of the exhaustive search, with far fewer quotes
        assert ev.profit >= ref - max(2, ref // 20_000), (premium_ppm, ev, ref)
        assert ev.profit >= golden.profit - max(2, ref // 100_000), (premium_ppm, ev, golden)
        # the Moebius model holds without a crossing; across one the search is mostly golden
        assert ev.quotes * (3 if premium_ppm < 30_000 else 1) < golden.quotes, (ev, golden)
        # hops are exact chained quotes
        x = ev.amount_in
        for leg, (amount_in, amount_out) in zip(cycle.legs, ev.hops):
            assert amount_in == x
            x = market.quote(leg.pool, x, leg.a_to_b).amount_out
            assert amount_out == x
        best = ev
    assert best is not None
    # with a large dislocation the Whirlpool leg moves the price past the deep range: the
    # Moebius model no longer holds over [0, x] and the search polishes or falls back
    whirl_hop = next(h for leg, h in zip(best.cycle.legs, best.hops) if leg.pool == whirl)
    deep = L_NARROW * ((1.0001 ** (NARROW / 2)) - 1)  # input that moves sqrt(P) to the edge
    if premium_ppm >= 30_000:
        assert whirl_hop[0] > deep
        assert best.fallback != ""
    else:
        assert whirl_hop[0] < deep


def test_warm_start_is_remembered_and_cuts_quotes() -> None:
    market, whirl, _ = _market(8_000)
    finder = CycleFinder(market, start_mints=[MINT_A], min_profit={MINT_A: 1},
                         max_amount_in={MINT_A: 10**12}, max_sized=None)  # fmt: skip
    finder.rebuild()
    first = finder.on_pool_changed(whirl, slot=1, ts_recv_ns=0, now_ns=0)
    assert len(first) == 1
    cycle = next(c for c in finder.all_cycles() if c.pools == tuple(h.pool for h in first[0].hops))
    assert finder.warm_start(cycle) == first[0].amount_in
    quotes = finder.quotes
    again = finder.on_pool_changed(whirl, slot=2, ts_recv_ns=0, now_ns=0)
    assert [o.amount_in for o in again] == [first[0].amount_in]
    assert finder.quotes - quotes < quotes  # seeded at its optimum: fewer quotes than cold
    rate = cycle_rate(market, cycle)
    assert rate is not None
    cold = evaluate_cycle(market, cycle, 10**12)
    warm = evaluate_cycle(market, cycle, 10**12, seed=first[0].amount_in)
    assert cold is not None and warm is not None
    assert warm.quotes < cold.quotes and warm.profit == cold.profit
    finder.rebuild()  # indices may change: warm starts are forgotten
    assert finder.warm_start(cycle) is None
