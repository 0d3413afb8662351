"""Orca Whirlpool fee rate: the program's ``FeeRateManager`` (manager/fee_rate_manager.rs).

Static pools charge ``fee_rate``; adaptive-fee pools (an oracle account) add a fee from the
volatility accumulator per tick group, bound each swap step to the current group, and decay the
reference by elapsed time (see :class:`FeeRate`).
"""

from __future__ import annotations

from dataclasses import replace

from solarb.dex import clmm_math as cm
from solarb.dex.base import QuoteError
from solarb.dex.orca_whirlpool_layout import AdaptiveFeeConstants, AdaptiveFeeVariables, Oracle

__all__ = ["FEE_RATE_HARD_LIMIT", "FeeRate"]

FEE_RATE_HARD_LIMIT = 100_000
VA_SCALE = 10_000  # VOLATILITY_ACCUMULATOR_SCALE_FACTOR
REDUCTION_DENOM = 10_000
CONTROL_DENOM = 100_000
MAX_REFERENCE_AGE = 3_600
INVALID_TIMESTAMP = 6022  # the program's InvalidTimestamp error code


class FeeRate:
    """The program's ``FeeRateManager`` (static when ``oracle`` is None): ``total()`` is the
    step's fee rate, ``bounded`` the step target within the tick group, ``finish`` the oracle
    variables after the swap."""

    __slots__ = ("a_to_b", "static", "c", "v", "group", "lower", "upper")

    def __init__(
        self, a_to_b: bool, tick: int, ts: int, static: int, oracle: Oracle | None
    ) -> None:
        self.a_to_b, self.static = a_to_b, static
        self.c: AdaptiveFeeConstants | None = None
        if oracle is None:
            return
        c, v = oracle.constants, oracle.variables
        self.c = c
        self.group = tick // c.tick_group_size
        last_max = max(v.last_reference_update_timestamp, v.last_major_swap_timestamp)
        if ts < last_max:
            raise QuoteError("orca_whirlpool: InvalidTimestamp: clock is behind the oracle", INVALID_TIMESTAMP)
        age = ts - v.last_reference_update_timestamp
        if age > MAX_REFERENCE_AGE or ts - last_max >= c.decay_period:
            v = replace(v, tick_group_index_reference=self.group, volatility_reference=0,
                        last_reference_update_timestamp=ts)  # fmt: skip
        elif ts - last_max >= c.filter_period:
            ref = v.volatility_accumulator * c.reduction_factor // REDUCTION_DENOM
            v = replace(v, tick_group_index_reference=self.group, volatility_reference=ref,
                        last_reference_update_timestamp=ts)  # fmt: skip
        self.v = v
        delta = -(-(c.max_volatility_accumulator - v.volatility_reference) // VA_SCALE)
        lo_i, hi_i = v.tick_group_index_reference - delta, v.tick_group_index_reference + delta
        lo_t, hi_t = lo_i * c.tick_group_size, hi_i * c.tick_group_size + c.tick_group_size
        self.lower = (lo_i, cm.sqrt_price_at_tick_unchecked(lo_t)) if lo_t > cm.MIN_TICK else None
        self.upper = (hi_i, cm.sqrt_price_at_tick_unchecked(hi_t)) if hi_t < cm.MAX_TICK else None

    def update_va(self) -> None:
        c = self.c
        if c is None:
            return
        v = self.v
        va = v.volatility_reference + abs(v.tick_group_index_reference - self.group) * VA_SCALE
        self.v = replace(v, volatility_accumulator=min(va, c.max_volatility_accumulator))

    def total(self) -> int:
        c = self.c
        if c is None:
            return self.static
        crossed = self.v.volatility_accumulator * c.tick_group_size
        den = CONTROL_DENOM * VA_SCALE * VA_SCALE
        rate = -(-c.adaptive_fee_control_factor * crossed * crossed // den)
        rate = min(rate, FEE_RATE_HARD_LIMIT)
        return min(self.static + rate, FEE_RATE_HARD_LIMIT)

    def bounded(self, target: int, liquidity: int) -> tuple[int, bool]:
        c = self.c
        if c is None:
            return target, False
        if c.adaptive_fee_control_factor == 0 or liquidity == 0:
            return target, True
        if self.lower is not None and self.group < self.lower[0]:
            return (target, True) if self.a_to_b else (min(target, self.lower[1]), True)
        if self.upper is not None and self.group > self.upper[0]:
            return (max(target, self.upper[1]), True) if self.a_to_b else (target, True)
        g = c.tick_group_size
        edge = self.group * g if self.a_to_b else self.group * g + g
        p = cm.sqrt_price_at_tick(min(max(edge, cm.MIN_TICK), cm.MAX_TICK))
        return (max(target, p), False) if self.a_to_b else (min(target, p), False)

    def advance(self) -> None:
        if self.c is not None:
            self.group += -1 if self.a_to_b else 1

    def advance_after_skip(self, price: int, next_tick_price: int, next_tick: int) -> None:
        c = self.c
        assert c is not None
        g = c.tick_group_size
        if price == next_tick_price:
            tick, boundary = next_tick, next_tick % g == 0
        else:
            tick = cm.tick_at_sqrt_price(price)
            boundary = tick % g == 0 and price == cm.sqrt_price_at_tick(tick)
        last = tick // g - 1 if boundary and not self.a_to_b else tick // g
        if (self.a_to_b and last < self.group) or (not self.a_to_b and last > self.group):
            self.group = last
            self.update_va()
        self.group += -1 if self.a_to_b else 1

    def finish(self, ts: int, pre: int, post: int) -> AdaptiveFeeVariables | None:
        c = self.c
        if c is None:
            return None
        lo, hi = (pre, post) if pre < post else (post, pre)
        if hi >= (lo * cm.sqrt_price_at_tick(c.major_swap_threshold_ticks)) >> 64:
            self.v = replace(self.v, last_major_swap_timestamp=ts)
        return self.v
