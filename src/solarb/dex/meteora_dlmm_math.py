"""Meteora DLMM integer math: bin prices, fees, volatility, per-bin fills and bitmap navigation
(the native kernel's plan over it is in :mod:`solarb.dex.meteora_dlmm_walk`).

Follows the program's own arithmetic as published in MeteoraAg/dlmm-sdk (``commons`` crate:
``math/u64x64_math.rs``, ``math/price_math.rs``, ``extensions/{lb_pair,bin,bin_array_bitmap}.rs``,
``quote.rs``); prices are Q64.64 (``SCALE_OFFSET`` 64), fee rates have ``FEE_PRECISION`` 1e9.
Everything is exact Python ``int``; every value the program casts to ``u64`` is range-checked and
raises :class:`MathOverflow` (program error ``MathOverflow`` 6018) when it would not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from solarb.dex.base import QuoteError

__all__ = [
    "BASIS_POINT_MAX",
    "BIN_ARRAY_BITMAP_SIZE",
    "FEE_PRECISION",
    "MAX_BIN_ID",
    "MAX_BIN_PER_ARRAY",
    "MAX_FEE_RATE",
    "MIN_BIN_ID",
    "BinFill",
    "DlmmSwap",
    "FeeParams",
    "MathOverflow",
    "bin_array_bounds",
    "bin_id_to_array_index",
    "compute_fee",
    "compute_fee_from_amount",
    "fee_rate_of",
    "get_amount_in",
    "get_amount_out",
    "next_array_index",
    "pow_q64",
    "price_float",
    "price_from_id",
    "swap_exact_in_at_bin",
    "total_fee_rate",
    "update_references",
    "update_volatility_accumulator",
]

SCALE_OFFSET = 64
ONE = 1 << SCALE_OFFSET
U64_MAX = 2**64 - 1
U128_MAX = 2**128 - 1
BASIS_POINT_MAX = 10_000
FEE_PRECISION = 1_000_000_000
MAX_FEE_RATE = 100_000_000
MAX_BIN_PER_ARRAY = 70
MIN_BIN_ID = -443_636
MAX_BIN_ID = 443_636
BIN_ARRAY_BITMAP_SIZE = 512
EXTENSION_BITMAP_WORDS = 12
LIMIT_ORDER_FEE_SHARE = 5_000
_MAX_EXPONENT = 0x80000
ERR_MATH_OVERFLOW = 6018


class MathOverflow(QuoteError):
    """A checked operation of the program would overflow (``MathOverflow`` 6018)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"meteora_dlmm: {message}", ERR_MATH_OVERFLOW)


def _u64(x: int, what: str) -> int:
    if not 0 <= x <= U64_MAX:
        raise MathOverflow(f"{what} does not fit u64")
    return x


def pow_q64(base: int, exp: int) -> int:
    """``u64x64_math::pow``: ``base ** exp`` in Q64.64 by square-and-multiply over 19 bits,
    inverting through ``u128::MAX / x`` like the program; :class:`MathOverflow` where it returns None."""
    if exp == 0:
        return ONE
    invert = exp < 0
    e = -exp if invert else exp
    if e >= _MAX_EXPONENT:
        raise MathOverflow("pow exponent out of range")
    sq = base
    if sq >= ONE:
        if sq == 0:
            raise MathOverflow("pow of zero")
        sq = U128_MAX // sq
        invert = not invert
    result = ONE
    for bit in range(19):
        if bit:
            sq = sq * sq
            if sq > U128_MAX:
                raise MathOverflow("pow overflow")
            sq >>= SCALE_OFFSET
        if e & (1 << bit):
            result = result * sq
            if result > U128_MAX:
                raise MathOverflow("pow overflow")
            result >>= SCALE_OFFSET
    if result == 0:
        raise MathOverflow("pow underflow")
    return U128_MAX // result if invert else result


def price_from_id(bin_id: int, bin_step: int) -> int:
    """``get_price_from_id``: ``(1 + bin_step / 10_000) ** bin_id`` as Q64.64."""
    return pow_q64(ONE + (bin_step << SCALE_OFFSET) // BASIS_POINT_MAX, bin_id)


@lru_cache(maxsize=4096)  # active bins of the watched pairs: a spot rate per pool change
def price_float(bin_id: int, bin_step: int) -> float:
    """:func:`price_from_id` as a float (ranking and filtering only, never an amount)."""
    return price_from_id(bin_id, bin_step) / float(ONE)


def _mul_div(x: int, y: int, den: int, up: bool, what: str) -> int:
    if den == 0:
        raise MathOverflow(f"{what}: division by zero")
    q, r = divmod(x * y, den)
    if up and r:
        q += 1
    if q > U128_MAX:
        raise MathOverflow(what)
    return _u64(q, what)


def get_amount_out(amount_in: int, price: int, swap_for_y: bool) -> int:
    """Bin output for ``amount_in`` (fee excluded), rounded down."""
    if swap_for_y:
        return _mul_div(price, amount_in, ONE, False, "amount out")
    return _mul_div(amount_in, ONE, price, False, "amount out")


def get_amount_in(amount_out: int, price: int, swap_for_y: bool) -> int:
    """Input (fee excluded) needed for ``amount_out`` from a bin, rounded up."""
    if swap_for_y:
        return _mul_div(amount_out, ONE, price, True, "amount in")
    return _mul_div(amount_out, price, ONE, True, "amount in")


@dataclass(slots=True)
class FeeParams:
    """The fee-relevant part of ``LbPair`` that a swap mutates (volatility) or reads."""

    bin_step: int
    base_factor: int
    base_fee_power_factor: int
    variable_fee_control: int
    max_volatility_accumulator: int
    filter_period: int
    decay_period: int
    reduction_factor: int
    protocol_share: int
    volatility_accumulator: int
    volatility_reference: int
    index_reference: int
    last_update_timestamp: int


def total_fee_rate(p: FeeParams) -> int:
    """Base fee ``base_factor * bin_step * 10 * 10**power`` plus the variable fee
    ``ceil(vfc * (va * bin_step)**2 / 1e11)``, capped at ``MAX_FEE_RATE`` (units of 1e-9)."""
    return fee_rate_of(p.bin_step, p.base_factor, p.base_fee_power_factor,
                       p.variable_fee_control, p.volatility_accumulator)  # fmt: skip


def fee_rate_of(bin_step: int, base_factor: int, power: int, vfc: int, va: int) -> int:
    """:func:`total_fee_rate` from the five fields it reads (no :class:`FeeParams`)."""
    base = base_factor * bin_step * 10 * 10**power
    var = 0
    if vfc > 0:
        var = -(-vfc * (va * bin_step) ** 2 // 100_000_000_000)
    return min(base + var, MAX_FEE_RATE)


def compute_fee_from_amount(amount_with_fees: int, rate: int) -> int:
    """Fee contained in a fee-inclusive amount: ``ceil(amount * rate / 1e9)``."""
    return _u64(-(-amount_with_fees * rate // FEE_PRECISION), "fee")


def compute_fee(amount: int, rate: int) -> int:
    """Fee to add on top of a fee-exclusive amount: ``ceil(amount * rate / (1e9 - rate))``."""
    return _u64(-(-amount * rate // (FEE_PRECISION - rate)), "fee")


def update_references(p: FeeParams, active_id: int, now: int) -> None:
    """``update_references``: after ``filter_period`` seconds the index reference moves to the
    active bin and the volatility reference decays (``va * reduction / 10_000``), or resets to 0
    after ``decay_period``."""
    elapsed = now - p.last_update_timestamp
    if elapsed >= p.filter_period:
        p.index_reference = active_id
        if elapsed < p.decay_period:
            p.volatility_reference = p.volatility_accumulator * p.reduction_factor // BASIS_POINT_MAX
        else:
            p.volatility_reference = 0


def update_volatility_accumulator(p: FeeParams, active_id: int) -> None:
    """``va = min(vr + |index_reference - active_id| * 10_000, max_volatility_accumulator)``."""
    va = p.volatility_reference + abs(p.index_reference - active_id) * BASIS_POINT_MAX
    p.volatility_accumulator = min(va, p.max_volatility_accumulator)


@dataclass(slots=True, frozen=True)
class DlmmSwap:
    """Everything the exact-in swap computes. ``bins`` holds, per crossed bin id, the
    fee-exclusive input added to the bin and the gross output taken from it (market-maker part
    and limit-order part). ``fee`` is in the input token when ``fee_on_input`` else the output."""

    amount_in: int
    amount_out: int
    amount_received: int
    fee: int
    protocol_fee: int
    lp_fee: int
    fee_on_input: bool
    input_transfer_fee: int
    output_transfer_fee: int
    active_id: int
    volatility_accumulator: int
    volatility_reference: int
    index_reference: int
    bin_arrays: tuple[int, ...]
    bins: tuple[tuple[int, int, int, int, int], ...]  # (bin_id, mm_in, mm_out, lo_in, lo_out)


@dataclass(slots=True, frozen=True)
class BinFill:
    """One bin's part of a swap: gross input, net output, trading fee, its protocol and LP
    shares (``split_fee``: both 0 when nothing was filled) and the split between market-maker
    liquidity and limit orders (fee-exclusive input amounts)."""

    amount_in: int
    amount_out: int
    fee: int
    protocol_fee: int
    lp_fee: int
    mm_amount_in: int
    mm_amount_out: int
    filled_amount_in: int
    gross_amount_out: int


def _fill(amount: int, max_out: int, price: int, swap_for_y: bool) -> tuple[int, int, int]:
    """``calculate_exact_in_fill_amount`` -> (amount_in, amount_left, out)."""
    if max_out == 0:
        return 0, amount, 0
    max_in = get_amount_in(max_out, price, swap_for_y)
    if amount >= max_in:
        return max_in, amount - max_in, max_out
    return amount, 0, get_amount_out(amount, price, swap_for_y)


def _split_protocol_fee(fee: int, share: int, mm_in: int, total_in: int) -> int:
    if total_in == 0 or fee == 0:
        return 0
    mm_fee = -(-fee * mm_in // total_in)
    lo_total = fee - mm_fee
    lo_fee = lo_total * LIMIT_ORDER_FEE_SHARE // BASIS_POINT_MAX
    return _u64((lo_total - lo_fee) + mm_fee * share // BASIS_POINT_MAX, "protocol fee")


def swap_exact_in_at_bin(
    amount_x: int,
    amount_y: int,
    lo_open: int,
    lo_processed: int,
    price: int,
    amount_in: int,
    swap_for_y: bool,
    rate: int,
    protocol_share: int,
    fee_on_input: bool,
) -> BinFill:
    """``swap_exact_in_quote_at_bin``: fill market-maker liquidity, then processed and open limit
    orders of the matching side (``lo_*`` already filtered by direction; 0 when unsupported)."""
    fee = 0
    net_in = amount_in
    if fee_on_input:
        fee = compute_fee_from_amount(amount_in, rate)
        net_in = amount_in - fee
    mm_in, left, mm_out = _fill(net_in, amount_y if swap_for_y else amount_x, price, swap_for_y)
    filled_in, out = mm_in, mm_out
    if left > 0 and (lo_open or lo_processed):
        p_in, left2, p_out = _fill(left, lo_processed, price, swap_for_y)
        filled_in, out = filled_in + p_in, out + p_out
        if left2 > 0:
            o_in, _l, o_out = _fill(left2, lo_open, price, swap_for_y)
            filled_in, out = filled_in + o_in, out + o_out
    left = net_in - filled_in
    gross_in = amount_in
    if left > 0:
        net_in -= left
        if fee_on_input:
            fee = compute_fee(net_in, rate)
            gross_in = _u64(net_in + fee, "amount in")
        else:
            gross_in = net_in
    net_out = out
    if not fee_on_input:
        fee = compute_fee_from_amount(out, rate)
        net_out = out - fee
    protocol = _split_protocol_fee(fee, protocol_share, mm_in, filled_in)
    lp = 0 if filled_in == 0 or fee == 0 else fee - protocol
    return BinFill(gross_in, net_out, fee, protocol, lp, mm_in, mm_out, filled_in, out)


def bin_id_to_array_index(bin_id: int) -> int:
    """Index of the bin array holding ``bin_id`` (floor division by 70)."""
    return bin_id // MAX_BIN_PER_ARRAY


def bin_array_bounds(index: int) -> tuple[int, int]:
    """``(lower, upper)`` bin ids of bin array ``index``."""
    lower = index * MAX_BIN_PER_ARRAY
    return lower, lower + MAX_BIN_PER_ARRAY - 1


_EXT_SPAN = BIN_ARRAY_BITMAP_SIZE * (EXTENSION_BITMAP_WORDS + 1)  # 6656: extension covers [-6656, 6655]


def combined_bitmap(internal: int, positive: list[int] | None, negative: list[int] | None) -> int:
    """One integer whose bit ``i + 6656`` says bin array ``i`` has liquidity: the pair's 1024-bit
    internal bitmap (arrays -512..511) plus, when given, the extension's 12 + 12 512-bit words."""
    bits = internal << (_EXT_SPAN - BIN_ARRAY_BITMAP_SIZE)
    if positive is not None and negative is not None:
        for k, word in enumerate(positive):
            bits |= word << (_EXT_SPAN + (k + 1) * BIN_ARRAY_BITMAP_SIZE)
        for k, word in enumerate(negative):
            for b in _set_bits(word):  # index -((k + 1) * 512 + b) - 1
                bits |= 1 << (_EXT_SPAN - ((k + 1) * BIN_ARRAY_BITMAP_SIZE + b) - 1)
    return bits


def _set_bits(word: int) -> list[int]:
    out = []
    while word:
        low = word & -word
        out.append(low.bit_length() - 1)
        word ^= low
    return out


def next_array_index(bits: int, start: int, swap_for_y: bool, has_extension: bool) -> int | None:
    """Next bin array index with liquidity from ``start`` (inclusive), downwards when
    ``swap_for_y``, as ``get_bin_array_pubkeys_for_swap`` walks the internal bitmap and the
    extension; None when the walk ends (no liquidity, or the extension is needed but absent)."""
    span = _EXT_SPAN if has_extension else BIN_ARRAY_BITMAP_SIZE
    lo, hi = -span, span - 1
    if not lo <= start <= hi:
        return None
    pos = start + _EXT_SPAN
    low_bound = lo + _EXT_SPAN
    if swap_for_y:
        masked = bits & ((1 << (pos + 1)) - 1)
        masked >>= low_bound
        return None if masked == 0 else masked.bit_length() - 1 + low_bound - _EXT_SPAN
    masked = bits >> pos
    masked &= (1 << (hi + _EXT_SPAN - pos + 1)) - 1
    if masked == 0:
        return None
    return (masked & -masked).bit_length() - 1 + pos - _EXT_SPAN
