"""Raydium CLMM swap engine: the program's ``swap_internal`` over decoded accounts.

Mirrors raydium-io/raydium-clmm (2026 head) ``instructions/swap.rs``, ``libraries/swap_math.rs``,
``sqrt_price_math.rs``, ``liquidity_math.rs`` and ``states/tick_array.rs`` (limit-order matching):

* step: ``compute_swap`` — fee on input: ``floor(amount * (1e6 - fee) / 1e6)`` drives the
  price; at the target ``fee = ceil(in * fee / (1e6 - fee))``, short of it
  ``fee = remaining - in``; fee on output: ``fee = ceil(out * fee / 1e6)`` and a partial step
  charges the whole remaining input;
* amounts from ``L * dP`` in one 256-bit division (ceil for input, floor for output); new prices
  rounded toward the pool (token_0: ceil, token_1: floor); above u64 at the target = not reached;
* fee split per step: ``protocol = floor(fee * rate / 1e6)``, ``fund`` likewise, the rest grows
  ``fee_growth_global`` by ``floor(rest * 2^64 / L)`` (or goes to protocol when ``L == 0``);
* reaching an initialized tick matches its limit orders at the tick price (token_0 price
  ``sqrt^2 >> 64``, rounded against the taker), then crosses its liquidity if no orders remain;
  a tick emptied of liquidity and orders is uninitialized and, when its array empties, the
  array's bitmap bit is cleared (later navigation sees it, as in the program);
* dynamic fee: volatility accumulator by tick-spacing index, ``fee = base + ceil(control * (va *
  spacing)^2 / 1e13)`` capped at 10 %, with a step at every spacing boundary.

Errors carry the program's code (:data:`raydium_clmm_layout.ERRORS`; Anchor 25xx for a bare
``require_*``): checked-math overflows are ``CalculateOverflow`` as in the program.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import raydium_clmm_bitmap as nav
from solarb.dex.base import InsufficientLiquidity
from solarb.dex.raydium_clmm_bitmap import (
    array_start_index,
    first_tick_array_start,
    next_tick_array_start,
)
from solarb.dex.raydium_clmm_layout import (
    ANCHOR_REQUIRE_EQ,
    ANCHOR_REQUIRE_GT,
    ANCHOR_REQUIRE_GTE,
    ERR_CALCULATE_OVERFLOW,
    ERR_INVALID_FIRST_TICK_ARRAY,
    ERR_INVALID_TICK_ARRAY,
    ERR_LIQUIDITY_ADD,
    ERR_LIQUIDITY_INSUFFICIENT,
    ERR_LIQUIDITY_SUB,
    ERR_MISSING_EXTENSION,
    ERR_NOT_APPROVED,
    ERR_NOT_ENOUGH_TICK_ARRAYS,
    ERR_SQRT_PRICE_LIMIT_OVERFLOW,
    ERR_SQRT_PRICE_X64,
    ERR_ZERO_AMOUNT,
    ERR_ZERO_LIQUIDITY,
    ERR_ZERO_SQRT_PRICE,
    MAX_TICK,
    MIN_TICK,
    NAME,
    AmmConfig,
    BitmapExtension,
    ClmmPool,
    DynamicFeeInfo,
    TickArray,
    TickState,
    reward_growths,
)  # fmt: skip
from solarb.dex.raydium_clmm_layout import program_error as _err

__all__ = ["MAX_SQRT_PRICE_X64", "MIN_SQRT_PRICE_X64", "Step", "SwapResult", "compute_swap",
           "match_limit_order", "swap_internal"]  # fmt: skip

MIN_SQRT_PRICE_X64 = cm.MIN_SQRT_PRICE_X64
MAX_SQRT_PRICE_X64 = cm.RAYDIUM_MAX_SQRT_PRICE_X64
FEE_DEN = 1_000_000
MAX_FEE_RATE = 100_000
VOLATILITY_SCALE = 10_000
REDUCTION_DEN = 10_000
DYNAMIC_FEE_CONTROL_DEN = 100_000
SWAP_STATUS_BIT = 1 << 4
U64_MAX = cm.U64_MAX
U128_MAX = cm.U128_MAX
Q64 = 1 << 64
ERR_MAX_TOKEN_OVERFLOW = 6037
ERR_INVALID_LIMIT_ORDER_AMOUNT = 6042


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --- step math ---


def _next_price_from_0(price: int, liquidity: int, amount: int, add: bool) -> int:
    """``get_next_sqrt_price_from_amount_0_rounding_up`` (U256, result truncated to u128)."""
    if amount == 0:
        return price
    num = liquidity << 64
    den = num + amount * price if add else num - amount * price
    if den <= 0:
        raise _err(ERR_CALCULATE_OVERFLOW, "price below zero")
    return _ceil_div(num * price, den) & U128_MAX


def _next_price_from_1(price: int, liquidity: int, amount: int, add: bool) -> int:
    """``get_next_sqrt_price_from_amount_1_rounding_down``."""
    if amount == 0:
        return price
    res = price + (amount << 64) // liquidity if add else price - _ceil_div(amount << 64, liquidity)
    if not 0 <= res <= U128_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "price out of u128")
    return res


def _next_price(price: int, liquidity: int, amount: int, zero_for_one: bool, is_input: bool) -> int:
    if not MIN_SQRT_PRICE_X64 <= price < MAX_SQRT_PRICE_X64:
        raise _err(ERR_SQRT_PRICE_X64, f"sqrt price {price}")
    if liquidity <= 0:
        raise _err(ERR_ZERO_LIQUIDITY, "zero liquidity")
    if zero_for_one == is_input:  # token_0 moves: in for a->b input, out for b->a output
        return _next_price_from_0(price, liquidity, amount, is_input)
    return _next_price_from_1(price, liquidity, amount, is_input)


def _amounts_for_swap(p0: int, p1: int, liquidity: int,
                      zero_for_one: bool) -> tuple[int, int] | None:
    """``get_delta_amounts_for_swap``: ``(amount_in, amount_out)``; None for MaxTokenOverflow."""
    if min(p0, p1) == 0:
        raise _err(ERR_ZERO_SQRT_PRICE, "zero sqrt price")
    if zero_for_one:
        a_in = cm.amount_delta_a(p0, p1, liquidity, True)
        a_out = cm.amount_delta_b(p0, p1, liquidity, False)
    else:
        a_in = cm.amount_delta_b(p0, p1, liquidity, True)
        a_out = cm.amount_delta_a(p0, p1, liquidity, False)
    if a_in > U64_MAX or a_out > U64_MAX:
        return None
    return a_in, a_out


@dataclass(slots=True, frozen=True)
class Step:
    """One ``compute_swap`` result."""

    sqrt_price_next_x64: int
    amount_in: int
    amount_out: int
    fee_amount: int


def compute_swap(price: int, target: int, liquidity: int, remaining: int, fee_rate: int,
                 is_base_input: bool, zero_for_one: bool, fee_on_input: bool) -> Step:
    """``swap_math::compute_swap``: one step from ``price`` toward ``target`` (see module doc)."""
    return Step(*_compute_swap(price, target, liquidity, remaining, fee_rate, is_base_input,
                               zero_for_one, fee_on_input))  # fmt: skip


def _compute_swap(price: int, target: int, liquidity: int, remaining: int, fee_rate: int,
                  is_base_input: bool, zero_for_one: bool,
                  fee_on_input: bool) -> tuple[int, int, int, int]:
    """:func:`compute_swap` as ``(sqrt_price_next, amount_in, amount_out, fee)``."""
    rest = FEE_DEN - fee_rate
    if is_base_input:
        for_price = remaining * rest // FEE_DEN if fee_on_input else remaining
    else:
        for_price = remaining if fee_on_input else _ceil_div(remaining * FEE_DEN, rest)
        if for_price > U64_MAX:
            raise _err(ERR_CALCULATE_OVERFLOW, "amount above u64")
    at_target = _amounts_for_swap(target, price, liquidity, zero_for_one)
    if at_target is not None and for_price >= at_target[0 if is_base_input else 1]:
        nxt, (a_in, a_out) = target, at_target
    else:
        nxt = _next_price(price, liquidity, for_price, zero_for_one, is_base_input)
        amounts = _amounts_for_swap(nxt, price, liquidity, zero_for_one)
        if amounts is None:
            raise _err(ERR_MAX_TOKEN_OVERFLOW, "step amount above u64")
        a_in, a_out = amounts
    if (nxt < target) if zero_for_one else (target < nxt):
        raise _err(ANCHOR_REQUIRE_GTE, "price passed the target")
    if is_base_input:
        if fee_on_input:
            fee = remaining - a_in if nxt != target else _ceil_div(a_in * fee_rate, rest)
            if fee < 0:
                raise _err(ERR_CALCULATE_OVERFLOW, "fee below zero")
        else:
            fee = _ceil_div(a_out * fee_rate, FEE_DEN)
            a_out -= fee
            if nxt != target:
                a_in = remaining
    elif fee_on_input:
        a_out = min(a_out, remaining)
        fee = _ceil_div(a_in * fee_rate, rest)
    else:
        fee = _ceil_div(a_out * fee_rate, FEE_DEN)
        if a_out - fee > remaining:
            fee, a_out = a_out - remaining, remaining
        else:
            a_out -= fee
    if fee > U64_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "fee above u64")
    return nxt, a_in, a_out, fee


# --- limit orders (TickState::match_limit_order_with_sqrt_price) ---


def _lo_output(amount_in: int, price: int, zero_for_one: bool) -> int:
    if not zero_for_one and price == 0:
        raise _err(ERR_CALCULATE_OVERFLOW, "zero tick price")
    out = amount_in * price // Q64 if zero_for_one else amount_in * Q64 // price
    if out > U128_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "limit-order output")
    return out


def _lo_input(amount_out: int, price: int, zero_for_one: bool) -> int:
    if not zero_for_one and price == 0:
        raise _err(ERR_CALCULATE_OVERFLOW, "zero tick price")
    if zero_for_one:
        amount = _ceil_div(amount_out * price, Q64)
    else:
        amount = _ceil_div(amount_out * Q64, price)
    if amount > U64_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "limit-order input")
    return amount


def match_limit_order(t: TickState, swap_amount: int, zero_for_one: bool, is_base_input: bool,
                      fee_rate: int, fee_on_input: bool, sqrt_price: int) -> tuple[TickState, Step]:
    """Fill ``t``'s limit orders with up to ``swap_amount``: the updated tick and
    ``(amount_in, amount_out, amm fee)`` as a :class:`Step` at ``sqrt_price``."""
    unfilled = t.orders_amount + t.part_filled_orders_remaining
    if swap_amount == 0 or unfilled == 0:
        return t, Step(sqrt_price, 0, 0, 0)
    prod = sqrt_price * sqrt_price + (0 if zero_for_one else Q64 - 1)
    price = prod >> 64
    if price > U128_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "tick price")
    fee = 0
    if is_base_input:
        if fee_on_input:
            fee = _ceil_div(swap_amount * fee_rate, FEE_DEN)
        a_in = swap_amount - fee
        matched = _lo_output(a_in, price, zero_for_one)
        if matched > unfilled:
            a_out = unfilled
            a_in = _lo_input(unfilled, price, not zero_for_one)
            if fee_on_input:
                fee = _ceil_div(a_in * fee_rate, FEE_DEN - fee_rate)
        else:
            a_out = matched
    else:
        net = min(swap_amount, unfilled)
        a_out = net if fee_on_input else min(_ceil_div(net * FEE_DEN, FEE_DEN - fee_rate), unfilled)
        a_in = _lo_input(a_out, price, not zero_for_one)
        if fee_on_input:
            fee = _ceil_div(a_in * fee_rate, FEE_DEN - fee_rate)
    if max(a_in, a_out, fee) > U64_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "limit-order amounts")
    part, ratio, orders, phase = (t.part_filled_orders_remaining, t.unfilled_ratio_x64,
                                  t.orders_amount, t.order_phase)  # fmt: skip
    from_part = 0
    if part > 0:
        from_part = min(part, a_out)
        if from_part > 0:
            ratio = ratio * (part - from_part) // part
        part -= from_part
    rest = max(0, a_out - from_part)
    if rest > 0:
        if part != 0:
            raise _err(ANCHOR_REQUIRE_EQ, "partly filled orders remain")
        if orders < rest:
            raise _err(ERR_INVALID_LIMIT_ORDER_AMOUNT, "orders below the fill")
        phase = min(phase + 1, U64_MAX)
        ratio = Q64 * (orders - rest) // orders
        part, orders = orders - rest, 0
    if not fee_on_input:
        fee = _ceil_div(a_out * fee_rate, FEE_DEN)
        a_out -= fee
    new = replace(t, order_phase=phase, orders_amount=orders, part_filled_orders_remaining=part,
                  unfilled_ratio_x64=ratio)  # fmt: skip
    return new, Step(sqrt_price, a_in, a_out, fee)


# --- the swap loop ---


@dataclass(slots=True)
class SwapResult:
    """What ``swap_internal`` computes and writes back. Amounts are token_0 / token_1 moved.

    ``updated_ticks`` are the ticks the program writes (reached: crossed and/or limit orders
    matched) as ``(tick array, offset, new state)``; ``emptied_arrays`` the arrays whose
    initialized-tick count dropped (array, count decrement); ``tick_array_bitmap`` and
    ``extension`` the navigation bitmaps after any bit the swap cleared."""

    amount_0: int
    amount_1: int
    sqrt_price_x64: int
    tick: int
    liquidity: int
    fee_growth_global_x64: int
    fee_on_token_0: bool
    lp_fee: int
    protocol_fee: int
    fund_fee: int
    dynamic_fee: DynamicFeeInfo
    tick_array_bitmap: int
    extension: BitmapExtension | None
    updated_ticks: list[tuple[Pubkey, int, TickState]] = field(default_factory=list)
    emptied_arrays: dict[Pubkey, int] = field(default_factory=dict)
    fee_without_liquidity: int = 0
    """Part of ``protocol_fee`` charged while no liquidity was in range (e.g. limit orders on
    an otherwise empty tick): the program books it to the protocol; the SDK drops it."""

    @property
    def trade_fee(self) -> int:
        """lp + protocol + fund fee, in the fee token (token_0 if ``fee_on_token_0``)."""
        return self.lp_fee + self.protocol_fee + self.fund_fee


def _dyn_rate(d: DynamicFeeInfo, spacing: int) -> int:
    crossed = d.volatility_accumulator * spacing
    den = DYNAMIC_FEE_CONTROL_DEN * VOLATILITY_SCALE * VOLATILITY_SCALE
    return min(_ceil_div(d.dynamic_fee_control * crossed * crossed, den), MAX_FEE_RATE)


def _with_accumulator(d: DynamicFeeInfo, tsi: int) -> DynamicFeeInfo:
    va = d.volatility_reference + abs(d.tick_spacing_index_reference - tsi) * VOLATILITY_SCALE
    return replace(d, volatility_accumulator=min(va, d.max_volatility_accumulator))


def _update_reference(d: DynamicFeeInfo, tsi: int, now: int) -> DynamicFeeInfo:
    elapsed = max(0, now - d.last_update_timestamp)
    if elapsed < d.filter_period:
        return d
    vref = 0
    if elapsed < d.decay_period:
        vref = d.volatility_accumulator * d.reduction_factor // REDUCTION_DEN
    return replace(d, tick_spacing_index_reference=tsi, volatility_reference=vref,
                   last_update_timestamp=now)  # fmt: skip


def _next_in_array(arr: TickArray, tick: int, spacing: int, zero_for_one: bool) -> TickState | None:
    if array_start_index(tick, spacing) != arr.start_tick_index:
        return None
    off = (tick - arr.start_tick_index) // spacing
    ticks = arr.ticks
    if len(ticks) <= 8:  # few ticks held (only initialized ones are decoded): look at them
        best: TickState | None = None
        at = -1
        for i, t in ticks.items():
            if t.initialized and ((0 <= i <= off) if zero_for_one else (off < i < 60)) and (
                    at < 0 or (i > at if zero_for_one else i < at)):  # fmt: skip
                best, at = t, i
        return best
    for i in range(off, -1, -1) if zero_for_one else range(off + 1, 60):
        t = ticks.get(i)
        if t is not None and t.initialized:
            return t
    return None


def _first_in_array(arr: TickArray, zero_for_one: bool) -> TickState:
    found = [i for i, t in arr.ticks.items() if t.initialized]
    if not found:
        raise _err(ERR_INVALID_TICK_ARRAY, f"tick array {arr.start_tick_index}: none initialized")
    return arr.ticks[max(found) if zero_for_one else min(found)]


def _clear_bit(pool: ClmmPool, ext: BitmapExtension | None,
               start: int) -> tuple[ClmmPool, BitmapExtension | None]:
    """``PoolState::flip_tick_array_bit`` for an array that just became empty."""
    where, idx, bit = nav.bitmap_position(start, pool.tick_spacing)
    if where == "default":
        return replace(pool, tick_array_bitmap=pool.tick_array_bitmap ^ (1 << bit)), ext
    if ext is None:
        raise _err(ERR_MISSING_EXTENSION, "the bitmap extension is needed")
    side = list(ext.positive if where == "positive" else ext.negative)
    side[idx] ^= 1 << bit
    if where == "positive":
        return pool, replace(ext, positive=tuple(side))
    return pool, replace(ext, negative=tuple(side))


@dataclass(slots=True)
class _State:
    remaining: int
    calculated: int = 0
    fee_growth: int = 0
    lp_fee: int = 0
    protocol_fee: int = 0
    fund_fee: int = 0
    unbooked: int = 0  # fee charged while no liquidity was in range (goes to protocol)

    def apply(self, a_in: int, a_out: int, fee: int, liquidity: int, is_base_input: bool,
              fee_on_input: bool, p_rate: int, f_rate: int) -> None:
        """``SwapState::apply_swap_amounts`` + ``spilt_fees`` for one step's amounts."""
        consumed = a_in + fee if fee_on_input else a_in
        if is_base_input:
            self.remaining -= consumed
            self.calculated += a_out
        else:
            self.remaining -= a_out
            self.calculated += consumed
        if self.remaining < 0 or consumed > U64_MAX or self.calculated > U64_MAX:
            raise _err(ERR_CALCULATE_OVERFLOW, "amount out of u64")
        pd, fd = fee * p_rate // FEE_DEN, fee * f_rate // FEE_DEN
        self.protocol_fee += pd
        self.fund_fee += fd
        rest = fee - pd - fd
        if rest < 0:
            raise _err(ERR_CALCULATE_OVERFLOW, "fee split")
        if liquidity > 0:
            delta = (rest << 64) // liquidity
            if delta > U128_MAX:
                raise _err(ERR_CALCULATE_OVERFLOW, "fee growth")
            self.fee_growth = (self.fee_growth + delta) & U128_MAX
            self.lp_fee += rest
        else:
            self.protocol_fee += rest
            self.unbooked += rest


def swap_internal(pool: ClmmPool, config: AmmConfig, arrays: Sequence[TickArray],
                  ext: BitmapExtension | None, amount: int, sqrt_price_limit_x64: int,
                  zero_for_one: bool, is_base_input: bool, block_timestamp: int, *,
                  first: tuple[bool, int] | None = None) -> SwapResult:
    """The program's ``swap_internal`` over ``arrays`` (the tick-array accounts passed, in
    instruction order). The passed arrays are not modified: the swap writes ticks (as the
    program writes the accounts) into a private copy of an array, made at its first write, and
    reports them in ``updated_ticks``. Raises :class:`QuoteError` with the program's code where
    the program fails.
    ``first``: ``first_tick_array_start(pool, ext, zero_for_one)`` when the caller has it."""
    if amount == 0:
        raise _err(ERR_ZERO_AMOUNT, "zero amount")
    if pool.status & SWAP_STATUS_BIT:
        raise _err(ERR_NOT_APPROVED, "swaps disabled on this pool")
    limit = sqrt_price_limit_x64
    if not ((MIN_SQRT_PRICE_X64 < limit < pool.sqrt_price_x64) if zero_for_one
            else (pool.sqrt_price_x64 < limit < MAX_SQRT_PRICE_X64)):  # fmt: skip
        raise _err(ERR_SQRT_PRICE_LIMIT_OVERFLOW, "price limit")
    contains_tick, current_start = (first if first is not None
                                    else first_tick_array_start(pool, ext, zero_for_one))
    queue = arrays
    if not queue:
        raise _err(ERR_NOT_ENOUGH_TICK_ARRAYS, "no tick array passed")
    idx = 0
    while idx < len(queue) - 1 and queue[idx].start_tick_index != current_start:
        idx += 1
    arr = queue[idx]
    own = False  # arr is this swap's private copy
    if arr.pool_id != pool.address:
        raise _err(2502, "tick array of another pool")
    if arr.start_tick_index != current_start:
        raise _err(ERR_INVALID_FIRST_TICK_ARRAY,
                   f"first array {arr.start_tick_index} != {current_start}")

    spacing = pool.tick_spacing
    fee_on_input = pool.fee_on not in (1, 2) or (pool.fee_on == 1) == zero_for_one
    fee_on_token_0 = zero_for_one if pool.fee_on not in (1, 2) else pool.fee_on == 1
    s = _State(amount, fee_growth=pool.fee_growth_global_0_x64 if fee_on_token_0
               else pool.fee_growth_global_1_x64)  # fmt: skip
    price, tick, liquidity = pool.sqrt_price_x64, pool.tick_current, pool.liquidity
    dyn: DynamicFeeInfo | None = pool.dynamic_fee if pool.dynamic_fee.enabled else None
    tsi = tick // spacing
    if dyn is not None:
        dyn = _update_reference(dyn, tsi, block_timestamp)
    p_rate, f_rate = config.protocol_fee_rate, config.fund_fee_rate
    base_rate = config.trade_fee_rate
    rewards: list[tuple[bool, int]] | None = None  # read at the first tick crossed
    nav = pool  # the pool as navigation sees it (bits cleared by emptied arrays)
    updated: list[tuple[Pubkey, int, TickState]] = []
    emptied: dict[Pubkey, int] = {}

    while s.remaining != 0 and price != limit:
        nt = _next_in_array(arr, tick, spacing, zero_for_one)
        if nt is None and not contains_tick:
            contains_tick = True
            nt = _first_in_array(arr, zero_for_one)
        elif nt is None:
            nxt = next_tick_array_start(nav, ext, current_start, zero_for_one)
            if nxt is None:
                code = ERR_LIQUIDITY_INSUFFICIENT
                raise InsufficientLiquidity(
                    f"{NAME}: liquidity runs out (LiquidityInsufficient {code})", code)
            while arr.start_tick_index != nxt:
                idx += 1
                if idx >= len(queue):
                    raise _err(ERR_NOT_ENOUGH_TICK_ARRAYS, f"tick array {nxt} not passed")
                arr = queue[idx]
                own = False
                if arr.pool_id != pool.address:
                    raise _err(2502, "tick array of another pool")
            current_start = nxt
            nt = _first_in_array(arr, zero_for_one)
        tick_next = min(max(nt.tick, MIN_TICK), MAX_TICK)
        price_next = cm.raydium_sqrt_price_at_tick(tick_next)
        beyond = price_next < limit if zero_for_one else price_next > limit
        target = limit if beyond else price_next
        if zero_for_one and not (tick >= tick_next and price >= price_next and price >= target):
            raise _err(ANCHOR_REQUIRE_GTE, "tick order")
        if not zero_for_one and not tick_next > tick:
            raise _err(ANCHOR_REQUIRE_GT, "tick order")
        if not zero_for_one and not (price_next >= price and target >= price):
            raise _err(ANCHOR_REQUIRE_GTE, "price order")

        liquidity_next = liquidity
        while True:
            rate, skipped, bounded, bounded_tick = base_rate, True, target, None
            if dyn is not None:
                dyn = _with_accumulator(dyn, tsi)
                rate = min(base_rate + _dyn_rate(dyn, spacing), MAX_FEE_RATE)
                if liquidity != 0 and dyn.volatility_accumulator != dyn.max_volatility_accumulator:
                    skipped = False
                    bt = tsi * spacing if zero_for_one else (tsi + 1) * spacing
                    bt = min(max(bt, MIN_TICK), MAX_TICK)
                    bp = cm.raydium_sqrt_price_at_tick(bt)
                    if (target <= bp) if zero_for_one else (target >= bp):
                        bounded, bounded_tick = bp, bt
            new_price = bounded
            if price != bounded:
                new_price, a_in, a_out, fee = _compute_swap(
                    price, bounded, liquidity, s.remaining, rate, is_base_input, zero_for_one,
                    fee_on_input)  # fmt: skip
                s.apply(a_in, a_out, fee, liquidity, is_base_input, fee_on_input, p_rate, f_rate)
            unfilled_before = nt.orders_amount + nt.part_filled_orders_remaining
            if new_price == price_next:
                nt, lo = match_limit_order(nt, s.remaining, zero_for_one, is_base_input, rate,
                                           fee_on_input, price_next)  # fmt: skip
                if lo.amount_in or lo.amount_out or lo.fee_amount:
                    s.apply(lo.amount_in, lo.amount_out, lo.fee_amount, liquidity, is_base_input,
                            fee_on_input, p_rate, f_rate)  # fmt: skip
                off = (nt.tick - arr.start_tick_index) // spacing
                if not own:
                    arr = TickArray(arr.address, arr.pool_id, arr.start_tick_index,
                                    dict(arr.ticks), arr.initialized_tick_count)  # fmt: skip
                    own = True
                arr.ticks[off] = nt
                if not nt.initialized:
                    emptied[arr.address] = emptied.get(arr.address, 0) + 1
                    if not any(t.initialized for t in arr.ticks.values()):
                        nav, ext = _clear_bit(nav, ext, arr.start_tick_index)
                if nt.liquidity_gross > 0 and not nt.has_limit_orders:
                    g0 = s.fee_growth if fee_on_token_0 else pool.fee_growth_global_0_x64
                    g1 = pool.fee_growth_global_1_x64 if fee_on_token_0 else s.fee_growth
                    if rewards is None:
                        rewards = reward_growths(pool.reward_infos)
                    rw = tuple((g - o) & U128_MAX if init else o
                               for (init, g), o in zip(rewards, nt.reward_growths_outside_x64))
                    nt = replace(
                        nt, fee_growth_outside_0_x64=(g0 - nt.fee_growth_outside_0_x64) & U128_MAX,
                        fee_growth_outside_1_x64=(g1 - nt.fee_growth_outside_1_x64) & U128_MAX,
                        reward_growths_outside_x64=rw,  # type: ignore[arg-type]
                    )
                    arr.ticks[off] = nt
                    net = -nt.liquidity_net if zero_for_one else nt.liquidity_net
                    liquidity_next = liquidity + net
                    if liquidity_next < 0:
                        raise _err(ERR_LIQUIDITY_SUB, "liquidity below zero")
                    if liquidity_next > U128_MAX:
                        raise _err(ERR_LIQUIDITY_ADD, "liquidity above u128")
                updated.append((arr.address, off, nt))
                tick = tick_next - 1 if zero_for_one != nt.has_limit_orders else tick_next
            elif price != new_price:
                tick = bounded_tick if bounded_tick is not None and new_price == bounded else (
                    cm.raydium_tick_at_sqrt_price(new_price))
            price = new_price
            if dyn is not None:
                if skipped:
                    ti = tick_next if price == price_next else tick
                    tsi = ti // spacing - (1 if not zero_for_one and ti % spacing == 0 else 0)
                    if dyn.volatility_accumulator != dyn.max_volatility_accumulator:
                        dyn = _with_accumulator(dyn, tsi)
                tsi += -1 if zero_for_one else 1
            if s.remaining == 0 or price == target:
                after = nt.orders_amount + nt.part_filled_orders_remaining
                if s.remaining != 0 and after != unfilled_before and after != 0:
                    raise _err(ANCHOR_REQUIRE_EQ, "limit orders left unfilled")
                break
        liquidity = liquidity_next

    used = amount - s.remaining
    a0, a1 = (used, s.calculated) if zero_for_one == is_base_input else (s.calculated, used)
    return SwapResult(a0, a1, price, tick, liquidity, s.fee_growth, fee_on_token_0, s.lp_fee,
                      s.protocol_fee, s.fund_fee, dyn if dyn is not None else pool.dynamic_fee,
                      nav.tick_array_bitmap, ext, updated, emptied, s.unbooked)  # fmt: skip
