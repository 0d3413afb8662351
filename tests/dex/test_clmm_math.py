"""clmm_math: tick <-> sqrt price (Whirlpool and Raydium constants), amount deltas and next prices with
the programs' rounding (checked against exact rational arithmetic), the Whirlpool swap step."""

from __future__ import annotations

import random
from fractions import Fraction
from math import ceil, floor

import pytest

from solarb.dex import clmm_math as cm

Q64 = 1 << 64
RNG_SEED = 7


def test_tick_bounds_and_known_values() -> None:
    assert cm.sqrt_price_at_tick(cm.MIN_TICK) == cm.MIN_SQRT_PRICE_X64
    assert cm.sqrt_price_at_tick(cm.MAX_TICK) == cm.MAX_SQRT_PRICE_X64
    assert cm.sqrt_price_at_tick(0) == Q64
    assert cm.sqrt_price_at_tick(1) == 18447666387855959850  # program test vector
    assert cm.sqrt_price_at_tick(-1) == 18445821805675392311
    assert cm.raydium_sqrt_price_at_tick(cm.MIN_TICK) == cm.MIN_SQRT_PRICE_X64
    assert cm.raydium_sqrt_price_at_tick(cm.MAX_TICK) == cm.RAYDIUM_MAX_SQRT_PRICE_X64
    with pytest.raises(cm.ClmmMathError):
        cm.sqrt_price_at_tick(cm.MAX_TICK + 1)
    with pytest.raises(cm.ClmmMathError):
        cm.raydium_sqrt_price_at_tick(cm.MIN_TICK - 1)
    assert cm.sqrt_price_at_tick_unchecked(cm.MIN_TICK - 1) < cm.MIN_SQRT_PRICE_X64


def test_tick_at_sqrt_price_edges() -> None:
    assert cm.tick_at_sqrt_price(cm.MIN_SQRT_PRICE_X64) == cm.MIN_TICK
    assert cm.tick_at_sqrt_price(cm.MIN_SQRT_PRICE_X64 + 1) == cm.MIN_TICK
    assert cm.tick_at_sqrt_price(cm.MAX_SQRT_PRICE_X64) == cm.MAX_TICK
    assert cm.tick_at_sqrt_price(cm.MAX_SQRT_PRICE_X64 - 1) == cm.MAX_TICK - 1
    assert (cm.tick_at_sqrt_price(Q64 - 1), cm.tick_at_sqrt_price(Q64), cm.tick_at_sqrt_price(Q64 + 1)) == (-1, 0, 0)
    assert cm.raydium_tick_at_sqrt_price(cm.RAYDIUM_MAX_SQRT_PRICE_X64 - 1) == cm.MAX_TICK - 1
    with pytest.raises(cm.ClmmMathError):
        cm.tick_at_sqrt_price(cm.MIN_SQRT_PRICE_X64 - 1)
    with pytest.raises(cm.ClmmMathError):
        cm.raydium_tick_at_sqrt_price(cm.RAYDIUM_MAX_SQRT_PRICE_X64)


def test_tick_round_trip_and_monotonic() -> None:
    rng = random.Random(RNG_SEED)
    for _ in range(3000):
        t = rng.randint(cm.MIN_TICK, cm.MAX_TICK - 1)
        lo, hi = cm.sqrt_price_at_tick(t), cm.sqrt_price_at_tick(t + 1)
        assert lo < hi
        assert cm.tick_at_sqrt_price(lo) == t and cm.tick_at_sqrt_price(hi - 1) == t
        rlo, rhi = cm.raydium_sqrt_price_at_tick(t), cm.raydium_sqrt_price_at_tick(t + 1)
        assert rlo < rhi and cm.raydium_tick_at_sqrt_price(rlo) == t and cm.raydium_tick_at_sqrt_price(rhi - 1) == t
        # both approximate sqrt(1.0001)^t (float reference good to about 1e-12)
        exact = 1.0001 ** (t / 2)
        for got in (lo, rlo):
            assert abs(got - exact * Q64) <= max(4.0, got * 2**-30)


def test_amount_deltas_round_as_documented() -> None:
    rng = random.Random(RNG_SEED + 1)
    for _ in range(2000):
        p0 = rng.randint(cm.MIN_SQRT_PRICE_X64, cm.MAX_SQRT_PRICE_X64)
        p1 = rng.randint(cm.MIN_SQRT_PRICE_X64, cm.MAX_SQRT_PRICE_X64)
        liq = rng.randint(0, 2 ** rng.randint(1, 127))
        lo, hi = min(p0, p1), max(p0, p1)
        exact_a = Fraction(liq * (hi - lo) * Q64, hi * lo)
        exact_b = Fraction(liq * (hi - lo), Q64)
        assert cm.amount_delta_a(p0, p1, liq, True) == ceil(exact_a)
        assert cm.amount_delta_a(p1, p0, liq, False) == floor(exact_a)
        assert cm.amount_delta_b(p0, p1, liq, True) == ceil(exact_b)
        assert cm.amount_delta_b(p1, p0, liq, False) == floor(exact_b)
    assert cm.amount_delta_a(Q64, 2 * Q64, Q64, False) == Q64 // 2
    assert cm.amount_delta_b(Q64, 2 * Q64, Q64, False) == Q64


def test_next_sqrt_price_rounding_and_errors() -> None:
    rng = random.Random(RNG_SEED + 2)
    for _ in range(2000):
        p = rng.randint(cm.MIN_SQRT_PRICE_X64 * 4, cm.MAX_SQRT_PRICE_X64 // 4)
        liq = rng.randint(1, 2**100)
        amount = rng.randint(0, 2**64 - 1)
        exact_a_in = Fraction(liq * p * Q64, liq * Q64 + p * amount)
        try:
            assert cm.next_sqrt_price_from_a_round_up(p, liq, amount, True) == ceil(exact_a_in)
        except cm.ClmmMathError as exc:
            assert exc.name in ("TokenMinSubceeded", "MultiplicationOverflow")
        got = cm.next_sqrt_price_from_b_round_down(p, liq, amount, True)
        assert got == p + floor(Fraction(amount * Q64, liq))
        try:
            down = cm.next_sqrt_price_from_b_round_down(p, liq, amount, False)
            assert down == p - ceil(Fraction(amount * Q64, liq))
        except cm.ClmmMathError as exc:
            assert exc.name == "SqrtPriceOutOfBounds" and ceil(Fraction(amount * Q64, liq)) > p
    with pytest.raises(cm.ClmmMathError) as info:
        cm.next_sqrt_price_from_a_round_up(Q64, 10, 10, False)  # removes all of token A
    assert info.value.name == "DivideByZero"
    with pytest.raises(cm.ClmmMathError):
        cm.next_sqrt_price_from_b_round_down(Q64, 0, 1, True)
    assert cm.next_sqrt_price(Q64, 10**6, 0, True, True) == Q64
    assert cm.mul_div_floor(7, 3, 2) == 10 and cm.mul_div_ceil(7, 3, 2) == 11
    with pytest.raises(cm.ClmmMathError):
        cm.mul_div_ceil(1, 1, 0)


def test_swap_step_invariants() -> None:
    rng = random.Random(RNG_SEED + 3)
    for _ in range(3000):
        cur = rng.randint(cm.MIN_SQRT_PRICE_X64 * 16, cm.MAX_SQRT_PRICE_X64 // 16)
        a_to_b = rng.random() < 0.5
        tgt = rng.randint(cm.MIN_SQRT_PRICE_X64, cur - 1) if a_to_b else rng.randint(cur + 1, cm.MAX_SQRT_PRICE_X64)
        liq = rng.randint(0, 2**80)
        fee_rate = rng.choice((0, 100, 3000, 60_000, 100_000))
        is_input = rng.random() < 0.7
        remaining = rng.randint(1, 2**64 - 1)
        try:
            s = cm.swap_step(remaining, fee_rate, liq, cur, tgt, is_input, a_to_b)
        except cm.ClmmMathError:
            continue
        lo, hi = min(cur, tgt), max(cur, tgt)
        assert lo <= s.next_sqrt_price <= hi
        if is_input:
            assert s.amount_in + s.fee_amount <= remaining
            if s.next_sqrt_price != tgt:
                assert s.amount_in + s.fee_amount == remaining
        else:
            assert s.amount_out <= remaining
        if s.next_sqrt_price == tgt and fee_rate:
            assert s.fee_amount == -(-s.amount_in * fee_rate // (cm.FEE_RATE_MUL_VALUE - fee_rate))
    # zero liquidity: the step jumps to the target for free
    assert cm.swap_step(1000, 3000, 0, Q64, Q64 // 2, True, True) == cm.SwapStep(0, 0, Q64 // 2, 0)
    # a step the whole input cannot finish: the fee is the remainder
    s = cm.swap_step(10**6, 3000, 10**18, Q64, Q64 // 2, True, True)
    assert s.amount_in == 997_000 and s.fee_amount == 3_000 and s.amount_out < 997_000


def test_whirlpool_delta_overflow_names() -> None:
    big = 2**127
    with pytest.raises(cm.ClmmMathError) as info:  # L * dsqrt << 64 above u256
        cm.swap_step(1, 3000, big, cm.MAX_SQRT_PRICE_X64, cm.MIN_SQRT_PRICE_X64, True, True)
    assert info.value.name == "MultiplicationOverflow"
