"""Integer sizing against brute force on small constant-product chains."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from solarb.dex.base import InsufficientLiquidity, QuoteError
from solarb.strategy.sizing import maximize_profit
from tests.support.markets import cp_chain


def _chain(pools: list[tuple[int, int]]) -> Callable[[int], int]:
    return cp_chain(pools, fee_num=25)


def _brute(out: Callable[[int], int], hi: int) -> int:
    best = None
    for x in range(1, hi + 1):
        try:
            p = out(x) - x
        except QuoteError:
            continue
        best = p if best is None else max(best, p)
    assert best is not None
    return best


@pytest.mark.parametrize(
    "pools,hi",
    [
        ([(1_000, 2_100), (2_000, 1_000)], 8),
        ([(50, 120), (100, 50)], 5),
        ([(500, 1_000), (1_000, 1_500), (1_500, 560)], 8),
    ],
)
def test_small_range_is_exact(pools: list[tuple[int, int]], hi: int) -> None:
    out = _chain(pools)
    sized = maximize_profit(out, hi)
    assert sized is not None
    assert sized.profit == _brute(out, hi)


def test_matches_brute_force_on_random_small_reserves() -> None:
    rng = random.Random(7)
    cases = exact = 0
    while cases < 120:
        hops = rng.choice((2, 3))
        pools = []
        for _ in range(hops):
            r = rng.randint(2_000, 2_000_000)
            pools.append((r, int(r * rng.uniform(0.3, 3.0))))
        out = _chain(pools)
        hi = rng.randint(50, 6_000)
        best = _brute(out, hi)
        if best <= 0:
            continue
        cases += 1
        sized = maximize_profit(out, hi)
        assert sized is not None
        assert out(sized.amount_in) == sized.amount_out  # amounts come from exact quotes
        assert 1 <= sized.amount_in <= hi
        # global optimum up to step-rounding noise: a few base units at most on tiny pools
        assert best - sized.profit <= 2 * hops, (pools, hi, best, sized)
        exact += sized.profit == best
    assert exact >= 0.85 * cases, exact


def test_large_reserves_find_the_classic_optimum_with_few_quotes() -> None:
    # 2-hop: pool 1 sells B cheap (1 A -> 2.02 B), pool 2 buys B at 1 B -> 0.5 A; fee 0.25% each.
    out = _chain([(10**12, 2_020_000_000_000), (2 * 10**12, 10**12)])
    sized = maximize_profit(out, 10**12)
    assert sized is not None and sized.profit > 0
    # exact local optimality around the answer, at several scales
    for dx in (-1000, -10, -1, 1, 10, 1000):
        assert out(sized.amount_in + dx) - (sized.amount_in + dx) <= sized.profit
    assert sized.quotes < 120


def test_optimum_on_the_cap_is_found() -> None:
    out = _chain([(10**9, 3 * 10**9), (10**9, 10**9)])  # profit rises far beyond the cap
    sized = maximize_profit(out, 12_345)
    assert sized is not None
    assert sized.amount_in == 12_345
    assert sized.profit == out(12_345) - 12_345


def test_unprofitable_chain_returns_nonpositive_profit() -> None:
    out = _chain([(10**6, 10**6), (10**6, 10**6)])
    sized = maximize_profit(out, 50_000)
    assert sized is not None and sized.profit <= 0


def test_infeasible_sizes_are_avoided() -> None:
    base = _chain([(10**6, 3 * 10**6), (10**6, 10**6)])
    limit = 7_777

    def out(x: int) -> int:
        if x > limit:
            raise QuoteError("too big for this test")
        return base(x)

    sized = maximize_profit(out, 10**9)
    assert sized is not None
    assert sized.amount_in == limit  # profit rises until the feasibility edge


def test_zero_output_at_small_sizes_is_infeasible_not_fatal() -> None:
    base = _chain([(10**6, 3 * 10**6), (10**6, 10**6)])

    def out(x: int) -> int:
        if x < 5_000:  # like a real adapter refusing a swap whose output rounds to zero
            raise QuoteError("zero output")
        return base(x)

    for hi in (5_010, 5_100, 6_000):  # the optimum is on the cap: exact
        sized = maximize_profit(out, hi)
        assert sized is not None
        assert sized.profit == _brute(out, hi)
    best = maximize_profit(out, 10**6)
    assert best is not None and best.amount_in >= 5_000 and best.profit > 100_000


def test_all_infeasible_returns_none() -> None:
    def out(x: int) -> int:
        raise InsufficientLiquidity("empty")

    assert maximize_profit(out, 10**6) is None
    assert maximize_profit(_chain([(10, 10)]), 0) is None
