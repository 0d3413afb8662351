"""The model-seeded sizing against closed forms, brute force and the golden search."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from solarb.dex.base import InsufficientLiquidity, QuoteError
from solarb.strategy.sizing import maximize_profit, maximize_profit_model
from tests.support.markets import cp_chain

_chain = cp_chain


def _rate(pools: list[tuple[int, int]], fee_num: int = 0) -> float:
    return math.prod(r_out / r_in for r_in, r_out in pools) * (1 - fee_num / 10_000) ** len(pools)


def _closed_form(
    p1: tuple[int, int], p2: tuple[int, int]
) -> tuple[float, Callable[[float], float]]:
    """Fee-free two-pool chain: out = A x / (B + C x), optimum where out' = 1; and the
    continuous profit."""
    (i1, o1), (i2, o2) = p1, p2
    a, b, c = o1 * o2, i1 * i2, i2 + o1
    return (math.sqrt(a * b) - b) / c, lambda x: a * x / (b + c * x) - x


def _brute(out: Callable[[int], int], lo: int, hi: int) -> int:
    return max(out(x) - x for x in range(lo, hi + 1))


@pytest.mark.parametrize("seed", [None, "optimum", "far_below", "far_above"])
def test_two_pool_chain_hits_the_closed_form_optimum(seed: str | None) -> None:
    rng = random.Random(11)
    for _ in range(12):
        r1 = rng.randint(10**5, 10**6)
        p1 = (r1, int(r1 * rng.uniform(1.05, 1.4)))  # pool 1 sells B cheap
        r2 = rng.randint(10**5, 10**6)
        p2 = (r2, r2)
        out = _chain([p1, p2])
        hi = 10**7
        x_star, smooth = _closed_form(p1, p2)
        assert 10 < x_star < hi
        seeds = {None: None, "optimum": round(x_star), "far_below": 3, "far_above": hi}
        sized = maximize_profit_model(out, hi, rate=_rate([p1, p2]), seed=seeds[seed])
        assert sized is not None
        assert sized.fallback == ""  # the model holds: Moebius chain
        assert sized.amount_out == out(sized.amount_in)  # amounts come from exact quotes
        # within the step rounding of the true optimum: exact brute force around x*
        window = int(0.02 * x_star) + 50
        best = _brute(out, max(1, round(x_star) - window), round(x_star) + window)
        assert best - sized.profit <= 2, (p1, p2, best, sized)
        # and where the smooth profit is within a base unit of its maximum
        assert smooth(x_star) - smooth(sized.amount_in) <= 1.0, (x_star, sized)
        assert sized.quotes <= 12


def test_fees_and_three_hops_match_brute_force_on_small_reserves() -> None:
    rng = random.Random(5)
    cases = 0
    while cases < 60:
        hops = rng.choice((2, 3))
        pools = []
        for _ in range(hops):
            r = rng.randint(20_000, 2_000_000)
            pools.append((r, int(r * rng.uniform(0.5, 2.0))))
        out = _chain(pools, fee_num=25)
        rate = _rate(pools, fee_num=25)
        if rate < 1.02:
            continue
        hi = rng.randint(2_000, 20_000)
        best = _brute(out, 1, hi)
        if best <= 0:
            continue
        cases += 1
        sized = maximize_profit_model(out, hi, rate=rate)
        assert sized is not None and 1 <= sized.amount_in <= hi
        assert sized.amount_out == out(sized.amount_in)
        # the step start makes small-reserve results exact up to a few units of rounding
        assert best - sized.profit <= 2 * hops, (pools, hi, best, sized)


def test_far_fewer_quotes_than_the_golden_search_on_large_reserves() -> None:
    pools = [(10**12, 2_020_000_000_000), (2 * 10**12, 10**12)]
    out = _chain(pools, fee_num=25)
    rate = _rate(pools, fee_num=25)
    golden = maximize_profit(out, 10**12, width_ppm=1_000, climb_rounds=0)
    cold = maximize_profit_model(out, 10**12, rate=rate)
    assert golden is not None and cold is not None
    assert cold.profit >= golden.profit - 2  # both exact; they may differ by rounding noise
    assert cold.quotes * 3 <= golden.quotes
    warm = maximize_profit_model(out, 10**12, rate=rate, seed=cold.amount_in)
    assert warm is not None and warm.profit == cold.profit
    assert warm.quotes <= 3  # the seed probe, the line check, one step at most


def test_optimum_beyond_the_cap_returns_the_cap() -> None:
    pools = [(10**9, 3 * 10**9), (10**9, 10**9)]
    out = _chain(pools)
    sized = maximize_profit_model(out, 12_345, rate=_rate(pools), refine=False)
    assert sized is not None and sized.fallback == ""
    assert sized.amount_in == 12_345 and sized.profit == out(12_345) - 12_345
    assert sized.quotes <= 3


def test_infeasible_top_is_backed_away_from() -> None:
    pools = [(10**6, 3 * 10**6), (10**6, 10**6)]
    base = _chain(pools)
    limit = 7_777  # the profit rises until the feasibility edge

    def out(x: int) -> int:
        if x > limit:
            raise QuoteError("too big for this test")
        return base(x)

    sized = maximize_profit_model(out, 10**9, rate=_rate(pools))
    assert sized is not None
    assert sized.amount_in == limit and sized.profit == base(limit) - limit


def test_zero_output_at_small_sizes_falls_back_and_stays_exact() -> None:
    pools = [(10**6, 3 * 10**6), (10**6, 10**6)]
    base = _chain(pools)

    def out(x: int) -> int:
        if x < 5_000:  # an adapter refusing a swap whose output rounds to zero
            raise QuoteError("zero output")
        return base(x)

    for hi in (5_010, 5_100, 6_000):
        sized = maximize_profit_model(out, hi, rate=_rate(pools), seed=1)
        assert sized is not None
        assert sized.profit == _brute(out, 5_000, hi)


def test_flat_profit_returns_a_non_positive_result_with_bounded_quotes() -> None:
    sized = maximize_profit_model(lambda x: x, 10**9, rate=1.0 + 1e-9)
    assert sized is not None and sized.profit == 0
    assert sized.quotes <= 4  # no model step can gain a base unit: it stops at once
    # an unprofitable chain whose float rate claims a small edge
    pools = [(10**6, 10**6), (10**6, 10**6)]
    sized = maximize_profit_model(_chain(pools, fee_num=25), 50_000, rate=1.0001)
    assert sized is not None and sized.profit <= 0


def test_all_infeasible_returns_none() -> None:
    def out(x: int) -> int:
        raise InsufficientLiquidity("empty")

    assert maximize_profit_model(out, 10**6, rate=1.01) is None
    assert maximize_profit_model(_chain([(10, 10)]), 0, rate=1.01) is None


def _kinked(x: int) -> int:
    """Piecewise-linear concave (DLMM-like bins): price steps down every 40,000 units of input."""
    out, price_ppm, left = 0, 1_004_000, x
    while left > 0:
        take = min(left, 40_000)
        out += take * price_ppm // 1_000_000
        left -= take
        price_ppm -= 1_500
    return out


def test_kinked_profit_is_polished_to_the_bin_edge() -> None:
    # profit rises while the bin price is above 1: bins at 1.004, 1.0025, 1.001, then below
    best = max(_kinked(x) - x for x in range(1, 400_001, 1_000))
    best = max(best, max(_kinked(x) - x for x in range(119_000, 121_001)))
    for seed in (None, 50_000, 300_000):
        sized = maximize_profit_model(_kinked, 10**7, rate=1.004, seed=seed)
        assert sized is not None
        assert best == _kinked(120_000) - 120_000 == 300
        # the golden search stops on a flat top (probes within one unit): slopes 0.1-0.15 %
        assert abs(sized.amount_in - 120_000) <= 2_000, (seed, sized)
        assert sized.profit >= best - 1, (seed, sized)


def test_refine_moves_to_the_step_start() -> None:
    # a coarse intermediate token: every 1,000 units of input buy one unit of it
    def out(x: int) -> int:
        return (x // 1_000) * 1_003_000 // 1_000 if x < 10**6 else 10**6

    sized = maximize_profit_model(out, 2 * 10**6, rate=1.003, noise=lambda x: 1_000)
    plain = maximize_profit_model(out, 2 * 10**6, rate=1.003, noise=lambda x: 1_000, refine=False)
    assert sized is not None and plain is not None
    assert sized.amount_in % 1_000 <= 1_000 // 32  # within 1/32 of the step's width
    assert sized.amount_out == plain.amount_out and sized.profit >= plain.profit
