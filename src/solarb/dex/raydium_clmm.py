"""Raydium CLMM (amm_v3, ``CAMMCzo5...``): exact ``swap_v2`` quote, tick-array selection, swap ix.

The swap follows raydium-io/raydium-clmm ``instructions/swap.rs`` (``swap_internal``) and
``swap_v2.rs`` at the 2026 head (dynamic fee, ``fee_on``, limit orders):

* the first tick array is the one holding ``tick_current`` when its bitmap bit is set, otherwise
  the next initialized one; arrays are walked through the pool's 1024-bit bitmap and, for
  ``tick_spacing < 15`` beyond it, the ``TickArrayBitmapExtension`` (see ``raydium_clmm_layout``);
* each step: ``compute_swap`` (fee on input: ``amount * (1e6 - fee) / 1e6`` floor drives the
  price; at the target ``fee = ceil(in * fee / (1e6 - fee))``, short of it ``fee = remaining - in``;
  fee on output: ``fee = ceil(out * fee / 1e6)``), amounts from ``L * dP`` in one 256-bit
  division (ceil for input, floor for output), new prices rounded toward the pool;
* fee split per step: ``protocol = fee * protocol_rate / 1e6``, ``fund = fee * fund_rate / 1e6``
  (floors), the rest grows ``fee_growth_global`` by ``floor(rest * 2^64 / L)`` (to protocol if L = 0);
* crossing an initialized tick adds ``+-liquidity_net``; the tick becomes ``tick_next - 1`` (a->b)
  or ``tick_next``; a dynamic-fee pool also steps at every tick-spacing boundary;
* ``swap_v2`` deducts the input mint's Token-2022 transfer fee first and the output mint's from
  what the user receives; without a price limit a partial fill fails (``RequireEqViolated``).

Ticks holding limit orders are not modelled: a quote that reaches one raises :class:`QuoteError`
(``LimitOrdersUnsupported``) rather than guess. Reward growth is taken as stored (not advanced
to the Clock), which only affects crossed ticks' ``reward_growths_outside`` in the cluster model.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex.base import InsufficientLiquidity, MissingAccount, Quote, QuoteError
from solarb.dex.raydium_clmm_layout import (
    ANCHOR_REQUIRE_EQ, ANCHOR_REQUIRE_GT, ANCHOR_REQUIRE_GTE, ERR_CALCULATE_OVERFLOW,
    ERR_INVALID_FIRST_TICK_ARRAY, ERR_INVALID_TICK_ARRAY, ERR_LIQUIDITY_ADD,
    ERR_LIQUIDITY_INSUFFICIENT, ERR_LIQUIDITY_SUB, ERR_NOT_APPROVED, ERR_NOT_ENOUGH_TICK_ARRAYS,
    ERR_SQRT_PRICE_LIMIT_OVERFLOW, ERR_SQRT_PRICE_X64, ERR_TOO_SMALL, ERR_ZERO_AMOUNT,
    ERR_ZERO_LIQUIDITY, ERR_ZERO_SQRT_PRICE, ERRORS, MAX_TICK, MIN_TICK, NAME, PROGRAM_ID,
    AmmConfig, BitmapExtension, ClmmPool, DynamicFeeInfo, TickArray, TickState,
    array_start_index, bitmap_extension_address, decode_amm_config, decode_extension,
    decode_pool, decode_tick_array, first_tick_array_start, next_tick_array_start,
    reward_growths, tick_array_address,
)  # fmt: skip
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, associated_token_address

__all__ = [
    "ERRORS", "MAX_SWAP_TICK_ARRAYS", "MAX_SQRT_PRICE_X64", "MIN_SQRT_PRICE_X64", "NAME",
    "PROGRAM_ID", "ClmmSwap", "SwapResult", "aux_accounts", "compute_swap", "decode_pool", "exact_input_v2",
    "quote", "quote_detail", "spot_rate", "swap_instruction", "swap_internal",
    "swap_tick_arrays", "transfer_fee",
]

MIN_SQRT_PRICE_X64 = cm.MIN_SQRT_PRICE_X64
MAX_SQRT_PRICE_X64 = cm.RAYDIUM_MAX_SQRT_PRICE_X64
FEE_DEN = 1_000_000
MAX_FEE_RATE = 100_000
VOLATILITY_SCALE = 10_000
REDUCTION_DEN = 10_000
DYNAMIC_FEE_CONTROL_DEN = 100_000
U64_MAX = cm.U64_MAX
U128_MAX = cm.U128_MAX
MAX_SWAP_TICK_ARRAYS = 5
"""Tick arrays per direction that :func:`aux_accounts` lists and :func:`swap_instruction` passes."""
SWAP_STATUS_BIT = 1 << 4
CLOCK_SYSVAR = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
SWAP_V2_DISCRIMINATOR = bytes.fromhex("2b04ed0b1ac91e62")  # sha256("global:swap_v2")[:8]
_SWAP_V2 = struct.Struct("<8sQQQQ?")
_CLOCK = struct.Struct("<QqQQq")
_TLV = struct.Struct("<HH")
_TRANSFER_FEE = struct.Struct("<64sQQQHQQH")


def _err(code: int, what: str) -> QuoteError:
    return QuoteError(f"{NAME}: {what} ({ERRORS.get(code, 'anchor')} {code})", code)


# --- step math (libraries/sqrt_price_math.rs, liquidity_math.rs, swap_math.rs) ---


def _next_price_from_0(price: int, liquidity: int, amount: int, add: bool) -> int:
    """``get_next_sqrt_price_from_amount_0_rounding_up`` (U256, result truncated to u128)."""
    if amount == 0:
        return price
    num = liquidity << 64
    product = amount * price
    if add:
        return -(-(num * price) // (num + product)) & U128_MAX
    den = num - product
    if den <= 0:
        raise _err(ERR_CALCULATE_OVERFLOW, "price below zero")
    return -(-(num * price) // den) & U128_MAX


def _next_price_from_1(price: int, liquidity: int, amount: int, add: bool) -> int:
    """``get_next_sqrt_price_from_amount_1_rounding_down``."""
    if amount == 0:
        return price
    if add:
        res = price + ((amount << 64) // liquidity)
        if res > U128_MAX:
            raise _err(ERR_CALCULATE_OVERFLOW, "price above u128")
        return res
    res = price - (-(-(amount << 64) // liquidity))
    if res < 0:
        raise _err(ERR_CALCULATE_OVERFLOW, "price below zero")
    return res


def _next_price(price: int, liquidity: int, amount: int, zero_for_one: bool, is_input: bool) -> int:
    if not MIN_SQRT_PRICE_X64 <= price < MAX_SQRT_PRICE_X64:
        raise _err(ERR_SQRT_PRICE_X64, f"sqrt price {price}")
    if liquidity <= 0:
        raise _err(ERR_ZERO_LIQUIDITY, "zero liquidity")
    if zero_for_one == is_input:  # token 0 moves: in for a->b input, out for b->a output
        return _next_price_from_0(price, liquidity, amount, is_input)
    return _next_price_from_1(price, liquidity, amount, is_input)


def _amounts_for_swap(p0: int, p1: int, liquidity: int, zero_for_one: bool) -> tuple[int, int] | None:
    """``get_delta_amounts_for_swap``: ``(amount_in, amount_out)``; None for MaxTokenOverflow."""
    lo = min(p0, p1)
    if lo == 0:
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
    rest = FEE_DEN - fee_rate
    if is_base_input:
        for_price = remaining * rest // FEE_DEN if fee_on_input else remaining
    else:
        for_price = remaining if fee_on_input else -(-remaining * FEE_DEN // rest)
        if for_price > U64_MAX:
            raise _err(ERR_CALCULATE_OVERFLOW, "amount above u64")
    at_target = _amounts_for_swap(target, price, liquidity, zero_for_one)
    if at_target is not None and for_price >= (at_target[0] if is_base_input else at_target[1]):
        nxt, (a_in, a_out) = target, at_target
    else:
        nxt = _next_price(price, liquidity, for_price, zero_for_one, is_base_input)
        amounts = _amounts_for_swap(nxt, price, liquidity, zero_for_one)
        if amounts is None:
            raise _err(cm_code("MaxTokenOverflow"), "step amount above u64")
        a_in, a_out = amounts
    if (nxt < target) if zero_for_one else (target < nxt):
        raise _err(ANCHOR_REQUIRE_GTE, "price passed the target")
    if is_base_input:
        if fee_on_input:
            fee = remaining - a_in if nxt != target else -(-a_in * fee_rate // rest)
            if fee < 0:
                raise _err(ERR_CALCULATE_OVERFLOW, "fee below zero")
        else:
            fee = -(-a_out * fee_rate // FEE_DEN)
            a_out -= fee
            if nxt != target:
                a_in = remaining
    elif fee_on_input:
        a_out = min(a_out, remaining)
        fee = -(-a_in * fee_rate // rest)
    else:
        fee = -(-a_out * fee_rate // FEE_DEN)
        net = a_out - fee
        if net > remaining:
            fee, a_out = a_out - remaining, remaining
        else:
            a_out = net
    if fee > U64_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "fee above u64")
    return Step(nxt, a_in, a_out, fee)


def cm_code(name: str) -> int:
    """The program's code for an error name."""
    return next(c for c, n in ERRORS.items() if n == name)


# --- the swap loop (instructions/swap.rs) ---


@dataclass(slots=True)
class SwapResult:
    """What ``swap_internal`` computes and writes back. Amounts are token_0 / token_1 moved."""

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
    crossed: list[tuple[Pubkey, int, TickState]] = field(default_factory=list)

    @property
    def trade_fee(self) -> int:
        """lp + protocol + fund fee, in the fee token (token_0 if ``fee_on_token_0``)."""
        return self.lp_fee + self.protocol_fee + self.fund_fee


def _dyn_rate(d: DynamicFeeInfo, spacing: int) -> int:
    crossed = d.volatility_accumulator * spacing
    den = DYNAMIC_FEE_CONTROL_DEN * VOLATILITY_SCALE * VOLATILITY_SCALE
    return min(-(-d.dynamic_fee_control * crossed * crossed // den), MAX_FEE_RATE)


def _with_accumulator(d: DynamicFeeInfo, tsi: int) -> DynamicFeeInfo:
    va = d.volatility_reference + abs(d.tick_spacing_index_reference - tsi) * VOLATILITY_SCALE
    return _replace_dyn(d, volatility_accumulator=min(va, d.max_volatility_accumulator))


def _replace_dyn(d: DynamicFeeInfo, **kw: int) -> DynamicFeeInfo:
    vals = {f: getattr(d, f) for f in DynamicFeeInfo.__dataclass_fields__}
    vals.update(kw)
    return DynamicFeeInfo(**vals)


def _update_reference(d: DynamicFeeInfo, tsi: int, now: int) -> DynamicFeeInfo:
    elapsed = max(0, now - d.last_update_timestamp)
    if elapsed < d.filter_period:
        return d
    vref = d.volatility_accumulator * d.reduction_factor // REDUCTION_DEN if elapsed < d.decay_period else 0
    return _replace_dyn(d, tick_spacing_index_reference=tsi, volatility_reference=vref,
                        last_update_timestamp=now)  # fmt: skip


def _next_in_array(arr: TickArray, tick: int, spacing: int, zero_for_one: bool) -> TickState | None:
    if array_start_index(tick, spacing) != arr.start_tick_index:
        return None
    off = (tick - arr.start_tick_index) // spacing
    rng = range(off, -1, -1) if zero_for_one else range(off + 1, 60)
    for i in rng:
        t = arr.ticks.get(i)
        if t is not None and t.initialized:
            return t
    return None


def _first_in_array(arr: TickArray, zero_for_one: bool) -> TickState:
    found = [i for i, t in arr.ticks.items() if t.initialized]
    if not found:
        raise _err(ERR_INVALID_TICK_ARRAY, f"tick array {arr.start_tick_index} has no initialized tick")
    return arr.ticks[max(found) if zero_for_one else min(found)]


def swap_internal(pool: ClmmPool, config: AmmConfig, arrays: Sequence[TickArray],
                  ext: BitmapExtension | None, amount: int, sqrt_price_limit_x64: int,
                  zero_for_one: bool, is_base_input: bool, block_timestamp: int) -> SwapResult:
    """The program's ``swap_internal`` over ``arrays`` (the remaining tick-array accounts, in
    instruction order). Raises :class:`QuoteError` with the program's code where it fails."""
    if amount == 0:
        raise _err(ERR_ZERO_AMOUNT, "zero amount")
    if pool.status & SWAP_STATUS_BIT:
        raise _err(ERR_NOT_APPROVED, "swaps disabled on this pool")
    limit = sqrt_price_limit_x64
    ok = (MIN_SQRT_PRICE_X64 < limit < pool.sqrt_price_x64) if zero_for_one else (
        pool.sqrt_price_x64 < limit < MAX_SQRT_PRICE_X64)
    if not ok:
        raise _err(ERR_SQRT_PRICE_LIMIT_OVERFLOW, "price limit")
    contains_tick, current_start = first_tick_array_start(pool, ext, zero_for_one)
    queue = list(arrays)
    if not queue:
        raise _err(ERR_NOT_ENOUGH_TICK_ARRAYS, "no tick array passed")
    idx = 0
    for _ in range(len(queue) - 1):
        if queue[idx].start_tick_index == current_start:
            break
        idx += 1
    arr = queue[idx]
    if arr.pool_id != pool.address:
        raise _err(2502, "tick array of another pool")
    if arr.start_tick_index != current_start:
        raise _err(ERR_INVALID_FIRST_TICK_ARRAY, f"first tick array {arr.start_tick_index} != {current_start}")

    spacing = pool.tick_spacing
    fee_on = pool.fee_on
    fee_on_input = fee_on not in (1, 2) or (fee_on == 1) == zero_for_one
    fee_on_token_0 = zero_for_one if fee_on not in (1, 2) else fee_on == 1
    remaining, calculated = amount, 0
    price, tick, liquidity = pool.sqrt_price_x64, pool.tick_current, pool.liquidity
    fee_growth = pool.fee_growth_global_0_x64 if fee_on_token_0 else pool.fee_growth_global_1_x64
    lp_fee = protocol_fee = fund_fee = 0
    dyn: DynamicFeeInfo | None = pool.dynamic_fee if pool.dynamic_fee.enabled else None
    tsi = 0
    if dyn is not None:
        tsi = tick // spacing
        dyn = _update_reference(dyn, tsi, block_timestamp)
    p_rate, f_rate, base_rate = config.protocol_fee_rate, config.fund_fee_rate, config.trade_fee_rate
    crossed: list[tuple[Pubkey, int, TickState]] = []
    rewards = reward_growths(pool.reward_infos)

    while remaining != 0 and price != limit:
        nt = _next_in_array(arr, tick, spacing, zero_for_one)
        if nt is None:
            if not contains_tick:
                contains_tick = True
                nt = _first_in_array(arr, zero_for_one)
            else:
                nxt = next_tick_array_start(pool, ext, current_start, zero_for_one)
                if nxt is None:
                    raise InsufficientLiquidity(
                        f"{NAME}: liquidity runs out (LiquidityInsufficient {ERR_LIQUIDITY_INSUFFICIENT})",
                        ERR_LIQUIDITY_INSUFFICIENT)
                while arr.start_tick_index != nxt:
                    idx += 1
                    if idx >= len(queue):
                        raise _err(ERR_NOT_ENOUGH_TICK_ARRAYS, f"tick array {nxt} not passed")
                    arr = queue[idx]
                    if arr.pool_id != pool.address:
                        raise _err(2502, "tick array of another pool")
                current_start = nxt
                nt = _first_in_array(arr, zero_for_one)
        tick_next = min(max(nt.tick, MIN_TICK), MAX_TICK)
        price_next = cm.raydium_sqrt_price_at_tick(tick_next)
        target = limit if (price_next < limit if zero_for_one else price_next > limit) else price_next
        if zero_for_one:
            if not (tick >= tick_next and price >= price_next and price >= target):
                raise _err(ANCHOR_REQUIRE_GTE, "tick order")
        elif not tick_next > tick:
            raise _err(ANCHOR_REQUIRE_GT, "tick order")
        elif not (price_next >= price and target >= price):
            raise _err(ANCHOR_REQUIRE_GTE, "price order")

        liquidity_next = liquidity
        while True:
            rate = base_rate
            skipped, bounded, bounded_tick = True, target, None
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
            if price != bounded:
                step = compute_swap(price, bounded, liquidity, remaining, rate, is_base_input,
                                    zero_for_one, fee_on_input)  # fmt: skip
                consumed = step.amount_in + step.fee_amount if fee_on_input else step.amount_in
                if is_base_input:
                    remaining -= consumed
                    calculated += step.amount_out
                else:
                    remaining -= step.amount_out
                    calculated += consumed
                if remaining < 0 or calculated > U64_MAX:
                    raise _err(ERR_CALCULATE_OVERFLOW, "amount out of u64")
                pd = step.fee_amount * p_rate // FEE_DEN
                fd = step.fee_amount * f_rate // FEE_DEN
                protocol_fee += pd
                fund_fee += fd
                rest = step.fee_amount - pd - fd
                if rest < 0:
                    raise _err(ERR_CALCULATE_OVERFLOW, "fee split")
                if liquidity > 0:
                    delta = (rest << 64) // liquidity
                    if delta > U128_MAX:
                        raise _err(ERR_CALCULATE_OVERFLOW, "fee growth")
                    fee_growth = (fee_growth + delta) & U128_MAX
                    lp_fee += rest
                else:
                    protocol_fee += rest
                new_price = step.sqrt_price_next_x64
            else:
                new_price = bounded
            if new_price == price_next:
                if nt.has_limit_orders:
                    raise QuoteError(f"{NAME}: tick {nt.tick} holds limit orders (LimitOrdersUnsupported)")
                if nt.liquidity_gross > 0:
                    g0 = fee_growth if fee_on_token_0 else pool.fee_growth_global_0_x64
                    g1 = pool.fee_growth_global_1_x64 if fee_on_token_0 else fee_growth
                    rw = tuple((g - o) & U128_MAX if init else o for (init, g), o
                               in zip(rewards, nt.reward_growths_outside_x64))  # fmt: skip
                    new_tick = TickState(
                        nt.tick, nt.liquidity_net, nt.liquidity_gross,
                        (g0 - nt.fee_growth_outside_0_x64) & U128_MAX,
                        (g1 - nt.fee_growth_outside_1_x64) & U128_MAX, rw,  # type: ignore[arg-type]
                        nt.order_phase, nt.orders_amount, nt.part_filled_orders_remaining,
                        nt.unfilled_ratio_x64,
                    )  # fmt: skip
                    crossed.append((arr.address, (nt.tick - arr.start_tick_index) // spacing, new_tick))
                    net = -nt.liquidity_net if zero_for_one else nt.liquidity_net
                    liquidity_next = liquidity + net
                    if net < 0 and liquidity_next < 0:
                        raise _err(ERR_LIQUIDITY_SUB, "liquidity below zero")
                    if liquidity_next > U128_MAX:
                        raise _err(ERR_LIQUIDITY_ADD, "liquidity above u128")
                tick = tick_next - 1 if zero_for_one else tick_next
            elif price != new_price:
                tick = bounded_tick if bounded_tick is not None and new_price == bounded else (
                    cm.raydium_tick_at_sqrt_price(new_price))
            price = new_price
            if dyn is not None:
                if skipped:
                    ti = tick_next if price == price_next else tick
                    tsi = ti // spacing
                    if not zero_for_one and ti % spacing == 0:
                        tsi -= 1
                    if dyn.volatility_accumulator != dyn.max_volatility_accumulator:
                        dyn = _with_accumulator(dyn, tsi)
                tsi += -1 if zero_for_one else 1
            if remaining == 0 or price == target:
                break
        liquidity = liquidity_next

    consumed_total = amount - remaining
    a0, a1 = (consumed_total, calculated) if zero_for_one == is_base_input else (calculated, consumed_total)
    return SwapResult(a0, a1, price, tick, liquidity, fee_growth, fee_on_token_0, lp_fee, protocol_fee,
                      fund_fee, dyn if dyn is not None else pool.dynamic_fee, crossed)  # fmt: skip


# --- Token-2022 transfer fees (util/token.rs: get_transfer_fee / get_transfer_inverse_fee) ---


def _fee_params(mint_data: bytes | None, epoch: int | None) -> tuple[int, int] | None:
    """``(maximum_fee, basis_points)`` of a Token-2022 TransferFeeConfig for ``epoch``."""
    if mint_data is None or len(mint_data) <= 166:
        return None
    pos = 166
    while pos + 4 <= len(mint_data):
        ext_type, length = _TLV.unpack_from(mint_data, pos)
        if ext_type == 0:
            break
        if ext_type == 1 and length >= _TRANSFER_FEE.size:
            o_epoch, o_max, o_bps, n_epoch, n_max, n_bps = _TRANSFER_FEE.unpack_from(mint_data, pos + 4)[2:]
            if (o_max, o_bps) == (n_max, n_bps):
                return n_max, n_bps
            if epoch is None:
                raise MissingAccount(f"{NAME}: transfer fee changes by epoch; load the Clock sysvar")
            return (n_max, n_bps) if epoch >= n_epoch else (o_max, o_bps)
        pos += 4 + length
    return None


def transfer_fee(mint_data: bytes | None, amount: int, epoch: int | None) -> int:
    """Token-2022 ``calculate_epoch_fee(amount)``; 0 for SPL Token mints / no fee extension."""
    p = _fee_params(mint_data, epoch)
    if p is None or p[1] == 0 or amount == 0:
        return 0
    return min(-(-amount * p[1] // 10_000), p[0])


def _inverse_fee(mint_data: bytes | None, post: int, epoch: int | None) -> int:
    """Raydium's ``get_transfer_inverse_fee`` (fee so that ``pre - fee(pre) == post``)."""
    p = _fee_params(mint_data, epoch)
    if p is None:
        return 0
    max_fee, bps = p
    if bps == 10_000:
        return max_fee
    if bps == 0 or post == 0:
        return 0
    raw = -(-post * 10_000 // (10_000 - bps))
    fee = max_fee if raw - post >= max_fee else raw - post
    if transfer_fee(mint_data, post + fee, epoch) != fee:
        raise _err(cm_code("TransferFeeCalculateNotMatch"), "inverse transfer fee")
    return fee


# --- the adapter ---


def _get(aux: Mapping[Pubkey, bytes], key: Pubkey, what: str) -> bytes:
    data = aux.get(key)
    if data is None:
        raise MissingAccount(f"{NAME}: {what} {key} not loaded")
    return data


def _extension(state: ClmmPool, aux: Mapping[Pubkey, bytes] | None) -> BitmapExtension | None:
    if aux is None:
        return None
    key = bitmap_extension_address(state.address)
    data = aux.get(key)
    return decode_extension(key, data) if data is not None else None


def swap_tick_arrays(state: ClmmPool, a_to_b: bool, ext: BitmapExtension | None = None,
                     count: int = MAX_SWAP_TICK_ARRAYS) -> list[int]:
    """Start indices of the first ``count`` tick arrays a swap in this direction walks, as the
    program finds them (the current array when its bit is set, then the next initialized ones).
    Stops early where the walk needs the (absent) extension or the direction is exhausted."""
    out: list[int] = []
    try:
        _contains, start = first_tick_array_start(state, ext, a_to_b)
        out.append(start)
        while len(out) < count:
            nxt = next_tick_array_start(state, ext, out[-1], a_to_b)
            if nxt is None:
                break
            out.append(nxt)
    except QuoteError:
        pass
    return out


def resolve_token_programs(state: ClmmPool, aux: Mapping[Pubkey, bytes]) -> ClmmPool:
    """``state`` with each side's token program inferred from its mint (a mint with extension
    data is Token-2022). Pass the programs to :func:`decode_pool` when the owners are known."""
    from dataclasses import replace

    def prog(mint: Pubkey, current: Pubkey) -> Pubkey:
        data = aux.get(mint)
        return TOKEN_2022_PROGRAM_ID if data is not None and len(data) > 82 else current

    return replace(state, token_program_a=prog(state.mint_a, state.token_program_a),
                   token_program_b=prog(state.mint_b, state.token_program_b))  # fmt: skip


def aux_accounts(state: ClmmPool, aux: Mapping[Pubkey, bytes] | None = None) -> list[Pubkey]:
    """``[amm_config, bitmap_extension, mint_0, mint_1, tick arrays a->b..., b->a...]``: the up to
    :data:`MAX_SWAP_TICK_ARRAYS` arrays per direction a swap can touch (deduplicated), found
    through the pool's bitmap and, when ``aux`` already holds it, the extension's. The Clock
    sysvar is used when present (open time, dynamic fee, transfer-fee epoch)."""
    ext = _extension(state, aux)
    out = [state.amm_config, bitmap_extension_address(state.address), state.mint_a, state.mint_b]
    seen = set(out)
    for a_to_b in (True, False):
        for start in swap_tick_arrays(state, a_to_b, ext):
            key = tick_array_address(state.address, start)
            if key not in seen:
                seen.add(key)
                out.append(key)
    return out


@dataclass(slots=True, frozen=True)
class ClmmSwap:
    """Everything ``swap_v2`` (exact input, no price limit) computes before the slippage check."""

    amount_in: int  # leaves the user, transfer fee included
    amount_out: int  # leaves the output vault
    amount_received: int  # reaches the user (after the output transfer fee)
    trade_fee: int  # lp + protocol + fund, in token_0 if result.fee_on_token_0 else token_1
    fee_on_input: bool
    input_transfer_fee: int
    output_transfer_fee: int
    result: SwapResult


class _LazyTicks(dict[int, TickState]):
    """The ticks of a tick array decoded on first use: a quote needs an array's account only
    when the swap reaches it (:class:`MissingAccount` then)."""

    def __init__(self, key: Pubkey, aux: Mapping[Pubkey, bytes]) -> None:
        super().__init__()
        self._key, self._aux, self._loaded = key, aux, False

    def _load(self) -> None:
        if not self._loaded:
            arr = decode_tick_array(self._key, _get(self._aux, self._key, "tick array"))
            self.update(arr.ticks)
            self._loaded = True

    def get(self, k: int, default: TickState | None = None) -> TickState | None:  # type: ignore[override]
        self._load()
        return super().get(k, default)

    def items(self):  # type: ignore[no-untyped-def,override]
        self._load()
        return super().items()

    def __getitem__(self, k: int) -> TickState:
        self._load()
        return super().__getitem__(k)


def _lazy_array(pool: Pubkey, start: int, aux: Mapping[Pubkey, bytes]) -> TickArray:
    key = tick_array_address(pool, start)
    data = aux.get(key)
    if data is not None:
        arr = decode_tick_array(key, data)
        if arr.start_tick_index != start or arr.pool_id != pool:
            raise _err(ERR_INVALID_TICK_ARRAY, f"tick array {key} does not match its address")
        return arr
    return TickArray(key, pool, start, _LazyTicks(key, aux), 0)


def _clock(aux: Mapping[Pubkey, bytes]) -> tuple[int | None, int | None]:
    clock = aux.get(CLOCK_SYSVAR)
    if clock is None or len(clock) < _CLOCK.size:
        return None, None
    _slot, _est, epoch, _lse, ts = _CLOCK.unpack_from(clock, 0)
    return epoch, ts


def exact_input_v2(state: ClmmPool, config: AmmConfig, arrays: Sequence[TickArray],
                   ext: BitmapExtension | None, mint_in: bytes | None, mint_out: bytes | None,
                   amount_in: int, a_to_b: bool, epoch: int | None, ts: int | None,
                   sqrt_price_limit_x64: int = 0) -> ClmmSwap:
    """``exact_internal_v2`` for an exact input: transfer fee off the input, ``swap_internal``,
    transfer fee off the output. ``mint_*`` are the mints' data (None for SPL Token mints),
    ``ts`` the Clock's unix timestamp (None: open time unchecked, no dynamic fee possible)."""
    fee_in = transfer_fee(mint_in, amount_in, epoch)
    specified = amount_in - fee_in
    if ts is not None and not ts > state.open_time:
        raise _err(ANCHOR_REQUIRE_GT, "pool not open yet")
    if state.dynamic_fee.enabled and ts is None:
        raise MissingAccount(f"{NAME}: dynamic-fee pool needs the Clock sysvar")
    limit = sqrt_price_limit_x64 or (MIN_SQRT_PRICE_X64 + 1 if a_to_b else MAX_SQRT_PRICE_X64 - 1)
    r = swap_internal(state, config, arrays, ext, specified, limit, a_to_b, True,
                      (ts or 0) & 0xFFFF_FFFF)  # fmt: skip
    if r.amount_0 == 0 or r.amount_1 == 0:
        raise _err(ERR_TOO_SMALL, "zero input or output")
    taken, out = (r.amount_0, r.amount_1) if a_to_b else (r.amount_1, r.amount_0)
    fee_taken = fee_in if taken == specified else _inverse_fee(mint_in, taken, epoch)
    if sqrt_price_limit_x64 == 0 and taken + fee_taken != amount_in:
        raise _err(ANCHOR_REQUIRE_EQ, f"partial fill: {taken} of {specified}")
    fee_out = transfer_fee(mint_out, out, epoch)
    fee_on_input = state.fee_on not in (1, 2) or (state.fee_on == 1) == a_to_b
    return ClmmSwap(taken + fee_taken, out, out - fee_out, r.trade_fee, fee_on_input, fee_taken,
                    fee_out, r)  # fmt: skip


def quote_detail(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool,
                 tick_arrays: Sequence[int] | None = None) -> ClmmSwap:
    """``swap_v2(amount_in, 0, sqrt_price_limit 0, is_base_input)`` as the program runs it with
    the tick arrays of :func:`swap_tick_arrays` (or the ``tick_arrays`` start indices given);
    an array's account is needed only if the swap reaches it."""
    if not 0 < amount_in <= U64_MAX:
        raise _err(ERR_ZERO_AMOUNT, f"amount_in {amount_in} out of range")
    epoch, ts = _clock(aux)
    config = decode_amm_config(state.amm_config, _get(aux, state.amm_config, "amm config"))
    ext = _extension(state, aux)
    mint_in, mint_out = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
    prog_in, prog_out = ((state.token_program_a, state.token_program_b) if a_to_b
                         else (state.token_program_b, state.token_program_a))  # fmt: skip
    data_in = _get(aux, mint_in, "mint") if prog_in == TOKEN_2022_PROGRAM_ID else aux.get(mint_in)
    data_out = _get(aux, mint_out, "mint") if prog_out == TOKEN_2022_PROGRAM_ID else aux.get(mint_out)
    starts = list(tick_arrays) if tick_arrays is not None else swap_tick_arrays(state, a_to_b, ext)
    arrays = [_lazy_array(state.address, s, aux) for s in starts]
    return exact_input_v2(state, config, arrays, ext, data_in, data_out, amount_in, a_to_b, epoch, ts)


def quote(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool) -> Quote:
    """Exact ``swap_v2`` exact-input quote (a_to_b = token_0 -> token_1).

    ``amount_out`` is what reaches the user; ``fee`` is the trade fee (lp + protocol + fund),
    charged in the input token unless the pool's ``fee_on`` puts it on the output token."""
    s = quote_detail(state, aux, amount_in, a_to_b)
    return Quote(amount_in=amount_in, amount_out=s.amount_received, fee=s.trade_fee)


def spot_rate(state: ClmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    """Marginal output per input unit at the current price after the trade fee (float)."""
    config = decode_amm_config(state.amm_config, _get(aux, state.amm_config, "amm config"))
    price = (state.sqrt_price_x64 / 2**64) ** 2
    rate = price if a_to_b else (1.0 / price if price else 0.0)
    return rate * (1.0 - config.trade_fee_rate / FEE_DEN)


def swap_instruction(state: ClmmPool, user: Pubkey, amount_in: int, min_out: int, a_to_b: bool,
                     *, aux: Mapping[Pubkey, bytes] | None = None,
                     tick_arrays: Sequence[int] | None = None,
                     sqrt_price_limit_x64: int = 0) -> Instruction:
    """``swap_v2(amount_in, min_out, sqrt_price_limit_x64, is_base_input=true)`` with the account
    list of the SDK's ``makeSwapBaseInInstructions``: payer, config, pool, user ATAs, vaults,
    observation, both token programs, memo, mints, then the bitmap extension and the tick arrays
    (``tick_arrays`` start indices, default :func:`swap_tick_arrays`) as remaining accounts."""
    if a_to_b:
        mint_in, mint_out, vin, vout = state.mint_a, state.mint_b, state.vault_a, state.vault_b
        pin, pout = state.token_program_a, state.token_program_b
    else:
        mint_in, mint_out, vin, vout = state.mint_b, state.mint_a, state.vault_b, state.vault_a
        pin, pout = state.token_program_b, state.token_program_a
    starts = list(tick_arrays) if tick_arrays is not None else swap_tick_arrays(
        state, a_to_b, _extension(state, aux))
    metas = [
        AccountMeta(user, True, False),
        AccountMeta(state.amm_config, False, False),
        AccountMeta(state.address, False, True),
        AccountMeta(associated_token_address(user, mint_in, pin), False, True),
        AccountMeta(associated_token_address(user, mint_out, pout), False, True),
        AccountMeta(vin, False, True),
        AccountMeta(vout, False, True),
        AccountMeta(state.observation_key, False, True),
        AccountMeta(TOKEN_PROGRAM_ID, False, False),
        AccountMeta(TOKEN_2022_PROGRAM_ID, False, False),
        AccountMeta(MEMO_PROGRAM_ID, False, False),
        AccountMeta(mint_in, False, False),
        AccountMeta(mint_out, False, False),
        AccountMeta(bitmap_extension_address(state.address), False, True),
    ]
    metas += [AccountMeta(tick_array_address(state.address, s), False, True) for s in starts]
    lim = sqrt_price_limit_x64
    data = _SWAP_V2.pack(SWAP_V2_DISCRIMINATOR, amount_in, min_out, lim & U64_MAX, lim >> 64, True)
    return Instruction(PROGRAM_ID, data, metas)
